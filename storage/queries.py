"""Read-only views of the store: each council's case (as `sendwatch.case` decides it from the
council's events) and its record with the Ombudsman (`sendwatch.ombudsman`), what the case says
of given events, a page of events, counts per month.

Built with a few column queries and folded in Python: the whole register (153 LAs) and
thousands of events fit easily, and one pass beats 153 queries.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Text, cast, func, or_, select
from sqlalchemy.orm import Session, selectinload

from sendwatch.case import (
    CASE_FIELDS,
    NOTICE_KINDS,
    REPORT_KINDS,
    CaseEvent,
    CaseState,
    EventFacts,
    case_of,
    event_day,
    lone_facts,
    merge_fields,
)
from sendwatch.ombudsman import Decision as OmbudsmanDecision
from sendwatch.ombudsman import OmbudsmanRecord, ombudsman_record
from sendwatch.vocab import Kind
from storage.models import Event, Finding
from storage.store import Store


def cases(
    store: Store, la_codes: Collection[str] | None = None, *, today: dt.date | None = None
) -> dict[str, CaseState]:
    """Each council's case as `sendwatch.case` decides it, as of `today` (the real today unless
    given: what is overdue depends on it): every council with an event, or just `la_codes`'
    (a council's own page need not read them all). One query for the events, one for the
    fields of those whose details the case reads, however many councils."""
    as_of = today or dt.date.today()
    if la_codes is not None and not la_codes:
        return {}
    wanted = (
        Event.la_code.in_(sorted(set(la_codes)))
        if la_codes is not None
        else Event.la_code.is_not(None)
    )
    with store.sessions() as session:
        rows = session.execute(
            select(
                Event.id,
                Event.kind,
                Event.la_code,
                Event.happened_on,
                Event.created_at,
                Event.outcome,
                Event.title,
            )
            .where(wanted)
            .order_by(Event.id)
        ).all()
        fields = _fields_of(session, wanted)
    by_council: dict[str, list[CaseEvent]] = defaultdict(list)
    none: dict[str, Any] = {}
    # Tuples unpacked, not attributes read: a page of the whole register reads thousands.
    for event_id, kind, la_code, happened_on, created_at, outcome, title in rows:
        assert la_code is not None  # asked for
        by_council[la_code].append(
            CaseEvent(
                event_id,
                kind,
                event_day(happened_on, created_at),
                outcome,
                title,
                fields.get(event_id, none),
                happened_on,
            )
        )
    return {code: case_of(events, as_of) for code, events in by_council.items()}


def event_facts(
    store: Store, events: Sequence[Event], *, today: dt.date | None = None
) -> dict[int, EventFacts]:
    """What the case says of each of `events` (their findings loaded), by event id: its
    council's case read once for all of them; an event naming no council on its own."""
    as_of = today or dt.date.today()
    states = cases(store, {e.la_code for e in events if e.la_code}, today=as_of)
    facts: dict[int, EventFacts] = {}
    for event in events:
        state = states.get(event.la_code) if event.la_code else None
        facts[event.id] = (
            state.facts(event.id) if state is not None else lone_facts(case_event(event), as_of)
        )
    return facts


def case_event(event: Event) -> CaseEvent:
    """An event with its findings loaded, as the case reads it."""
    return CaseEvent(
        id=event.id,
        kind=event.kind,
        day=event_day(event.happened_on, event.created_at),
        outcome=event.outcome,
        title=event.title,
        fields=merge_fields(finding.fields for finding in event.findings),
        happened_on=event.happened_on,
    )


#: Kinds whose findings' fields the case reads (deadlines; what a report states is due; what a
#: monitoring inspection or revisit found).
DETAILED_KINDS = frozenset(NOTICE_KINDS | REPORT_KINDS)


def _fields_of(session: Session, wanted: Any) -> dict[int, dict[str, Any]]:
    """What the case reads of the findings' fields (`CASE_FIELDS`) of the events `wanted`
    selects whose details it reads, merged as the case merges them (oldest finding first).
    Fields that state none of them are not even read out: on a page of the whole register,
    that is most of them."""
    text = cast(Finding.fields, Text)
    found: dict[int, list[Any]] = defaultdict(list)
    for event_id, fields in session.execute(
        select(Finding.event_id, text)
        .join(Event, Event.id == Finding.event_id)
        .where(
            wanted,
            Event.kind.in_(sorted(DETAILED_KINDS)),
            or_(*(text.contains(f'"{name}"') for name in CASE_FIELDS)),
        )
        .order_by(Finding.id)
    ):
        read = _case_fields(fields)
        if read:
            found[event_id].append(read)
    return {event_id: merge_fields(fields) for event_id, fields in found.items()}


def _case_fields(stored: str | None) -> dict[str, Any]:
    """The fields the case reads from one finding's stored fields (JSON text)."""
    try:
        decoded = json.loads(stored) if stored else None
    except ValueError:
        return {}
    if not isinstance(decoded, dict):
        return {}
    return {name: decoded[name] for name in CASE_FIELDS if decoded.get(name) is not None}


#: When an event happened, as the database computes it (so that ordering, paging and date
#: filters agree whatever the backend's time zone): `sendwatch.case.event_day` in SQL, the day
#: it happened, else the day sendwatch first saw it.
HAPPENED_DAY = func.coalesce(Event.happened_on, func.date(Event.created_at))
#: The order events are shown in everywhere (/recent, /api/events, the feeds): the newest
#: happened first, the higher id first on the same day.
NEWEST_HAPPENED_FIRST = (HAPPENED_DAY.desc(), Event.id.desc())


def monthly_counts(store: Store, since: dt.date) -> Counter[tuple[str, str]]:
    """Events per ("YYYY-MM", kind) since a date, by when they happened."""
    with store.sessions() as session:
        rows = session.execute(
            select(Event.kind, Event.happened_on, Event.created_at).where(since <= HAPPENED_DAY)
        ).all()
    counts: Counter[tuple[str, str]] = Counter()
    for kind, happened_on, created_at in rows:
        counts[(event_day(happened_on, created_at).strftime("%Y-%m"), kind)] += 1
    return counts


def has_events(store: Store) -> bool:
    """Whether any event has been recorded at all (a new store has none)."""
    with store.sessions() as session:
        return session.scalar(select(Event.id).limit(1)) is not None


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
            .order_by(*NEWEST_HAPPENED_FIRST)
            .offset((page - 1) * per_page)
            .limit(per_page)
        ).all()
        return list(events), total


def newest_happened(
    store: Store, *, la_codes: Sequence[str] = (), kinds: Sequence[str] = (), limit: int
) -> list[Event]:
    """The `limit` events that happened most recently, with their findings, in the order /recent
    and /api/events show them (`NEWEST_HAPPENED_FIRST`), of these councils and kinds (none
    given: any): a feed's entries, so that a reader lists them as the pages do."""
    query = select(Event).options(selectinload(Event.findings))
    if la_codes:
        query = query.where(Event.la_code.in_(la_codes))
    if kinds:
        query = query.where(Event.kind.in_(kinds))
    with store.sessions() as session:
        return list(session.scalars(query.order_by(*NEWEST_HAPPENED_FIRST).limit(limit)))


def ombudsman_records(
    store: Store, la_codes: Collection[str] | None = None, *, today: dt.date | None = None
) -> dict[str, OmbudsmanRecord]:
    """Each council's record with the Ombudsman (`sendwatch.ombudsman`) as of `today`: every
    council with a decision, or just `la_codes`'. One query, whatever the number of councils."""
    as_of = today or dt.date.today()
    wanted = [Event.kind == str(Kind.OMBUDSMAN_DECISION), Event.la_code.is_not(None)]
    if la_codes is not None:
        wanted.append(Event.la_code.in_(sorted(set(la_codes))))
    with store.sessions() as session:
        rows = session.execute(
            select(
                Event.id,
                Event.la_code,
                Event.happened_on,
                Event.created_at,
                Event.outcome,
                Event.title,
                Finding.url,
                Finding.fields,
            )
            .join(Finding, Finding.event_id == Event.id)
            .where(*wanted)
            .order_by(Event.id, Finding.id)
        ).all()
    by_council: dict[str, dict[int, OmbudsmanDecision]] = defaultdict(dict)
    for event_id, la_code, happened_on, created_at, outcome, title, url, fields in rows:
        remedy = (fields or {}).get("remedy_gbp")
        by_council[la_code].setdefault(
            event_id,
            OmbudsmanDecision(
                event_id,
                event_day(happened_on, created_at),
                outcome,
                title,
                url,
                remedy if isinstance(remedy, int | float) else None,
            ),
        )
    return {
        code: ombudsman_record(decisions.values(), as_of) for code, decisions in by_council.items()
    }
