"""What is overdue, and when is what due: a notice past its deadline says so ("deadline passed
31 August 2025") on the pages, in the API, the export and alerts; each council's next area SEND
inspection is dated from its latest report (what the report states, else the framework's
interval), and is `overdue` once that date has passed.

The reports below are the real ones, as the crawler stores them: Bexley (published 23 February
2024, significant concerns: "A monitoring inspection will be carried out within approximately
18 months", "The next full reinspection will be within approximately three years"), Blackpool
(25 July 2024, inconsistent: "three years"), Bedford (4 February 2025, positive: "five years").
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from alerts.export import EventFilter, records_of, select_events, to_csv
from alerts.render import render_email, render_telegram
from alerts.summary import summarise
from sendwatch.vocab import Kind, Outcome
from storage.queries import cases
from storage.store import FindingData, Store
from tests.alerts.test_email_dispatch import BEXLEY, KENT, notice
from tests.alerts.test_export import crawled_env as crawled_env
from tests.alerts.test_export import env as env
from tests.alerts.test_export import export
from tests.paths import served

BLACKPOOL, BEDFORD = "E06000009", "E06000055"
#: What the crawler stores from each real report (crawler.extract: Extraction.fields()).
BEXLEY_FIELDS = {
    "inspection_start": "2023-12-04",
    "inspection_end": "2023-12-08",
    "next_inspection": "three years",
    "monitoring_within": "18 months",
    "next_inspection_within_months": 36,
    "monitoring_within_months": 18,
}
BLACKPOOL_FIELDS = {
    "inspection_start": "2024-05-20",
    "inspection_end": "2024-05-24",
    "next_inspection": "three years",
    "next_inspection_within_months": 36,
}
BEDFORD_FIELDS = {
    "inspection_start": "2024-11-18",
    "inspection_end": "2024-11-22",
    "next_inspection": "five years",
    "next_inspection_within_months": 60,
}


def report(
    la_code: str, on: dt.date, outcome: Outcome, fields: dict[str, Any], name: str
) -> FindingData:
    return notice(
        la_code,
        f"report-{la_code}-{on}",
        source="ofsted",
        url=f"https://files.ofsted.gov.uk/v1/file/{la_code}-{on}",
        title=f"Area SEND inspection of {name} Local Area Partnership",
        kind=Kind.INSPECTION_REPORT,
        happened_on=on,
        published_on=on,
        outcome=outcome,
        fields=fields,
        authoritative=True,
    )


def bexley_notice() -> FindingData:
    """DfE's notice to Bexley of May 2024, to be met by 31 August 2025."""
    return notice(
        BEXLEY,
        "improvement-notice-issued-to-london-borough-of-bexley-may-2024",
        title="Improvement notice issued to London Borough of Bexley: May 2024",
        happened_on=dt.date(2024, 5, 1),
        published_on=dt.date(2024, 5, 1),
        fields={"deadline": "2025-08-31"},
        authoritative=True,
    )


def seed(store: Store) -> None:
    store.record(
        report(BEXLEY, dt.date(2024, 2, 23), Outcome.SIGNIFICANT_CONCERNS, BEXLEY_FIELDS, "Bexley")
    )
    store.record(bexley_notice())
    store.record(
        report(BLACKPOOL, dt.date(2024, 7, 25), Outcome.INCONSISTENT, BLACKPOOL_FIELDS, "Blackpool")
    )
    store.record(
        report(BEDFORD, dt.date(2025, 2, 4), Outcome.POSITIVE, BEDFORD_FIELDS, "Bedford Borough")
    )


def test_the_next_inspection_is_dated_from_what_the_report_says(store: Store) -> None:
    seed(store)
    before = cases(store, today=dt.date(2025, 8, 1))
    bexley = before[BEXLEY]
    assert bexley.monitoring_due == dt.date(2025, 8, 23)  # 18 months after publication
    assert bexley.full_inspection_due == dt.date(2027, 2, 23)  # three years
    assert (bexley.next_inspection_due, bexley.next_inspection_kind) == (
        dt.date(2025, 8, 23),
        "monitoring",
    )
    assert not bexley.overdue and not bexley.deadline_passed
    assert before[BLACKPOOL].next_inspection_due == dt.date(2027, 7, 25)
    assert before[BEDFORD].next_inspection_due == dt.date(2030, 2, 4)
    assert before[BEDFORD].next_inspection_kind == "full"

    after = cases(store, today=dt.date(2025, 9, 1))
    assert after[BEXLEY].overdue and after[BEXLEY].deadline_passed
    assert not after[BLACKPOOL].overdue and not after[BEDFORD].overdue
    # The deadline's own day has not passed yet.
    assert not cases(store, today=dt.date(2025, 8, 31))[BEXLEY].deadline_passed


def test_a_monitoring_inspection_since_leaves_the_full_one_due(store: Store) -> None:
    seed(store)
    store.record(
        notice(
            BEXLEY,
            "bexley-monitoring",
            source="ofsted",
            title="Area SEND monitoring inspection of Bexley Local Area Partnership",
            kind=Kind.MONITORING_INSPECTION,
            happened_on=dt.date(2025, 7, 10),
            published_on=dt.date(2025, 7, 10),
            fields={},
        )
    )
    bexley = cases(store, [BEXLEY], today=dt.date(2025, 9, 1))[BEXLEY]
    assert bexley.monitoring_on == dt.date(2025, 7, 10) and bexley.monitoring_due is None
    assert (bexley.next_inspection_due, bexley.next_inspection_kind) == (
        dt.date(2027, 2, 23),
        "full",
    )
    assert not bexley.overdue


def test_framework_defaults_when_the_report_states_none(store: Store) -> None:
    """A report whose wording was not read (a news article, an older stored finding) falls
    back to the framework: positive 5 years, inconsistent 3, significant concerns a
    monitoring inspection at 18 months and a full one at 3 years; a 2016-2022 outcome waits
    for the 2023 framework's first five-year cycle to end."""
    on = dt.date(2024, 2, 23)
    store.record(report(BEXLEY, on, Outcome.SIGNIFICANT_CONCERNS, {}, "Bexley"))
    store.record(report(BLACKPOOL, on, Outcome.INCONSISTENT, {}, "Blackpool"))
    store.record(report(BEDFORD, on, Outcome.POSITIVE, {}, "Bedford Borough"))
    store.record(report(KENT, dt.date(2019, 3, 1), Outcome.WSOA_REQUIRED, {}, "Kent"))
    states = cases(store, today=dt.date(2025, 1, 1))
    assert (states[BEXLEY].monitoring_due, states[BEXLEY].full_inspection_due) == (
        dt.date(2025, 8, 23),
        dt.date(2027, 2, 23),
    )
    assert states[BLACKPOOL].full_inspection_due == dt.date(2027, 2, 23)
    assert states[BLACKPOOL].monitoring_due is None
    assert states[BEDFORD].full_inspection_due == dt.date(2029, 2, 23)
    assert states[KENT].next_inspection_due == dt.date(2027, 12, 31)


def test_a_positive_report_saying_three_years_is_taken_at_its_word(store: Store) -> None:
    """Earlier positive reports gave three years, not five: the report's own words win."""
    fields = {"next_inspection": "three years", "next_inspection_within_months": 36}
    store.record(report(BEDFORD, dt.date(2024, 2, 23), Outcome.POSITIVE, fields, "Bedford Borough"))
    assert cases(store)[BEDFORD].full_inspection_due == dt.date(2027, 2, 23)


def test_records_csv_and_alerts_say_the_deadline_passed(store: Store) -> None:
    seed(store)
    events = select_events(store, EventFilter())
    records = {
        r["kind"] + ":" + r["local_authority"]["name"]: r
        for r in records_of(store, events, today=dt.date(2025, 9, 1))
    }
    notice_record = records["improvement_notice:Bexley"]
    assert notice_record["deadline"] == "2025-08-31" and notice_record["deadline_passed"] is True
    assert notice_record["next_inspection_due"] is None and notice_record["overdue"] is False
    inspection = records["inspection_report:Bexley"]
    assert inspection["deadline_passed"] is False
    assert (inspection["next_inspection_due"], inspection["overdue"]) == ("2025-08-23", True)
    assert records["inspection_report:Bedford"]["next_inspection_due"] == "2030-02-04"
    assert records["inspection_report:Bedford"]["overdue"] is False

    earlier = records_of(store, events, today=dt.date(2025, 8, 1))
    assert not any(r["deadline_passed"] or r["overdue"] for r in earlier)

    rows = {
        (row["kind"], row["la_name"]): row
        for row in csv.DictReader(io.StringIO(to_csv(list(records.values()))))
    }
    assert rows[("improvement_notice", "Bexley")]["deadline_passed"] == "true"
    assert rows[("inspection_report", "Bexley")]["next_inspection_due"] == "2025-08-23"
    assert rows[("inspection_report", "Bexley")]["overdue"] == "true"
    assert rows[("inspection_report", "Blackpool")]["overdue"] == "false"

    event = next(e for e in events if e.kind == Kind.IMPROVEMENT_NOTICE)
    passed = summarise(event, today=dt.date(2025, 9, 1))
    assert passed.deadline_passed
    email = render_email(passed, "https://sendwatch.example/unsubscribe/x")
    assert "Deadline: passed 31 August 2025" in email.text
    assert "<strong>passed 31 August 2025</strong>" in email.html
    running = summarise(event, today=dt.date(2025, 8, 1))
    assert not running.deadline_passed
    assert "Deadline: 31 August 2025" in render_email(running, "https://x.example/u").text
    assert "Deadline: passed" in render_telegram(passed)
    assert "Deadline: 31 August 2025" in render_telegram(running)


def test_an_older_report_is_never_overdue(store: Store) -> None:
    """Only the council's latest report can be overdue: an older one was followed."""
    store.record(report(BEXLEY, dt.date(2018, 3, 1), Outcome.WSOA_REQUIRED, {}, "Bexley"))
    seed(store)
    records = records_of(
        store, select_events(store, EventFilter(la_code=BEXLEY)), today=dt.date(2028, 6, 1)
    )
    old = next(r for r in records if r["outcome"] == "wsoa_required")
    assert (old["next_inspection_due"], old["overdue"]) == ("2027-12-31", False)
    latest = next(r for r in records if r["outcome"] == "significant_concerns")
    assert latest["overdue"] is True


# -- the pages and the API, served (dates judged by the real today: all of these have passed) --


@pytest.fixture
def server(tmp_path: Path, database_url: str, store: Store) -> Iterator[str]:
    seed(store)
    with served(tmp_path, database_url) as running:
        yield running


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _councils(html: str) -> list[str]:
    """The councils in the home page's table, in order."""
    return re.findall(r'<td><a href="/la/[^"]+">([^<]+)</a></td>', html)


def test_home_page_filters_and_sorts_by_what_is_due(server: str) -> None:
    home = httpx.get(f"{server}/").text
    assert "deadline passed 31 August 2025" in _text(home)

    overdue = httpx.get(f"{server}/", params={"due": "overdue"}).text
    assert _councils(overdue) == ["Bexley"]  # its monitoring inspection was due in August 2025
    assert '<span class="badge notice">overdue</span>' in overdue
    passed = httpx.get(f"{server}/", params={"due": "deadline_passed"}).text
    assert _councils(passed) == ["Bexley"]

    by_due = _councils(httpx.get(f"{server}/", params={"sort": "due"}).text)
    assert by_due[:3] == ["Bexley", "Blackpool", "Bedford"]  # 2025, 2027, 2030; then the rest
    assert len(by_due) == 153
    backwards = _councils(httpx.get(f"{server}/", params={"sort": "due", "dir": "desc"}).text)
    assert backwards.index("Bedford") < backwards.index("Blackpool") < backwards.index("Bexley")
    # A bad value is ignored, as the other filters' are.
    assert len(_councils(httpx.get(f"{server}/", params={"due": "soonish"}).text)) == 153


def test_council_page_says_what_is_due(server: str) -> None:
    page = _text(httpx.get(f"{server}/la/bexley").text)
    assert "deadline passed 31 August 2025" in page
    assert "a monitoring inspection due by 23 August 2025 (overdue)" in page
    assert "then a full inspection by 23 February 2027" in page
    html = httpx.get(f"{server}/la/bexley").text
    assert 'href="/calendar/la/bexley.ics"' in html
    bedford = _text(httpx.get(f"{server}/la/bedford").text)
    assert "a full inspection due by 4 February 2030" in bedford
    assert "overdue" not in bedford


def test_api_las_carries_what_is_due(server: str) -> None:
    las = {la["ons_code"]: la for la in httpx.get(f"{server}/api/las").json()}
    bexley = las[BEXLEY]
    assert bexley["notice"]["deadline"] == "2025-08-31"
    assert bexley["notice"]["deadline_passed"] is True
    assert (bexley["next_inspection_due"], bexley["next_inspection_kind"]) == (
        "2025-08-23",
        "monitoring",
    )
    assert bexley["overdue"] is True
    assert (las[BEDFORD]["next_inspection_due"], las[BEDFORD]["overdue"]) == ("2030-02-04", False)
    assert las[KENT]["next_inspection_due"] is None and las[KENT]["overdue"] is False

    events = httpx.get(f"{server}/api/events").json()["events"]
    notice_record = next(e for e in events if e["kind"] == "improvement_notice")
    assert notice_record["deadline_passed"] is True


def test_crawled_real_report_dates_the_next_inspection(tmp_path: Path, env: dict[str, str]) -> None:
    """The whole path: the real Bexley report crawled from the fixture site, exported."""
    result = export(env, tmp_path, "--la", "Bexley", "--kind", "inspection_report")
    assert result.returncode == 0, result.stderr
    (inspection,) = json.loads(result.stdout)
    assert inspection["outcome"] == "significant_concerns"
    assert inspection["next_inspection_due"] == "2025-08-23"  # 18 months after 23 February 2024
