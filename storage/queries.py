"""Read-only views of the store for the web pages: each LA's state, the timeline, counts per month.

Built with a few column queries and folded in Python: the whole register (153 LAs)
and thousands of events fit easily, and one pass beats 153 queries.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from sendwatch.vocab import Kind, Outcome
from storage.models import Event, Finding
from storage.store import Store

NOTICE_KINDS = (Kind.IMPROVEMENT_NOTICE, Kind.STATUTORY_DIRECTION)
INSPECTION_KINDS = (Kind.INSPECTION_REPORT,)
#: A council discusses the inspectors' feedback letter weeks before the report is published:
#: a paper up to this long before an inspection's publication still belongs to it.
THREAD_LEAD = dt.timedelta(days=60)

# When the next area SEND inspection is due. Source: Ofsted and CQC, "Area SEND inspections:
# framework and handbook" (gov.uk/government/publications/area-send-framework-and-handbook),
# as its reports word it ("The next full area SEND inspection will be within approximately five
# years" for the best outcome, "three years" for the middle one; for the worst, "A monitoring
# inspection will be carried out within approximately 18 months" and "The next full
# reinspection will be within approximately three years": the real Bedford 2025, Blackpool 2024
# and Bexley 2024 reports), the monitoring inspection "usually 18 months from the date when the
# local area partnership receives its final full inspection report". So every interval runs
# from the report's publication. What the report itself states wins over these defaults (older
# positive reports said three years, not five).
#: Months from a 2023-framework report to the next full inspection, by outcome.
FULL_INSPECTION_MONTHS: dict[str, int] = {
    Outcome.POSITIVE: 60,
    Outcome.INCONSISTENT: 36,
    Outcome.SIGNIFICANT_CONCERNS: 36,
}
#: Months from the report to the monitoring inspection, for the outcome that has one.
MONITORING_MONTHS: dict[str, int] = {Outcome.SIGNIFICANT_CONCERNS: 18}
#: A council whose latest report is of the 2016-2022 framework (a Written Statement of Action
#: required or not) is due its first 2023-framework inspection by the end of that framework's
#: first cycle: "All local areas will receive a full inspection at least once during a 5-year
#: period", the period starting with the framework in January 2023.
FIRST_CYCLE_ENDS = dt.date(2027, 12, 31)
OLD_FRAMEWORK_OUTCOMES = (Outcome.WSOA_REQUIRED, Outcome.NO_WSOA)
#: What `LaState.next_inspection_kind` says.
FULL, MONITORING = "full", "monitoring"


@dataclass
class LaState:
    """What is true of one LA on `as_of` (today, unless a test or a replay says otherwise),
    as far as the store knows."""

    la_code: str
    inspection_outcome: str | None = None
    inspection_on: dt.date | None = None
    notice_kind: str | None = None
    notice_on: dt.date | None = None
    notice_deadline: str | None = None
    lifted_on: dt.date | None = None
    latest_event_on: dt.date | None = None
    #: The events behind the state, for stable calendar UIDs and links.
    inspection_event_id: int | None = None
    notice_event_id: int | None = None
    #: The latest monitoring inspection (the worst outcome's follow-up), if any.
    monitoring_on: dt.date | None = None
    #: The next full inspection and the monitoring inspection still expected (None once
    #: it has happened), from the latest report: what it states, else the framework's default.
    full_inspection_due: dt.date | None = None
    monitoring_due: dt.date | None = None
    as_of: dt.date = field(default_factory=dt.date.today)

    @property
    def notice_in_force(self) -> bool:
        return self.notice_on is not None and (
            self.lifted_on is None or self.lifted_on < self.notice_on
        )

    @property
    def notice_deadline_passed(self) -> bool:
        """The notice's deadline is before `as_of` (whether or not it is still in force)."""
        return deadline_passed(self.notice_deadline, self.as_of)

    @property
    def next_inspection_due(self) -> dt.date | None:
        """The earliest inspection still expected: the monitoring one, else the full one."""
        due = [day for day in (self.monitoring_due, self.full_inspection_due) if day]
        return min(due) if due else None

    @property
    def next_inspection_kind(self) -> str | None:
        """ "monitoring" or "full": which inspection `next_inspection_due` is."""
        if self.next_inspection_due is None:
            return None
        return MONITORING if self.next_inspection_due == self.monitoring_due else FULL

    @property
    def overdue(self) -> bool:
        """The next inspection's date has passed and no inspection has been recorded since."""
        due = self.next_inspection_due
        return due is not None and due < self.as_of


def deadline_passed(deadline: str | dt.date | None, today: dt.date) -> bool:
    """Whether a deadline (ISO text, as findings store it, or a date) is before `today`;
    False when there is none or it cannot be read."""
    if isinstance(deadline, str):
        try:
            deadline = dt.date.fromisoformat(deadline)
        except ValueError:
            return False
    return deadline is not None and deadline < today


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` plus whole months, on the same day of the month or the month's last day."""
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    month += 1
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))


def _stated_months(fields: dict[str, Any], key: str) -> int | None:
    """Months a report states (crawler.extract stores `next_inspection_within_months`,
    `monitoring_within_months`), or None when unstated or not a sensible number."""
    value = fields.get(key)
    return value if isinstance(value, int) and 0 < value <= 120 else None


def inspections_due(
    outcome: str | None, published_on: dt.date | None, fields: dict[str, Any]
) -> tuple[dt.date | None, dt.date | None]:
    """(next full inspection, monitoring inspection) due after a report with `outcome`,
    published on `published_on`: what the report states, else the framework's intervals."""
    if outcome is None or published_on is None:
        return None, None
    if outcome in OLD_FRAMEWORK_OUTCOMES:
        return max(FIRST_CYCLE_ENDS, published_on), None
    full = _stated_months(fields, "next_inspection_within_months") or FULL_INSPECTION_MONTHS.get(
        outcome
    )
    monitoring = _stated_months(fields, "monitoring_within_months") or MONITORING_MONTHS.get(
        outcome
    )
    return (
        add_months(published_on, full) if full else None,
        add_months(published_on, monitoring) if monitoring else None,
    )


def _day(event_on: dt.date | None, created: dt.datetime) -> dt.date:
    return event_on or created.date()


def la_states(
    store: Store, la_code: str | None = None, *, today: dt.date | None = None
) -> dict[str, LaState]:
    """Every LA's state, or just `la_code`'s (a council's own page need not read them all),
    as of `today` (the real today unless given: what is overdue depends on it)."""
    as_of = today or dt.date.today()
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
        details = _event_fields(
            session.execute(
                select(Finding.event_id, Finding.fields)
                .where(Finding.kind.in_([str(kind) for kind in (*NOTICE_KINDS, *INSPECTION_KINDS)]))
                .order_by(Finding.id)
            ).all()
        )
    states: dict[str, LaState] = {}
    for event_id, kind, la_code, happened_on, outcome, created_at in rows:
        assert la_code is not None
        state = states.setdefault(la_code, LaState(la_code, as_of=as_of))
        day = _day(happened_on, created_at)
        if state.latest_event_on is None or day > state.latest_event_on:
            state.latest_event_on = day
        if (
            kind in INSPECTION_KINDS
            and outcome
            and (state.inspection_on is None or day >= state.inspection_on)
        ):
            state.inspection_outcome, state.inspection_on = outcome, day
            state.inspection_event_id = event_id
        elif kind in NOTICE_KINDS and (state.notice_on is None or day >= state.notice_on):
            state.notice_kind, state.notice_on = kind, day
            state.notice_event_id = event_id
            state.notice_deadline = details.get(event_id, {}).get("deadline")
        elif kind == Kind.NOTICE_LIFTED and (state.lifted_on is None or day >= state.lifted_on):
            state.lifted_on = day
        elif kind == Kind.MONITORING_INSPECTION and (
            state.monitoring_on is None or day >= state.monitoring_on
        ):
            state.monitoring_on = day
    for state in states.values():
        _date_inspections(state, details.get(state.inspection_event_id or 0, {}))
    return states


def _event_fields(rows: Iterable[Any]) -> dict[int, dict[str, Any]]:
    """Each event's findings' fields merged, the first finding to state a value winning: a
    news article about a notice (no deadline) must not hide the notice's own deadline."""
    merged: dict[int, dict[str, Any]] = {}
    for event_id, fields in rows:
        into = merged.setdefault(event_id, {})
        for key, value in (fields or {}).items():
            if value is not None and into.get(key) is None:
                into[key] = value
    return merged


def _date_inspections(state: LaState, fields: dict[str, Any]) -> None:
    """Fills in when the next inspections are due; a monitoring inspection recorded since
    the report is no longer expected."""
    full, monitoring = inspections_due(state.inspection_outcome, state.inspection_on, fields)
    if (
        monitoring is not None
        and state.monitoring_on is not None
        and state.inspection_on is not None
        and state.monitoring_on > state.inspection_on
    ):
        monitoring = None
    state.full_inspection_due, state.monitoring_due = full, monitoring


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
