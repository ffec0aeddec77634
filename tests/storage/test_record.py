"""record(): each finding once, real updates noticed, one event per happening."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import func, select

from sendwatch.vocab import Kind, Outcome
from storage.models import Event, Finding
from storage.store import EventStatus, FindingData, FindingStatus, Store

BEXLEY = "E09000004"
WIRRAL = "E08000015"

GOVUK_NOTICE = FindingData(
    source="govuk",
    identity="5f1c0a8e-0000-4000-8000-000000000001",
    url="https://www.gov.uk/government/publications/bexley-improvement-notice",
    title="Improvement notice issued to Bexley: March 2024",
    kind=Kind.IMPROVEMENT_NOTICE,
    published_on=dt.date(2024, 3, 12),
    la_code=BEXLEY,
    happened_on=dt.date(2024, 3, 11),
    summary="The London Borough of Bexley has been issued an improvement notice for SEND.",
    fields={"deadline": "2025-03-31"},
)

LGL_ARTICLE = FindingData(
    source="lgl",
    identity="57253",
    url="https://www.localgovernmentlawyer.co.uk/education-law/394-education-news/57253-x",
    title="Council hit with improvement notice following SEND inspection",
    kind=Kind.IMPROVEMENT_NOTICE,
    published_on=dt.date(2024, 3, 15),
    la_code=BEXLEY,
    happened_on=dt.date(2024, 3, 11),
)


def _count(store: Store, model: type[Event] | type[Finding]) -> int:
    with store.sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_same_finding_twice_is_one_row_and_seen(store: Store) -> None:
    first = store.record(GOVUK_NOTICE)
    second = store.record(GOVUK_NOTICE)

    assert (first.finding, first.event) == (FindingStatus.NEW, EventStatus.NEW)
    assert (second.finding, second.event) == (FindingStatus.SEEN, EventStatus.EXISTING)
    assert second.finding_id == first.finding_id and second.event_id == first.event_id
    assert _count(store, Finding) == 1
    assert _count(store, Event) == 1


def test_edited_page_is_updated_and_keeps_its_event(store: Store) -> None:
    first = store.record(GOVUK_NOTICE)
    edited = dataclasses.replace(GOVUK_NOTICE, summary="Amended: deadline extended.")

    result = store.record(edited)

    assert result.finding == FindingStatus.UPDATED
    assert result.event == EventStatus.EXISTING
    assert result.event_id == first.event_id
    assert _count(store, Finding) == 1 and _count(store, Event) == 1
    with store.sessions() as session:
        finding = session.get_one(Finding, first.finding_id)
        event = session.get_one(Event, first.event_id)
        assert finding.summary == "Amended: deadline extended."
        assert finding.content_hash == edited.content_hash()
        assert event.summary == "Amended: deadline extended."
        assert event.updated_at >= event.created_at
    assert store.record(edited).finding == FindingStatus.SEEN


def test_url_change_alone_is_not_an_update(store: Store) -> None:
    store.record(LGL_ARTICLE)
    moved = dataclasses.replace(LGL_ARTICLE, url="https://mail.localgovernmentlawyer.co.uk/x")
    assert store.record(moved).finding == FindingStatus.SEEN


def test_two_sources_about_one_notice_share_one_event(store: Store) -> None:
    official = store.record(GOVUK_NOTICE)
    news = store.record(LGL_ARTICLE)

    assert news.finding == FindingStatus.NEW
    assert news.event == EventStatus.EXISTING
    assert news.event_id == official.event_id
    with store.sessions() as session:
        event = session.get_one(Event, official.event_id)
        assert [f.source for f in event.findings] == ["govuk", "lgl"]
        assert event.title == GOVUK_NOTICE.title  # the first report names the event


@pytest.mark.parametrize(
    "change",
    [
        {"la_code": WIRRAL},
        {"kind": Kind.NOTICE_LIFTED},
        {"happened_on": dt.date(2024, 6, 1), "published_on": dt.date(2024, 6, 2)},
    ],
    ids=["other-la", "other-kind", "months-apart"],
)
def test_different_happenings_get_their_own_events(store: Store, change: dict[str, object]) -> None:
    first = store.record(GOVUK_NOTICE)
    other = dataclasses.replace(LGL_ARTICLE, **change)  # type: ignore[arg-type]

    assert store.record(other).event_id != first.event_id
    assert _count(store, Event) == 2


def test_news_never_merges_into_another_event(store: Store) -> None:
    news = dataclasses.replace(LGL_ARTICLE, kind=Kind.NEWS)
    more_news = dataclasses.replace(news, identity="57254")
    assert store.record(news).event_id != store.record(more_news).event_id


def test_finding_without_la_or_date_gets_its_own_event(store: Store) -> None:
    vague = dataclasses.replace(LGL_ARTICLE, la_code=None)
    first = store.record(vague)
    second = store.record(dataclasses.replace(vague, identity="99999"))
    assert first.event == second.event == EventStatus.NEW
    assert first.event_id != second.event_id


def test_linked_report_fills_in_a_missing_outcome(store: Store) -> None:
    report = FindingData(
        source="lgl",
        identity="60001",
        url="https://www.localgovernmentlawyer.co.uk/a/60001-x",
        title="Ofsted finds widespread failings in Bexley SEND",
        kind=Kind.INSPECTION_REPORT,
        la_code=BEXLEY,
        published_on=dt.date(2024, 2, 26),
    )
    official = dataclasses.replace(
        report,
        source="ofsted",
        identity="file-80488",
        title="Bexley: Area SEND full inspection",
        published_on=dt.date(2024, 2, 23),
        outcome=Outcome.SIGNIFICANT_CONCERNS,
    )
    first = store.record(report)
    second = store.record(official)
    assert second.event_id == first.event_id
    with store.sessions() as session:
        assert session.get_one(Event, first.event_id).outcome == "significant_concerns"


def test_update_that_changes_the_la_moves_a_shared_finding(store: Store) -> None:
    official = store.record(GOVUK_NOTICE)
    news = store.record(LGL_ARTICLE)
    corrected = store.record(dataclasses.replace(LGL_ARTICLE, la_code=WIRRAL))

    assert corrected.finding == FindingStatus.UPDATED
    assert corrected.event == EventStatus.NEW
    assert corrected.finding_id == news.finding_id
    assert corrected.event_id != official.event_id
    with store.sessions() as session:
        assert [f.source for f in session.get_one(Event, official.event_id).findings] == ["govuk"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"identity": " "}, "empty identity"),
        ({"la_code": "E09999999"}, "unknown local authority"),
        ({"kind": "improvment_notice"}, "is not a valid Kind"),
        ({"outcome": "good"}, "is not a valid Outcome"),
        ({"identity": "x" * 256}, "longer than 255"),
    ],
)
def test_bad_findings_are_refused_before_the_store(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(GOVUK_NOTICE, **change)  # type: ignore[arg-type]


def test_source_summaries_count_findings_and_events(store: Store) -> None:
    store.record(GOVUK_NOTICE)
    store.record(LGL_ARTICLE)
    store.record(dataclasses.replace(LGL_ARTICLE, identity="57300", kind=Kind.NEWS))

    summaries = {s.source: (s.findings, s.events) for s in store.source_summaries()}
    assert summaries == {"govuk": (1, 1), "lgl": (2, 2)}


def test_record_many_matches_record(store: Store) -> None:
    findings = [
        dataclasses.replace(GOVUK_NOTICE, identity=f"n{i}", la_code=code)
        for i, code in enumerate((BEXLEY, WIRRAL, BEXLEY))
    ]
    results = store.record_many([*findings, LGL_ARTICLE], chunk=2)
    assert [r.finding for r in results] == ["new"] * 4
    assert [r.event for r in results] == ["new", "new", "existing", "existing"]
    again = store.record_many(findings)
    assert [r.finding for r in again] == ["seen"] * 3
    assert _count(store, Finding) == 4 and _count(store, Event) == 2


def test_the_official_publication_names_the_event_whichever_came_first(store: Store) -> None:
    news = store.record(dataclasses.replace(LGL_ARTICLE, happened_on=dt.date(2024, 3, 14)))
    official = store.record(dataclasses.replace(GOVUK_NOTICE, authoritative=True))
    assert official.event_id == news.event_id
    with store.sessions() as session:
        event = session.get_one(Event, news.event_id)
        assert (event.title, event.happened_on, event.authoritative) == (
            GOVUK_NOTICE.title,
            GOVUK_NOTICE.happened_on,
            True,
        )


def test_a_2016_framework_report_and_ofsted_s_statistics_row_are_one_event(store: Store) -> None:
    """The report PDF is an inspection_report with its verdict; Ofsted's statistics record the
    same inspection as a `wsoa` row: one happening, one event with both sources, whichever
    came first. A 2023-framework report years later stays its own event."""
    hull = "E06000010"
    report = FindingData(
        source="ofsted",
        identity="80462:2018",
        url="https://files.ofsted.gov.uk/v1/file/50012345",
        title="Joint local area SEND inspection in Kingston upon Hull",
        kind=Kind.INSPECTION_REPORT,
        published_on=dt.date(2018, 6, 5),
        la_code=hull,
        happened_on=dt.date(2018, 6, 5),
        outcome=Outcome.WSOA_REQUIRED,
    )
    row = FindingData(
        source="statistics",
        identity=f"{hull}:wsoa:2018-06-05",
        url="https://reports.ofsted.gov.uk/provider/44/80462",
        title="Area SEND inspection of Kingston upon Hull: Written Statement of Action required",
        kind=Kind.WSOA,
        published_on=dt.date(2018, 6, 5),
        la_code=hull,
        happened_on=dt.date(2018, 6, 5),
        outcome=Outcome.WSOA_REQUIRED,
    )
    first = store.record(row)
    second = store.record(report)
    assert second.event == EventStatus.EXISTING and second.event_id == first.event_id
    later = dataclasses.replace(
        report,
        identity="80462:2024",
        published_on=dt.date(2024, 9, 1),
        happened_on=dt.date(2024, 9, 1),
        outcome=Outcome.SIGNIFICANT_CONCERNS,
    )
    assert store.record(later).event_id != first.event_id
    assert _count(store, Event) == 2
