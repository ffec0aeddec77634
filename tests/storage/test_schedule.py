"""The store is the daemon's schedule: when a source is next due after a (re)start."""

from __future__ import annotations

import datetime as dt

from sendwatch.vocab import CrawlResult
from storage.models import SourceState, utcnow
from storage.store import RunReport, Store

HOUR = dt.timedelta(hours=1)


def _ran(store: Store, result: CrawlResult = CrawlResult.OK) -> dt.datetime:
    """A run of govuk, recorded as the crawl child records it; when it ended."""
    store.record_run(RunReport("govuk", result, 3), alarm_after=3)
    last = store.last_run("govuk")
    assert last is not None
    return last


def test_a_source_that_never_ran_is_due_at_once(store: Store) -> None:
    assert store.due("govuk", HOUR) is None
    store.set_next_run("govuk", utcnow() + HOUR)  # planned at a start, never crawled
    assert store.due("govuk", HOUR) is None


def test_the_plan_made_after_the_last_run_is_kept(store: Store) -> None:
    ended = _ran(store)
    planned = ended + HOUR + dt.timedelta(seconds=90)  # with its jitter
    store.set_next_run("govuk", planned)
    assert store.due("govuk", HOUR) == planned  # what status shows, to the second
    # A failed run plans its next run like any other.
    ended = _ran(store, CrawlResult.FAILED)
    store.set_next_run("govuk", ended + HOUR)
    assert store.due("govuk", HOUR) == ended + HOUR


def test_a_run_without_a_plan_is_due_its_interval_after_it_ended(store: Store) -> None:
    ended = _ran(store)  # `sendwatch crawl` by hand: no plan
    assert store.due("govuk", HOUR) == ended + HOUR
    store.set_next_run("govuk", ended - dt.timedelta(minutes=5))  # the plan that run fulfilled
    assert store.due("govuk", HOUR) == ended + HOUR


def test_a_crawl_stopped_before_it_finished_is_due_at_once(store: Store) -> None:
    _ran(store)
    with store.sessions() as session:  # that run ended two hours ago
        state = session.get(SourceState, "govuk")
        assert state is not None
        state.last_run_at = utcnow() - 2 * HOUR
        session.commit()
    planned = utcnow() - HOUR + dt.timedelta(seconds=30)
    store.set_next_run("govuk", planned)  # the next started as planned, an hour ago, and was
    assert store.record_run(RunReport("govuk", CrawlResult.STOPPED, 0), alarm_after=1) == []
    due = store.due("govuk", HOUR)  # stopped: nothing recorded, the plan left as it was
    assert due == planned and due <= utcnow()
    with store.sessions() as session:
        state = session.get(SourceState, "govuk")
        assert state is not None and state.consecutive_failures == 0
