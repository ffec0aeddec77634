"""iCalendar feeds of what is due, served by `sendwatch serve` and read back with `icalendar`:
one all-day event per notice deadline, expected monitoring inspection and full inspection due,
each with a UID that stays the same across requests and server restarts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from icalendar import Calendar

from storage.store import Store
from tests.alerts.test_due import BEDFORD, seed
from tests.alerts.test_email_dispatch import BEXLEY
from tests.paths import served


@pytest.fixture
def seeded(store: Store) -> Store:
    seed(store)
    return store


@pytest.fixture
def server(tmp_path: Path, database_url: str, seeded: Store) -> Iterator[str]:
    with served(tmp_path, database_url) as running:
        yield running


def _parse(response: httpx.Response) -> Calendar:
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert b"\r\n" in response.content  # RFC 5545 lines
    return Calendar.from_ical(response.content)


def _events(calendar: Calendar) -> dict[str, dict[str, Any]]:
    """Each VEVENT by UID: its start (a date: an all-day event), end and texts."""
    return {
        str(event["UID"]): {
            "start": event.decoded("DTSTART"),
            "end": event.decoded("DTEND"),
            "summary": str(event["SUMMARY"]),
            "description": str(event["DESCRIPTION"]),
            "stamp": event.decoded("DTSTAMP"),
            "value": event["DTSTART"].params.get("VALUE"),
        }
        for event in calendar.walk("VEVENT")
    }


def test_a_council_s_calendar_parses_back_with_its_dates(server: str) -> None:
    response = httpx.get(f"{server}/calendar/la/bexley.ics")
    calendar = _parse(response)
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["PRODID"]).startswith("-//sendwatch//")
    assert str(calendar["CALSCALE"]) == "GREGORIAN"
    assert "Bexley" in str(calendar["X-WR-CALNAME"])
    events = _events(calendar)
    by_start = {entry["start"]: entry for entry in events.values()}
    assert sorted(by_start) == [
        dt.date(2025, 8, 23),  # the monitoring inspection, 18 months after the report
        dt.date(2025, 8, 31),  # the notice's deadline
        dt.date(2027, 2, 23),  # the full reinspection, three years after
    ]
    for entry in events.values():
        assert type(entry["start"]) is dt.date and entry["value"] == "DATE"
        assert entry["end"] == entry["start"] + dt.timedelta(days=1)
        assert f"{server}/la/bexley" in str(entry["description"])
        assert isinstance(entry["stamp"], dt.datetime) and entry["stamp"].tzinfo is not None
    assert "improvement notice deadline" in str(by_start[dt.date(2025, 8, 31)]["summary"])
    assert "monitoring inspection" in str(by_start[dt.date(2025, 8, 23)]["summary"])
    assert "full area SEND inspection" in str(by_start[dt.date(2027, 2, 23)]["summary"])
    for uid in events:
        assert uid.startswith(f"{BEXLEY}-") and uid.endswith("@127.0.0.1")

    # By ONS code too; the same bytes again, and 304 to a client that has them.
    again = httpx.get(f"{server}/calendar/la/{BEXLEY}.ics")
    assert again.content == response.content
    cached = httpx.get(
        f"{server}/calendar/la/bexley.ics", headers={"If-None-Match": response.headers["etag"]}
    )
    assert cached.status_code == 304


def test_region_and_national_calendars(server: str) -> None:
    london = _events(_parse(httpx.get(f"{server}/calendar/region/london.ics")))
    assert london and all(uid.startswith(f"{BEXLEY}-") for uid in london)
    everything = _events(_parse(httpx.get(f"{server}/calendar/all.ics")))
    councils = {uid.split("-", 1)[0] for uid in everything}
    assert {BEXLEY, BEDFORD} <= councils and len(councils) == 3  # Blackpool too
    assert set(london) <= set(everything)  # one council's entry is one UID everywhere
    east = _events(_parse(httpx.get(f"{server}/calendar/region/east-of-england.ics")))
    assert {entry["start"] for entry in east.values()} == {dt.date(2030, 2, 4)}

    for missing in ("la/atlantis", "region/narnia", "kind/improvement_notice"):
        assert httpx.get(f"{server}/calendar/{missing}.ics").status_code == 404


def test_uids_are_the_same_after_a_restart(
    tmp_path: Path, database_url: str, seeded: Store
) -> None:
    def uids() -> set[str]:
        with served(tmp_path, database_url) as running:
            response = httpx.get(f"{running}/calendar/all.ics")
            return set(_events(_parse(response)))

    first, second = uids(), uids()
    assert first == second and len(first) == 5


def test_a_calendar_downloads_under_its_own_name(server: str) -> None:
    for path, name in {
        "la/bexley": "bexley.ics",
        f"la/{BEXLEY}": "bexley.ics",  # by ONS code, the council's own name all the same
        "region/london": "london.ics",
        "region/east-of-england": "east-of-england.ics",
        "all": "england.ics",
    }.items():
        answer = httpx.get(f"{server}/calendar/{path}.ics")
        assert answer.status_code == 200, path
        assert answer.headers["content-disposition"] == f'attachment; filename="{name}"', path
