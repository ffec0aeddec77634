"""The case module's rules, on plain events: what is in force, the deadline, the latest
inspection, what is due, and the threads. (Every surface showing the same is
tests/alerts/test_one_answer.py.)"""

from __future__ import annotations

import datetime as dt
from itertools import count

import pytest

from sendwatch.case import (
    FULL,
    MONITORING,
    CaseEvent,
    EventFacts,
    case_of,
    deadline_of,
    lone_facts,
    merge_fields,
)

TODAY = dt.date(2026, 6, 1)
_ids = count(1)


def event(kind: str, on: str, outcome: str | None = None, **fields: object) -> CaseEvent:
    return CaseEvent(next(_ids), kind, dt.date.fromisoformat(on), outcome, kind, fields)


def test_a_direction_revoked_and_replaced_on_one_day_leaves_the_notice_in_force() -> None:
    direction = event("statutory_direction", "2023-05-18")
    revoked = event("notice_lifted", "2024-02-01")
    notice = event("improvement_notice", "2024-02-01")
    # Recorded in any order: the day decides, and on one day the lifting comes first.
    state = case_of([notice, revoked, direction], TODAY)
    assert state.notice_in_force
    assert state.notice is not None
    assert (state.notice.kind, state.notice.issued_on) == ("improvement_notice", notice.day)
    assert state.facts(direction.id).lifted_on == dt.date(2024, 2, 1)
    assert state.facts(direction.id).in_force is False
    assert state.facts(notice.id).in_force is True
    # The lifting lifted a direction: never called a notice.
    assert state.facts(revoked.id).lifts == "statutory_direction"


def test_a_notice_lifted_is_no_longer_in_force_and_keeps_its_kind() -> None:
    notice = event("improvement_notice", "2023-10-02", deadline="2025-03-31")
    lifted = event("notice_lifted", "2025-09-30", deadline="2025-03-31")
    state = case_of([notice, lifted], TODAY)
    assert not state.notice_in_force
    assert state.notice is not None and state.notice.lifted_on == dt.date(2025, 9, 30)
    assert state.facts(lifted.id).lifts == "improvement_notice"
    # A lifting's text quoting the old deadline sets none.
    assert state.facts(lifted.id).deadline is None


def test_a_second_notice_replaces_the_first() -> None:
    first = event("improvement_notice", "2023-01-10", deadline="2024-01-31")
    second = event("improvement_notice", "2025-11-03", deadline="2026-11-30")
    state = case_of([first, second], TODAY)
    assert state.notice is not None and state.notice.event_id == second.id
    assert state.notice.deadline == dt.date(2026, 11, 30) and not state.deadline_passed
    assert state.facts(first.id) == EventFacts(
        deadline=dt.date(2024, 1, 31),
        deadline_passed=True,
        thread=state.facts(first.id).thread,
        in_force=False,
    )


def test_news_of_a_lifting_with_no_notice_recorded_says_when() -> None:
    lifted = event("notice_lifted", "2025-04-01")
    state = case_of([lifted], TODAY)
    assert state.notice is not None
    assert (state.notice.kind, state.notice.lifted_on, state.notice_in_force) == (
        None,
        dt.date(2025, 4, 1),
        False,
    )


@pytest.mark.parametrize(
    ("deadline", "today", "passed"),
    [("2026-05-31", TODAY, True), ("2026-06-01", TODAY, False), ("not a date", TODAY, False)],
)
def test_a_deadline_has_passed_the_day_after(deadline: str, today: dt.date, passed: bool) -> None:
    notice = event("improvement_notice", "2025-01-01", deadline=deadline)
    assert case_of([notice], today).deadline_passed is passed


def test_only_an_issue_has_a_deadline() -> None:
    assert deadline_of("improvement_notice", {"deadline": "2025-08-31"}) == dt.date(2025, 8, 31)
    assert deadline_of("statutory_direction", {"deadline": "2025-08-31"}) is not None
    assert deadline_of("notice_lifted", {"deadline": "2025-08-31"}) is None
    assert deadline_of("improvement_notice", {"deadline": "31/08/2025"}) is None


def test_the_next_inspection_after_the_worst_outcome_is_the_monitoring_one() -> None:
    report = event(
        "inspection_report",
        "2024-02-23",
        "significant_concerns",
        next_inspection_within_months=36,
        monitoring_within_months=18,
    )
    state = case_of([report], TODAY)
    assert (state.next_inspection_due, state.next_inspection_kind) == (
        dt.date(2025, 8, 23),
        MONITORING,
    )
    assert state.overdue
    assert (
        state.facts(report.id).overdue and state.facts(report.id).next_inspection_kind == MONITORING
    )
    visited = event("monitoring_inspection", "2025-07-10")
    after = case_of([report, visited], TODAY)
    assert (after.next_inspection_due, after.next_inspection_kind, after.overdue) == (
        dt.date(2027, 2, 23),
        FULL,
        False,
    )


def test_a_2016_2022_outcome_waits_for_the_first_cycle_to_end() -> None:
    wsoa = event("wsoa", "2019-05-10", "wsoa_required")  # as Ofsted's statistics record it
    state = case_of([wsoa], TODAY)
    assert state.inspection is not None and state.inspection.outcome == "wsoa_required"
    assert state.next_inspection_due == dt.date(2027, 12, 31) and not state.overdue
    assert case_of([wsoa], dt.date(2028, 1, 1)).overdue


def test_news_of_an_inspection_without_an_outcome_is_not_the_inspection() -> None:
    report = event("inspection_report", "2024-02-23", "inconsistent")
    news = event("inspection_report", "2025-01-10")
    state = case_of([report, news], TODAY)
    assert state.inspection is not None and state.inspection.event_id == report.id
    assert state.facts(news.id).thread is not None
    assert state.facts(news.id).thread.id == report.id  # type: ignore[union-attr]


def test_an_older_report_is_never_overdue() -> None:
    old = event("inspection_report", "2018-03-01", "wsoa_required")
    new = event("inspection_report", "2024-02-23", "inconsistent")
    state = case_of([old, new], dt.date(2028, 6, 1))
    assert state.facts(old.id).next_inspection_due == dt.date(2027, 12, 31)
    assert not state.facts(old.id).overdue


def test_threads_papers_join_the_inspection_published_within_sixty_days_after_them() -> None:
    report = event("inspection_report", "2024-02-23", "significant_concerns")
    feedback = event("council_paper", "2024-01-20")  # 34 days before publication
    early = event("council_paper", "2023-11-01")  # too early: no case yet
    notice = event("improvement_notice", "2023-05-01")
    paper_on_notice = event("council_paper", "2023-06-01")
    state = case_of([report, feedback, early, notice, paper_on_notice], TODAY)
    heads = {
        e.id: (t.id if (t := state.facts(e.id).thread) else None)
        for e in (report, feedback, early, paper_on_notice, notice)
    }
    assert heads[report.id] == report.id
    assert heads[feedback.id] == report.id
    assert heads[early.id] == notice.id  # failing an inspection, the notice before it
    assert heads[paper_on_notice.id] == notice.id
    assert heads[notice.id] == notice.id


def test_an_event_naming_no_council_has_its_own_deadline_and_no_thread() -> None:
    notice = event("improvement_notice", "2025-01-01", deadline="2025-12-31")
    assert lone_facts(notice, TODAY) == EventFacts(
        deadline=dt.date(2025, 12, 31), deadline_passed=True
    )


def test_the_first_finding_to_state_a_field_wins() -> None:
    assert merge_fields([{"deadline": "2025-08-31"}, {"deadline": "2026-01-01", "x": 1}, None]) == {
        "deadline": "2025-08-31",
        "x": 1,
    }


def test_no_events_no_case() -> None:
    state = case_of([], TODAY)
    assert state.notice is None and state.inspection is None and state.next_inspection_due is None
    assert state.facts(1) == EventFacts()
