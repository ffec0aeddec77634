"""Reconciliation: Ofsted's statistics against the reports crawled, as the maintainer, the API,
the data-quality page and the council's page show it; and the statistics' baseline rule."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from alerts.dispatch import Dispatcher, DispatchReport
from crawler.spiders.statistics import StatisticsSpider
from sendwatch.config import Settings
from sendwatch.vocab import Kind, Outcome
from storage import outbox
from storage.models import Event
from storage.reconcile import alarm_source, raise_alarms, reconcile
from storage.store import FindingData, RunReport, Store

BEXLEY, BRISTOL, WIRRAL = "E09000004", "E06000023", "E08000015"
RELEASE = "https://www.gov.uk/government/statistical-data-sets/area-send-management-information"


def statistics(
    la: str, on: dt.date, outcome: Outcome | None, kind: Kind = Kind.INSPECTION_REPORT
) -> FindingData:
    return FindingData(
        source="statistics",
        identity=f"{la}/{kind}/{on}",
        url=RELEASE,
        title=f"Area SEND inspection of {la}",
        kind=kind,
        la_code=la,
        published_on=on,
        happened_on=on,
        outcome=outcome,
    )


def report(
    la: str, on: dt.date, outcome: Outcome | None, kind: Kind = Kind.INSPECTION_REPORT
) -> FindingData:
    return FindingData(
        source="ofsted",
        identity=f"file-{la}-{on}",
        url=f"https://files.ofsted.gov.uk/v1/file/{la}-{on}",
        title=f"{la}: Area SEND full inspection",
        kind=kind,
        la_code=la,
        published_on=on,
        happened_on=on,
        outcome=outcome,
        authoritative=True,
    )


def crawled(store: Store) -> None:
    for source in ("statistics", "ofsted"):
        store.record_run(RunReport(source, "ok", 10), 3)


@pytest.fixture
def seeded(store: Store) -> Store:
    # Agree (published five days apart): nothing to say.
    store.record(statistics(BEXLEY, dt.date(2024, 2, 23), Outcome.SIGNIFICANT_CONCERNS))
    store.record(report(BEXLEY, dt.date(2024, 2, 28), Outcome.SIGNIFICANT_CONCERNS))
    # Only in Ofsted's statistics.
    store.record(statistics(BRISTOL, dt.date(2024, 5, 17), Outcome.SIGNIFICANT_CONCERNS))
    # Both, disagreeing; the 2016-2022 letter is an inspection_report with a WSOA outcome.
    store.record(statistics(WIRRAL, dt.date(2021, 12, 14), Outcome.NO_WSOA, Kind.WSOA))
    store.record(report(WIRRAL, dt.date(2021, 12, 14), Outcome.WSOA_REQUIRED))
    crawled(store)
    return store


def test_nothing_is_compared_until_both_sources_were_crawled(store: Store) -> None:
    store.record(statistics(BRISTOL, dt.date(2024, 5, 17), Outcome.POSITIVE))
    result = reconcile(store)
    assert not result.ready and result.discrepancies == ()
    assert raise_alarms(store) == []


def test_why_nothing_is_compared_is_said_once_in_plain_words(tmp_path: Path, store: Store) -> None:
    """The sources by their labels, the reason once: in the result, the API (`reason`) and the
    data-quality page (as a sentence)."""
    from tests.paths import served

    assert reconcile(store).reason == (
        "nothing to compare yet: Ofsted's area SEND statistics and Ofsted reports"
        " have not been read in full yet"
    )
    store.record_run(RunReport("statistics", "ok", 10), 3)
    reason = "nothing to compare yet: Ofsted reports have not been read in full yet"
    assert reconcile(store).reason == reason
    url = store.engine.url.render_as_string(hide_password=False)
    with served(tmp_path, url) as base:
        body = httpx.get(f"{base}/api/reconciliation").json()
        assert (body["ready"], body["reason"], body["count"]) == (False, reason, 0)
        page = httpx.get(f"{base}/data-quality").text
    assert "<p>Nothing to compare yet: Ofsted reports have not been read in full yet.</p>" in page
    assert page.lower().count("nothing to compare yet") == 1


def test_missing_reports_and_disagreeing_outcomes(seeded: Store) -> None:
    result = reconcile(seeded)
    assert result.ready and result.compared == 3
    assert [(d.kind, d.la_code, str(d.published_on)) for d in result.discrepancies] == [
        ("missing", BRISTOL, "2024-05-17"),
        ("outcome", WIRRAL, "2021-12-14"),
    ]
    wirral = result.discrepancies[1]
    assert wirral.says() == (
        "Ofsted's statistics: wsoa published 2021-12-14, no_wsoa; Ofsted's reports site:"
        " inspection report published 2021-12-14, wsoa_required"
    )
    assert wirral.line().endswith(
        f"<{RELEASE} https://files.ofsted.gov.uk/v1/file/{WIRRAL}-2021-12-14>"
    )


@pytest.mark.parametrize(
    ("days_apart", "one_event"),
    [(0, True), (15, True), (30, True), (31, True), (32, False), (45, False)],
)
def test_one_event_and_no_discrepancy_or_two_events_and_a_discrepancy(
    store: Store, days_apart: int, one_event: bool
) -> None:
    """The store and reconciliation share one window for "the same happening": a statistics
    row and a report of one inspection are one event on every page exactly when they are no
    discrepancy, never one event and a "missing" alarm at once."""
    published = dt.date(2024, 2, 1)
    first = store.record(statistics(BEXLEY, published, Outcome.SIGNIFICANT_CONCERNS))
    second = store.record(
        report(BEXLEY, published + dt.timedelta(days=days_apart), Outcome.SIGNIFICANT_CONCERNS)
    )
    crawled(store)
    discrepancies = [d.kind for d in reconcile(store).discrepancies]
    assert (first.event_id == second.event_id) is one_event
    assert discrepancies == ([] if one_event else ["missing"])


def test_one_alarm_per_new_discrepancy_resolved_when_it_is_gone(seeded: Store) -> None:
    opened = raise_alarms(seeded)
    assert sorted((a.source, a.kind) for a in opened) == [
        (f"reconcile:{BRISTOL}:2024-05-17", "missing"),
        (f"reconcile:{WIRRAL}:2021-12-14", "outcome"),
    ]
    assert opened[0].message.startswith("reconcile: Bristol (E06000023) 2024-05-17: missing")
    assert raise_alarms(seeded) == []  # told once
    # The crawl finds Bristol's report: its alarm is resolved (and the recovery told).
    seeded.record(report(BRISTOL, dt.date(2024, 5, 20), Outcome.SIGNIFICANT_CONCERNS))
    assert raise_alarms(seeded) == []
    assert [a.source for a in seeded.open_alarms()] == [f"reconcile:{WIRRAL}:2021-12-14"]
    assert all(len(alarm_source(d)) <= 32 for d in reconcile(seeded).discrepancies)


def test_the_api_and_the_data_quality_page(tmp_path: Path, seeded: Store) -> None:
    from tests.paths import served

    url = seeded.engine.url.render_as_string(hide_password=False)
    with served(tmp_path, url) as base:
        client = httpx.Client(base_url=base, timeout=30, follow_redirects=True)
        _check_api_and_pages(client)


def _check_api_and_pages(client: httpx.Client) -> None:
    body = client.get("/api/reconciliation").json()
    assert (body["ready"], body["count"], body["compared"]) == (True, 2, 3)
    bristol = body["discrepancies"][0]
    assert bristol["kind"] == "missing" and bristol["ofsted"] is None
    assert bristol["local_authority"] == {"name": "Bristol", "ons_code": BRISTOL}
    assert bristol["statistics"]["outcome"] == "significant_concerns"
    assert bristol["statistics"]["url"] == RELEASE

    page = client.get("/data-quality")
    assert page.status_code == 200
    assert "2 discrepancies among 3 reports" in page.text
    assert '<a href="/la/E06000023">Bristol</a>' in page.text
    assert "Report not found by the crawl" in page.text and "Outcomes disagree" in page.text
    assert '<a href="/data-quality">Data quality</a>' in client.get("/").text  # in the nav

    # The report only Ofsted's statistics know is on Bristol's page, with its outcome.
    council = client.get("/la/bristol").text
    assert "Widespread and/or systemic failings leading to significant concerns" in council
    assert "Sources: <a" in council and "Ofsted&#39;s area SEND statistics" in council


def test_a_first_release_alerts_only_rows_within_max_age(tmp_path: Path, store: Store) -> None:
    # A first crawl is a baseline for other sources; the statistics' rows are dated instead.
    assert StatisticsSpider(base_url="https://www.gov.uk", baseline=True).baseline is False
    outbox.subscribe(store, "email", "parent@example.org")
    recent = dt.date.today() - dt.timedelta(days=3)
    store.record(statistics(BRISTOL, recent, Outcome.SIGNIFICANT_CONCERNS), alert=True)
    store.record(statistics(BEXLEY, dt.date(2019, 5, 2), Outcome.SIGNIFICANT_CONCERNS), alert=True)
    settings = Settings(data_dir=tmp_path / "data")
    report_ = DispatchReport()
    Dispatcher(settings, store, {}).fan_out(report_)
    assert report_.queued == 1
    with store.sessions() as session:
        states = dict(session.execute(select(Event.la_code, Event.alert_state)).all())
    assert states == {BRISTOL: "alerted", BEXLEY: "baseline"}
