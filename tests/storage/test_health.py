"""Source health and alarms: a failing source reaches the maintainer once, and recovers once."""

from __future__ import annotations

from sendwatch.vocab import CrawlResult
from storage.store import RunReport, Store


def _run(store: Store, ok: bool, items: int = 10) -> list[str]:
    """A run as the crawl's verdict gives it: ok, empty (a listing of nothing) or failed."""
    result = (CrawlResult.OK if items else CrawlResult.EMPTY) if ok else CrawlResult.FAILED
    alarms = store.record_run(
        RunReport("govuk", result, items, "" if ok else "summary line"), alarm_after=3
    )
    return [alarm.kind for alarm in alarms]


def test_three_failures_in_a_row_open_one_alarm(store: Store) -> None:
    assert _run(store, ok=True) == []
    assert _run(store, ok=False) == []
    assert _run(store, ok=False) == []
    assert _run(store, ok=False) == ["failing"]
    assert _run(store, ok=False) == []  # still failing: no second alarm
    (alarm,) = store.open_alarms()
    assert alarm.message == "govuk: 3 failed runs in a row; last: failed: summary line"

    assert _run(store, ok=True) == []
    assert store.open_alarms() == []
    (summary,) = store.source_summaries()
    assert (summary.consecutive_failures, summary.last_result) == (0, "ok")


def test_a_success_between_failures_resets_the_count(store: Store) -> None:
    for ok in (False, False, True, False, False):
        assert _run(store, ok=ok) == []
    assert store.open_alarms() == []


def test_a_listing_gone_empty_alarms_at_once(store: Store) -> None:
    assert _run(store, ok=True, items=25) == []
    assert _run(store, ok=True, items=0) == ["empty"]
    assert _run(store, ok=True, items=0) == []
    assert [a.kind for a in store.open_alarms()] == ["empty"]
    assert "zero items (it had 25)" in store.open_alarms()[0].message
    assert _run(store, ok=True, items=24) == []
    assert store.open_alarms() == []


def test_a_source_that_never_had_items_is_not_empty(store: Store) -> None:
    assert _run(store, ok=True, items=0) == []
    (summary,) = store.source_summaries()
    assert (summary.consecutive_failures, summary.last_result) == (0, "ok")
    assert store.has_succeeded("govuk")


def test_the_result_may_be_given_as_its_word_and_a_stopped_run_is_not_kept(store: Store) -> None:
    (alarm,) = store.record_run(RunReport("govuk", "blocked", 0, "answered 403"), alarm_after=1)
    assert alarm.message == "govuk: 1 failed runs in a row; last: blocked: answered 403"
    assert store.source_summaries()[0].last_result == "blocked"
    assert store.record_run(RunReport("lgl", CrawlResult.STOPPED, 0), alarm_after=1) == []
    assert [s.source for s in store.source_summaries()] == ["govuk"]


def test_marks_are_upserted_per_source(store: Store) -> None:
    store.set_mark("govuk", "/a", "v1")
    store.set_mark("govuk", "/a", "v2")
    store.set_mark("lgl", "/a", "x")
    assert store.marks("govuk") == {"/a": "v2"}
    assert store.marks("lgl") == {"/a": "x"}
