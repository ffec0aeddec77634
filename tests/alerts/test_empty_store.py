"""Every page and endpoint answers on a store with no events (a new install, before its first
crawl has recorded anything), and again with exactly one event of each kind: 200 and a body
that parses (HTML, feedparser for the feeds, icalendar for the calendars, JSON for the API).

A real `sendwatch serve` (tests.paths.served) over a store of the test's own; the home page
asked with each of its filters and sorts, every feed and calendar there is.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import feedparser
import httpx
import icalendar
import pytest

from alerts.chart import NOTHING_THESE_YEARS, NOTHING_YET, events_chart
from alerts.pages import COLUMNS, DUES, STATES
from alerts.signing import sign_text
from sendwatch.vocab import Kind, Outcome
from storage.las import register, slugify
from storage.store import FindingData, Store
from tests.alerts.conftest import Mailbox
from tests.alerts.conftest import mailbox as mailbox
from tests.alerts.test_due import BEXLEY_FIELDS, report
from tests.alerts.test_email_dispatch import BEXLEY, KENT, notice
from tests.alerts.test_ombudsman_alerts import ombudsman_decision
from tests.paths import served

BLACKPOOL = "E06000009"
TODAY = dt.date.today()
COUNCILS = ("bexley", BEXLEY, "kent")


def days_ago(days: int) -> dt.date:
    return TODAY - dt.timedelta(days=days)


def one_event_of_each_kind() -> list[FindingData]:
    """A finding of each kind, none joining another's event: Bexley's case from its report to its
    notice lifted, a direction to Kent, a Written Statement of Action for Blackpool, news
    naming no council, an Ombudsman decision about Kent."""
    on = days_ago
    return [
        report(BEXLEY, on(400), Outcome.SIGNIFICANT_CONCERNS, BEXLEY_FIELDS, "Bexley"),
        notice(BEXLEY, "bexley-notice", happened_on=on(300), published_on=on(300)),
        notice(
            BEXLEY,
            "bexley-monitoring",
            source="ofsted",
            title="Area SEND monitoring inspection of Bexley Local Area Partnership",
            kind=Kind.MONITORING_INSPECTION,
            happened_on=on(200),
            published_on=on(200),
            # A result as a monitoring letter states it: shown beside the inspection it follows.
            outcome=Outcome.PARTIAL_PROGRESS,
            fields={"areas_addressed": 2, "areas_total": 5},
        ),
        notice(
            BEXLEY,
            "bexley-paper",
            source="moderngov",
            title="Cabinet: SEND improvement plan",
            kind=Kind.COUNCIL_PAPER,
            happened_on=on(150),
            published_on=on(150),
            fields={},
        ),
        notice(
            BEXLEY,
            "bexley-lifted",
            title="Improvement notice to Bexley lifted",
            kind=Kind.NOTICE_LIFTED,
            happened_on=on(100),
            published_on=on(100),
            fields={},
        ),
        notice(
            KENT,
            "kent-direction",
            title="Statutory direction issued to Kent County Council",
            kind=Kind.STATUTORY_DIRECTION,
            happened_on=on(50),
            published_on=on(50),
        ),
        notice(
            BLACKPOOL,
            "blackpool-wsoa",
            source="statistics",
            title="Area SEND inspection of Blackpool: Written Statement of Action required",
            kind=Kind.WSOA,
            outcome=Outcome.WSOA_REQUIRED,
            happened_on=on(600),
            published_on=on(600),
            fields={},
        ),
        ombudsman_decision(KENT, "25 009 041", on(70)),
        notice(
            None,  # type: ignore[arg-type]
            "send-news",
            source="lgl",
            title="Councils' SEND deficits grow",
            kind=Kind.NEWS,
            happened_on=on(10),
            published_on=on(10),
            fields={},
        ),
    ]


def home_addresses() -> list[str]:
    """The home page as is, and with each of its filters, searches and sorts."""
    regions = [slugify(name) for name in register().regions()]
    return [
        "/",
        "/?q=bexley",
        "/?q=E09000004",
        "/?q=nowhere",
        *[f"/?region={region}" for region in regions],
        *[f"/?state={state}" for state, _ in STATES],
        *[f"/?due={due}" for due, _ in DUES],
        *[f"/?sort={key}&dir={way}" for key, _, _ in COLUMNS for way in ("asc", "desc")],
        f"/?q=b&region={regions[0]}&state=notice&due=overdue&sort=due&dir=desc",
    ]


def feed_addresses() -> list[str]:
    """Every feed: all, each region's, each kind's, a council's; Atom and RSS alike."""
    regions = [slugify(name) for name in register().regions()]
    paths = [
        "all",
        *[f"region/{region}" for region in regions],
        *[f"kind/{kind}" for kind in Kind],
        *[f"la/{council}" for council in COUNCILS],
    ]
    return [f"/feeds/{path}.{fmt}" for path in paths for fmt in ("atom", "rss")]


def calendar_addresses() -> list[str]:
    regions = [slugify(name) for name in register().regions()]
    return [
        "/calendar/all.ics",
        *[f"/calendar/region/{region}.ics" for region in regions],
        *[f"/calendar/la/{council}.ics" for council in COUNCILS],
    ]


def api_addresses() -> list[str]:
    return [
        "/api/events",
        f"/api/events?la={BEXLEY}",
        "/api/events?kind=notice",
        f"/api/events?since={days_ago(365)}",
        "/api/events?limit=1",
        "/api/las",
        "/api/reconciliation",
    ]


def html_page(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("text/html")
    assert "<html" in response.text and "</html>" in response.text
    return response.text


def feed(response: httpx.Response) -> Any:
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version in {"atom10", "rss20"}
    return parsed


def calendar(response: httpx.Response) -> Any:
    parsed = icalendar.Calendar.from_ical(response.content)
    assert parsed.name == "VCALENDAR"
    return parsed


def every_address() -> list[tuple[str, Callable[[httpx.Response], Any]]]:
    """Each page and endpoint, with what its body must parse as."""
    pages = [
        *home_addresses(),
        *[f"/la/{council}" for council in COUNCILS],
        "/recent",
        "/recent?page=2",
        "/data-quality",
        "/feeds",
    ]
    return [
        *[(path, html_page) for path in pages],
        *[(path, feed) for path in feed_addresses()],
        *[(path, calendar) for path in calendar_addresses()],
        *[(path, lambda response: json.loads(response.content)) for path in api_addresses()],
        ("/healthz", lambda response: response.text),
    ]


def walk(base: str) -> dict[str, Any]:
    """Asks every address; each body parsed, by path. Fails naming every address that did not
    answer 200 with a body that parses, not only the first."""
    parsed: dict[str, Any] = {}
    failures: list[str] = []
    with httpx.Client(base_url=base, timeout=30, follow_redirects=False) as client:
        for path, parse in every_address():
            try:
                response = client.get(path)
            except httpx.TransportError as exc:  # the server broke off: its 500 went wrong too
                failures.append(f"{path}: {exc!r}")
                continue
            try:
                assert response.status_code == 200, f"answered {response.status_code}"
                parsed[path] = parse(response)
            except Exception as exc:
                failures.append(f"{path}: {exc!r} {response.text[:200]!r}")
    assert not failures, "\n".join(failures)
    return parsed


def sign_up(base: str, tmp_path: Path, council: str) -> str:
    """The sign-up form on a council's page, filled in and sent; then the confirmation link's
    page. Returns the message page's text."""
    with httpx.Client(base_url=base, timeout=30) as client:
        page = client.get(f"/la/{council}")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf, "no sign-up form on the council's page"
        answer = client.post(
            "/subscribe", data={"csrf": csrf.group(1), "email": "parent@example.org", "la": BEXLEY}
        )
        assert answer.status_code == 200, answer.text
        # The confirmation link's page, signed with the key the server made in its data directory.
        key = (tmp_path / "data" / "secret.key").read_text().strip().encode()
        request = json.dumps({"a": "parent@example.org", "la": BEXLEY, "t": int(time.time())})
        confirm = client.get(f"/confirm/{sign_text(key, 'signup', request)}")
        assert confirm.status_code == 200, confirm.text
        return html_page(answer) + html_page(confirm)


@pytest.fixture
def server(tmp_path: Path, database_url: str, mailbox: Mailbox) -> Iterator[str]:
    with served(tmp_path, database_url, smtp_port=mailbox.port) as running:
        yield running


def test_every_page_answers_on_an_empty_store(
    server: str, tmp_path: Path, mailbox: Mailbox
) -> None:
    parsed = walk(server)

    home = parsed["/"]
    assert "No events recorded yet" in home  # the chart says so, and so does the line under it
    assert 'class="numbers"' not in home  # no table of nothing
    assert "No events recorded yet" in parsed["/recent"]
    assert "No events recorded for Bexley yet" in parsed["/la/bexley"]
    for path in feed_addresses():
        assert parsed[path].entries == [], path
    for path in calendar_addresses():
        assert not parsed[path].walk("VEVENT"), path
    assert parsed["/api/events"] == {"events": [], "next_cursor": None}
    assert len(parsed["/api/las"]) == len(list(register()))
    assert all(la["last_event_on"] is None for la in parsed["/api/las"])
    assert parsed["/api/reconciliation"]["ready"] is False
    assert parsed["/healthz"] == "ok"
    assert "Check your email" in sign_up(server, tmp_path, "bexley")
    assert len(mailbox.to("parent@example.org")) == 1


def test_every_page_answers_with_one_event_of_each_kind(
    tmp_path: Path, database_url: str, store: Store, mailbox: Mailbox
) -> None:
    for finding in one_event_of_each_kind():
        store.record(finding, alert=False)
    with served(tmp_path, database_url, smtp_port=mailbox.port) as base:
        parsed = walk(base)
        assert "Check your email" in sign_up(base, tmp_path, "bexley")

    events = parsed["/api/events"]["events"]
    assert sorted(event["kind"] for event in events) == sorted(Kind)  # one event of each kind
    home = parsed["/"]
    assert 'class="numbers"' in home and "No events recorded yet" not in home
    assert 'class="legends"' in home  # the bars, drawn by pygal
    for kind in Kind:
        for fmt in ("atom", "rss"):
            assert len(parsed[f"/feeds/kind/{kind}.{fmt}"].entries) == 1, (kind, fmt)
    assert parsed["/calendar/la/bexley.ics"].walk("VEVENT")  # the next inspection due
    bexley = next(la for la in parsed["/api/las"] if la["ons_code"] == BEXLEY)
    assert bexley["notice"]["lifted_on"] == str(days_ago(100))
    assert len(parsed[f"/api/events?la={BEXLEY}"]["events"]) == 5


def test_the_chart_with_nothing_to_draw_says_so(store: Store) -> None:
    # pygal is never asked to draw no series (the locked pygal raises for that).
    empty = events_chart(store)
    assert (empty.rows, empty.kinds, empty.nothing) == ((), (), NOTHING_YET)
    assert f'aria-label="{NOTHING_YET}"' in empty.svg and f">{NOTHING_YET}</text>" in empty.svg

    store.record(notice(KENT, "kent-2019", happened_on=dt.date(2019, 3, 1)), alert=False)
    old = events_chart(store)
    assert (old.rows, old.nothing) == ((), NOTHING_THESE_YEARS)
    assert f">{NOTHING_THESE_YEARS}</text>" in old.svg
    # (A chart with bars is drawn on the served pages above, not here: pygal is kept out of
    # the test process, see alerts.chart.)
