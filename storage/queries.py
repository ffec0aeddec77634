"""Read-only views of the store for the web pages: each LA's state, the timeline, counts per month.

Built with a few column queries and folded in Python: the whole register (153 LAs)
and thousands of events fit easily, and one pass beats 153 queries.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from sendwatch.vocab import Kind
from storage.models import Event, Finding
from storage.store import Store

NOTICE_KINDS = (Kind.IMPROVEMENT_NOTICE, Kind.STATUTORY_DIRECTION)
INSPECTION_KINDS = (Kind.INSPECTION_REPORT,)
#: A council discusses the inspectors' feedback letter weeks before the report is published:
#: a paper up to this long before an inspection's publication still belongs to it.
THREAD_LEAD = dt.timedelta(days=60)


@dataclass
class LaState:
    """What is true of one LA today, as far as the store knows."""

    la_code: str
    inspection_outcome: str | None = None
    inspection_on: dt.date | None = None
    notice_kind: str | None = None
    notice_on: dt.date | None = None
    notice_deadline: str | None = None
    lifted_on: dt.date | None = None
    latest_event_on: dt.date | None = None

    @property
    def notice_in_force(self) -> bool:
        return self.notice_on is not None and (
            self.lifted_on is None or self.lifted_on < self.notice_on
        )


def _day(event_on: dt.date | None, created: dt.datetime) -> dt.date:
    return event_on or created.date()


def la_states(store: Store, la_code: str | None = None) -> dict[str, LaState]:
    """Every LA's state, or just `la_code`'s (a council's own page need not read them all)."""
    wanted = Event.la_code == la_code if la_code else Event.la_code.is_not(None)
    with store.sessions() as session:
        rows = session.execute(
            select(
                Event.id,
                Event.kind,
                Event.la_code,
                Event.happened_on,
                Event.outcome,
                Event.created_at,
            )
            .where(wanted)
            .order_by(Event.id)
        ).all()
        deadlines: dict[int, dict[str, Any]] = dict(
            session.execute(
                select(Finding.event_id, Finding.fields).where(
                    Finding.kind.in_([str(kind) for kind in NOTICE_KINDS])
                )
            ).all()
        )
    states: dict[str, LaState] = {}
    for event_id, kind, la_code, happened_on, outcome, created_at in rows:
        assert la_code is not None
        state = states.setdefault(la_code, LaState(la_code))
        day = _day(happened_on, created_at)
        if state.latest_event_on is None or day > state.latest_event_on:
            state.latest_event_on = day
        if (
            kind in INSPECTION_KINDS
            and outcome
            and (state.inspection_on is None or day >= state.inspection_on)
        ):
            state.inspection_outcome, state.inspection_on = outcome, day
        elif kind in NOTICE_KINDS and (state.notice_on is None or day >= state.notice_on):
            state.notice_kind, state.notice_on = kind, day
            fields = deadlines.get(event_id) or {}
            state.notice_deadline = fields.get("deadline")
        elif kind == Kind.NOTICE_LIFTED and (state.lifted_on is None or day >= state.lifted_on):
            state.lifted_on = day
    return states


def monthly_counts(store: Store, since: dt.date) -> Counter[tuple[str, str]]:
    """Events per ("YYYY-MM", kind) since a date, by when they happened."""
    with store.sessions() as session:
        rows = session.execute(
            select(Event.kind, Event.happened_on, Event.created_at).where(
                func.coalesce(Event.happened_on, Event.created_at) >= since
            )
        ).all()
    counts: Counter[tuple[str, str]] = Counter()
    for kind, happened_on, created_at in rows:
        counts[(_day(happened_on, created_at).strftime("%Y-%m"), kind)] += 1
    return counts


def events_page(
    store: Store, *, page: int, per_page: int, la_codes: tuple[str, ...] = ()
) -> tuple[list[Event], int]:
    """One page of events, newest first (by when they happened), and the total."""
    with store.sessions() as session:
        query = select(Event)
        count = select(func.count()).select_from(Event)
        if la_codes:
            query = query.where(Event.la_code.in_(la_codes))
            count = count.where(Event.la_code.in_(la_codes))
        total = session.scalar(count) or 0
        events = session.scalars(
            query.options(selectinload(Event.findings))
            .order_by(func.coalesce(Event.happened_on, Event.created_at).desc(), Event.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        ).all()
        return list(events), total


def threads_for(store: Store, events: Iterable[Event]) -> dict[int, Event | None]:
    """The case ("thread") each event belongs to, by event id, worked out at read time.

    An area SEND inspection report heads its own thread. Any other event of a council
    belongs to the council's latest inspection published on or before THREAD_LEAD after
    it (the feedback is discussed before publication); failing that, to its latest
    improvement notice or statutory direction on or before it. An event with no council
    has no thread. One query for all the councils involved, however many events.
    """
    events = list(events)
    threads: dict[int, Event | None] = {}
    wanted: set[str] = set()
    for event in events:
        if event.la_code is None:
            threads[event.id] = None
        elif event.kind in INSPECTION_KINDS:
            threads[event.id] = event
        else:
            wanted.add(event.la_code)
    heads: dict[str, list[Event]] = defaultdict(list)
    if wanted:
        with store.sessions() as session:
            for head in session.scalars(
                select(Event).where(
                    Event.la_code.in_(sorted(wanted)),
                    Event.kind.in_([str(kind) for kind in (*INSPECTION_KINDS, *NOTICE_KINDS)]),
                )
            ):
                assert head.la_code is not None
                heads[head.la_code].append(head)
    for event in events:
        if event.id in threads:
            continue
        assert event.la_code is not None
        day = _day(event.happened_on, event.created_at)
        candidates = heads.get(event.la_code, [])
        inspections = [
            h
            for h in candidates
            if h.kind in INSPECTION_KINDS and _day(h.happened_on, h.created_at) <= day + THREAD_LEAD
        ]
        notices = [
            h
            for h in candidates
            if h.kind in NOTICE_KINDS and _day(h.happened_on, h.created_at) <= day
        ]
        chosen = inspections or notices
        threads[event.id] = (
            max(chosen, key=lambda h: (_day(h.happened_on, h.created_at), h.id)) if chosen else None
        )
    return threads
