"""Two processes recording at once: constraints, not luck, keep one row per finding."""

from __future__ import annotations

import dataclasses
import datetime as dt
import multiprocessing
from multiprocessing.synchronize import Barrier

from sqlalchemy import func, select

from sendwatch.vocab import Kind
from storage.models import Event, Finding
from storage.store import FindingData, Store

ROUNDS = 25


def _finding(round_no: int, source: str = "govuk") -> FindingData:
    return FindingData(
        source=source,
        identity=f"notice-{round_no}",
        url=f"https://example.test/{source}/{round_no}",
        title=f"Improvement notice issued to Wirral: round {round_no}",
        kind=Kind.IMPROVEMENT_NOTICE,
        la_code="E08000015",
        # A year apart per round, so each round is its own happening.
        happened_on=dt.date(2000 + round_no, 1, 15),
    )


def _writer(url: str, barrier: Barrier, sources: list[str], results: list[str]) -> None:
    store = Store(url)
    try:
        for round_no in range(ROUNDS):
            barrier.wait(timeout=60)
            for source in sources:
                result = store.record(_finding(round_no, source))
                results.append(f"{round_no}:{source}:{result.finding}:{result.event_id}")
    finally:
        store.close()


def _race(url: str, sources_a: list[str], sources_b: list[str]) -> list[str]:
    # fork: the writers need this module's functions, which spawn could not import here.
    context = multiprocessing.get_context("fork")
    with context.Manager() as manager:
        results = manager.list()
        barrier = manager.Barrier(2)
        workers = [
            context.Process(target=_writer, args=(url, barrier, sources, results))
            for sources in (sources_a, sources_b)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
        assert [worker.exitcode for worker in workers] == [0, 0], "a writer raised"
        return list(results)


def _counts(store: Store) -> tuple[int, int]:
    with store.sessions() as session:
        findings = session.scalar(select(func.count()).select_from(Finding)) or 0
        events = session.scalar(select(func.count()).select_from(Event)) or 0
    return findings, events


def _check_same_finding_race(url: str) -> None:
    store = Store(url)
    store.upgrade()
    results = _race(url, ["govuk"], ["govuk"])
    assert _counts(store) == (ROUNDS, ROUNDS)
    for round_no in range(ROUNDS):
        outcomes = sorted(r.split(":")[2] for r in results if r.startswith(f"{round_no}:"))
        assert outcomes == ["new", "seen"], f"round {round_no}: {outcomes}"
    store.close()


def test_same_finding_from_two_processes_on_postgresql(postgres_url: str) -> None:
    _check_same_finding_race(postgres_url)


def test_same_finding_from_two_processes_on_the_configured_store(database_url: str) -> None:
    _check_same_finding_race(database_url)


def test_two_sources_racing_on_one_notice_make_one_event(postgres_url: str) -> None:
    store = Store(postgres_url)
    store.upgrade()
    results = _race(postgres_url, ["govuk"], ["lgl"])
    assert _counts(store) == (2 * ROUNDS, ROUNDS)
    for round_no in range(ROUNDS):
        events = {r.split(":")[3] for r in results if r.startswith(f"{round_no}:")}
        assert len(events) == 1, f"round {round_no} split into events {events}"
    store.close()


def test_replace_keeps_identity_helper_honest() -> None:
    """The race above relies on rounds being distinct happenings; guard that assumption."""
    first, second = _finding(0), _finding(1)
    assert first.happened_on and second.happened_on
    assert abs(second.happened_on - first.happened_on) > dt.timedelta(days=300)
    assert dataclasses.replace(first, source="lgl").identity == first.identity
