"""`/api/events` is in the order `/recent` shows: newest happened first, id breaking ties, and
its cursor pages through that order (keyset on (day, id)) without repeating or skipping."""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sendwatch.vocab import Kind
from storage.store import Store
from tests.alerts.test_email_dispatch import BEXLEY, KENT, WIRRAL, notice
from tests.paths import served

#: Recorded in this order (so ids rise down the list), dated out of that order, with ties.
DATED = [
    (BEXLEY, "b-2023", dt.date(2023, 5, 1)),
    (KENT, "k-2025", dt.date(2025, 1, 10)),
    (WIRRAL, "w-2024a", dt.date(2024, 2, 23)),
    (BEXLEY, "b-2024a", dt.date(2024, 2, 23)),
    (KENT, "k-2022", dt.date(2022, 7, 4)),
    (WIRRAL, "w-2024b", dt.date(2024, 2, 23)),
    (BEXLEY, "b-undated", None),  # ordered by the day sendwatch first saw it: today
    (KENT, "k-2024", dt.date(2024, 11, 30)),
]


@pytest.fixture
def server(tmp_path: Path, database_url: str, store: Store) -> Iterator[str]:
    for la_code, identity, day in DATED:
        store.record(
            notice(
                la_code,
                identity,
                kind=Kind.NEWS,
                title=f"News item {identity}",
                happened_on=day,
                published_on=None,
            )
        )
    with served(tmp_path, database_url) as running:
        yield running


def _walk(server: str, limit: int, **params: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = params | {"limit": str(limit)} | ({"cursor": cursor} if cursor else {})
        page = httpx.get(f"{server}/api/events", params=query).json()
        events += page["events"]
        cursor = page["next_cursor"]
        if cursor is None:
            return events


def _key(event: dict[str, Any]) -> tuple[str, int]:
    return (event["happened_on"] or event["first_seen_at"][:10], event["id"])


def test_events_are_newest_happened_first_with_id_breaking_ties(server: str) -> None:
    everything = httpx.get(f"{server}/api/events").json()["events"]
    assert len(everything) == len(DATED)
    assert [_key(e) for e in everything] == sorted(map(_key, everything), reverse=True)
    assert [e["happened_on"] for e in everything][1:] == [
        "2025-01-10",
        "2024-11-30",
        "2024-02-23",
        "2024-02-23",
        "2024-02-23",
        "2023-05-01",
        "2022-07-04",
    ]
    # Not the order they were recorded in.
    assert [e["id"] for e in everything] != sorted((e["id"] for e in everything), reverse=True)


@pytest.mark.parametrize("limit", [1, 2, 3, 7])
def test_the_cursor_pages_through_that_order_once(server: str, limit: int) -> None:
    whole = httpx.get(f"{server}/api/events").json()["events"]
    assert [e["id"] for e in _walk(server, limit)] == [e["id"] for e in whole]


def test_paging_within_a_filter(server: str) -> None:
    bexley = _walk(server, 1, la="bexley")
    assert [e["happened_on"] for e in bexley][1:] == ["2024-02-23", "2023-05-01"]
    assert {e["local_authority"]["name"] for e in bexley} == {"Bexley"}


def test_the_api_and_recent_agree(server: str) -> None:
    api = [e["title"] for e in httpx.get(f"{server}/api/events").json()["events"]]
    recent = httpx.get(f"{server}/recent").text
    assert re.findall(r"<p>(News item [\w-]+)</p>", recent) == api


def test_old_and_forged_cursors_are_400(server: str) -> None:
    for text in ("before:12", "before:2024-02-30:5", "before:2024-02-23:x", "after:2024-02-23:5"):
        cursor = base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")
        answer = httpx.get(f"{server}/api/events", params={"cursor": cursor})
        assert answer.status_code == 400, text
        assert answer.json()["parameter"] == "cursor"
