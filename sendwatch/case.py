"""A council's SEND case: what is in force, since when, its deadline, the latest inspection and
what is due next, and the threads its events form. The one place these rules live.

Pure: no SQL, no HTML, no I/O. It works on a council's events as plain data (`CaseEvent`,
built by `storage.queries` from the store) and returns one value, `CaseState`; every surface
(the pages, `/api/las`, `/api/events`, export, feeds, calendars, every channel's message, the
bot and the command line) shows what it returns and decides nothing itself.

The rules, as the documents have them:

* **Notices and directions.** The Department for Education issues an improvement notice or a
  statutory direction, later lifts (revokes, closes, …) it. Told in the order they happened,
  a lifting ends what is in force on or before its day, and an issue puts a new one in force
  (a second notice replaces the first). On one day a lifting comes before an issue: a
  direction "revoked and replaced with an improvement notice" (Kingston upon Hull, 2024)
  leaves the notice in force. A direction is a direction: its kind is kept, never called a
  notice. Only an issue has a deadline: a lifting's text may quote the old deadline, which
  is not the case's.
* **Inspections.** An area SEND inspection is a report with an outcome: a 2023-framework
  `inspection_report`, or a 2016-2022 one, which Ofsted's statistics record as a `wsoa`
  (Written Statement of Action required or not). News of an inspection without an outcome is
  news, not the inspection. The latest one is the council's current outcome.
* **What followed.** A monitoring inspection (2023 framework) or a revisit (2016-2022) after
  the latest inspection is shown beside it with its result: the progress it found, and on how
  many of the areas the inspection named ("sufficient progress in addressing 3 of the 5 areas
  of significant weakness": 2 left). A case is closed when nothing is in force and the latest
  inspection needed no action (a positive or inconsistent outcome, no Written Statement of
  Action), or what followed it found sufficient progress on every area; a revisit with areas
  left, or a result no rule read, leaves it open.
* **What is due.** After a report: what it states ("within approximately three years"), else
  the framework's intervals, counted from its publication (`inspections_due`). A monitoring
  inspection recorded since the report is no longer due. Overdue: the date has passed and
  nothing has been recorded since. Inspectors give no exact day: these dates are approximate.
* **Threads.** An inspection heads its own thread. Any other event of a council belongs to the
  council's latest inspection published on or before `THREAD_LEAD` after it (councils discuss
  the inspectors' feedback before the report is out), or failing one, to its latest notice or
  direction on or before it.
* **The same happening.** Two findings of one kind (or of kinds one happening is reported as:
  `vocab.SAME_HAPPENING`) about one council within `SAME_HAPPENING_WINDOW` of each other are
  one event: the store links them so, and reconciliation compares Ofsted's statistics with the
  reports crawled by that same linking.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, NamedTuple

from sendwatch.vocab import Kind, Outcome, outcome_read

#: Issues: what puts a case "in force".
NOTICE_KINDS: frozenset[str] = frozenset({Kind.IMPROVEMENT_NOTICE, Kind.STATUTORY_DIRECTION})
#: What ends one.
LIFTING_KINDS: frozenset[str] = frozenset({Kind.NOTICE_LIFTED})
#: Kinds an inspection is recorded as (with an outcome: see `is_inspection`).
INSPECTION_KINDS: frozenset[str] = frozenset({Kind.INSPECTION_REPORT, Kind.WSOA})
MONITORING_KINDS: frozenset[str] = frozenset({Kind.MONITORING_INSPECTION})
#: Everything Ofsted reports on (what an outcome, dates and a next inspection are read from).
REPORT_KINDS: frozenset[str] = INSPECTION_KINDS | MONITORING_KINDS

#: Findings of one happening this close in time are one event: news follows an official
#: publication by days, sometimes weeks; Ofsted's statistics date a report by its publication,
#: which its reports site may show a little apart.
SAME_HAPPENING_WINDOW = dt.timedelta(days=31)
#: A council discusses the inspectors' feedback letter weeks before the report is published:
#: an event up to this long before an inspection's publication still belongs to it.
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
OLD_FRAMEWORK_OUTCOMES: frozenset[str] = frozenset({Outcome.WSOA_REQUIRED, Outcome.NO_WSOA})
#: Which inspection is due next (`CaseState.next_inspection_kind`, `/api/las`).
FULL, MONITORING = "full", "monitoring"
#: The findings' fields the case reads: an issue's deadline, what a report states is due, and
#: the areas a monitoring inspection or revisit found progress on.
CASE_FIELDS = (
    "deadline",
    "next_inspection_within_months",
    "monitoring_within_months",
    "areas_addressed",
    "areas_total",
)
#: Inspection outcomes that need no action to follow: the case closes with them.
NO_ACTION_OUTCOMES: frozenset[str] = frozenset(
    {Outcome.POSITIVE, Outcome.INCONSISTENT, Outcome.NO_WSOA}
)
#: The longest interval a report may state and be believed (ten years).
MAX_STATED_MONTHS = 120


# -- one event -------------------------------------------------------------------------------


class CaseEvent(NamedTuple):
    """What the case needs of one recorded event: the store's event as plain data (a tuple:
    a page of the whole register makes thousands)."""

    id: int
    kind: str
    #: When it happened (`event_day`).
    day: dt.date
    outcome: str | None = None
    title: str = ""
    #: Its findings' extracted fields, merged (`merge_fields`); read, never changed.
    fields: Mapping[str, Any] = MappingProxyType({})
    #: The day its sources give (None: `day` is the day it was first seen).
    happened_on: dt.date | None = None


def event_day(happened_on: dt.date | None, first_seen: dt.datetime | dt.date) -> dt.date:
    """When an event happened: the day its sources give, else the day it was first seen."""
    if happened_on is not None:
        return happened_on
    return first_seen.date() if isinstance(first_seen, dt.datetime) else first_seen


def merge_fields(fields_in_order: Iterable[Mapping[str, Any] | None]) -> dict[str, Any]:
    """An event's findings' fields as one, the first finding (oldest recorded) to state a value
    winning: a news article about a notice (no deadline) never hides the notice's own."""
    merged: dict[str, Any] = {}
    for fields in fields_in_order:
        for key, value in (fields or {}).items():
            if value is not None and merged.get(key) is None:
                merged[key] = value
    return merged


def is_inspection(kind: str, outcome: str | None) -> bool:
    """An area SEND inspection: a report, or Ofsted's record of a 2016-2022 one, with its
    outcome. (A `wsoa` with no outcome is news of a Written Statement of Action.)"""
    return kind in INSPECTION_KINDS and outcome is not None


def deadline_of(kind: str, fields: Mapping[str, Any]) -> dt.date | None:
    """The deadline an issued notice or direction sets; None for anything else (a lifting's
    text may quote the old deadline) and when the stored value cannot be read."""
    if kind not in NOTICE_KINDS:
        return None
    return _iso_date(fields.get("deadline"))


def _iso_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) and value else None
    except ValueError:
        return None


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` plus whole months, on the same day of the month or the month's last day."""
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    month += 1
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))


def _stated_months(fields: Mapping[str, Any], key: str) -> int | None:
    """Months a report states (extraction stores `next_inspection_within_months`,
    `monitoring_within_months`), or None when unstated or not a sensible number."""
    value = fields.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 < value <= MAX_STATED_MONTHS else None


def inspections_due(
    outcome: str | None, published_on: dt.date | None, fields: Mapping[str, Any]
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


# -- what the case is --------------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    """The notice or direction in force, or the last one, lifted.

    `kind` and `issued_on` are None for a lifting whose notice was never recorded (news of a
    lifting, the notice older than anything crawled)."""

    event_id: int | None
    kind: str | None
    issued_on: dt.date | None
    deadline: dt.date | None = None
    lifted_on: dt.date | None = None

    @property
    def in_force(self) -> bool:
        return self.kind is not None and self.lifted_on is None


@dataclass(frozen=True)
class Inspection:
    """An area SEND inspection report: the event, when it was published, its outcome."""

    event_id: int
    kind: str
    published_on: dt.date
    outcome: str


@dataclass(frozen=True)
class FollowUp:
    """A monitoring inspection or revisit after an inspection, and the progress it found."""

    event_id: int
    published_on: dt.date
    #: A progress outcome (`vocab.PROGRESS_OUTCOMES`), `unrecognised`, or None (news of one).
    outcome: str | None
    #: Areas it found sufficient progress on, of how many the inspection named (when stated).
    areas_addressed: int | None = None
    areas_total: int | None = None
    #: A 2016-2022 revisit (of a Written Statement of Action), not a 2023-framework monitoring
    #: inspection.
    revisit: bool = False

    @property
    def areas_left(self) -> int | None:
        """Areas still to address: none after sufficient progress on all, else by the counts."""
        if self.outcome == Outcome.SUFFICIENT_PROGRESS:
            return 0
        if self.areas_addressed is None or self.areas_total is None:
            return None
        return max(self.areas_total - self.areas_addressed, 0)


def follow_up(event: CaseEvent) -> FollowUp:
    """A monitoring or revisit event as the case shows it."""
    return FollowUp(
        event.id,
        event.day,
        event.outcome,
        _stated_count(event.fields, "areas_addressed"),
        _stated_count(event.fields, "areas_total"),
        revisit=_is_revisit(event),
    )


def _is_revisit(event: CaseEvent) -> bool:
    """A revisit says so in its title: the report's label ("Wirral: Local area SEND revisit"),
    or Ofsted's statistics' ("Area SEND revisit of Wirral: …")."""
    title = event.title.lower()
    return "revisit" in title or "re-visit" in title


def _stated_count(fields: Mapping[str, Any], key: str) -> int | None:
    value = fields.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


@dataclass(frozen=True)
class Thread:
    """The case an event belongs to: its head (an inspection, else a notice or direction)."""

    id: int
    kind: str
    title: str
    day: dt.date
    #: The day the head's sources give, as exports show it (None: `day` is when first seen).
    happened_on: dt.date | None = None


@dataclass(frozen=True)
class EventFacts:
    """What the case says of one of its events, for the surfaces that show events."""

    #: An issued notice's or direction's deadline, and whether it is before the case's day.
    deadline: dt.date | None = None
    deadline_passed: bool = False
    #: On an inspection report: when the inspection after it is due, which one, and whether
    #: that has passed while the report is still the council's latest.
    next_inspection_due: dt.date | None = None
    next_inspection_kind: str | None = None
    overdue: bool = False
    thread: Thread | None = None
    #: On an issued notice or direction: whether it is in force, else when it was lifted.
    in_force: bool | None = None
    lifted_on: dt.date | None = None
    #: On a lifting: the kind of what it lifted (a direction is never called a notice).
    lifts: str | None = None
    #: On a monitoring inspection or revisit: its result (areas addressed, of how many). On an
    #: inspection: the latest monitoring inspection or revisit since it, before the next one.
    follow_up: FollowUp | None = None


@dataclass(frozen=True)
class CaseState:
    """One council's case on `as_of`, as far as its events tell."""

    as_of: dt.date
    notice: Notice | None = None
    inspection: Inspection | None = None
    #: The latest monitoring inspection or revisit since the latest report, with its result.
    monitoring: FollowUp | None = None
    #: The next full inspection, and the monitoring inspection still expected (None once
    #: one has been recorded since the report).
    full_inspection_due: dt.date | None = None
    monitoring_due: dt.date | None = None
    latest_event_on: dt.date | None = None
    #: The council's events in the order they happened, and how each issue or lifting ended
    #: (event id -> the notice, lifted): what `facts` reads, when asked.
    timeline: tuple[CaseEvent, ...] = field(default=(), repr=False, compare=False)
    ends: Mapping[int, Notice] = field(default_factory=dict, repr=False, compare=False)
    #: Each event's thread (and each event by id), worked out for all of them the first time
    #: one is asked for.
    _thread_of: dict[int, Thread | None] = field(default_factory=dict, repr=False, compare=False)
    _event_of: dict[int, CaseEvent] = field(default_factory=dict, repr=False, compare=False)

    @property
    def notice_in_force(self) -> bool:
        return self.notice is not None and self.notice.in_force

    @property
    def deadline_passed(self) -> bool:
        """The (latest) notice's deadline is before `as_of`, in force or not."""
        return _passed(self.notice.deadline if self.notice else None, self.as_of)

    @property
    def monitoring_on(self) -> dt.date | None:
        """When the latest monitoring inspection or revisit since the latest report was."""
        return self.monitoring.published_on if self.monitoring else None

    @property
    def closed(self) -> bool:
        """Nothing in force, and the latest inspection needed no action or what followed it
        found sufficient progress on every area (see the module's docstring)."""
        if self.notice_in_force or self.inspection is None:
            return False
        follow = self.monitoring
        if follow is not None and follow.outcome is not None:
            return outcome_read(follow.outcome) and follow.areas_left == 0
        return self.inspection.outcome in NO_ACTION_OUTCOMES

    @property
    def next_inspection_due(self) -> dt.date | None:
        """The earliest inspection still expected: the monitoring one, else the full one."""
        due = [day for day in (self.monitoring_due, self.full_inspection_due) if day]
        return min(due) if due else None

    @property
    def next_inspection_kind(self) -> str | None:
        """`monitoring` or `full`: which inspection `next_inspection_due` is."""
        if self.next_inspection_due is None:
            return None
        return MONITORING if self.next_inspection_due == self.monitoring_due else FULL

    @property
    def overdue(self) -> bool:
        """The next inspection's date has passed and none has been recorded since."""
        due = self.next_inspection_due
        return due is not None and due < self.as_of

    def facts(self, event_id: int) -> EventFacts:
        """What the case says of one of its events (nothing, for an event not in it). Worked
        out when asked: a page of the whole register needs the cases, not every event's."""
        if not self._event_of and self.timeline:
            self._thread_of.update(_threads(self.timeline))
            self._event_of.update((event.id, event) for event in self.timeline)
        event = self._event_of.get(event_id)
        if event is None:
            return EventFacts()
        return _facts(event, self, self._thread_of[event_id], self.ends.get(event_id))


def _passed(deadline: dt.date | None, today: dt.date) -> bool:
    return deadline is not None and deadline < today


def case_of(events: Iterable[CaseEvent], today: dt.date) -> CaseState:
    """The case one council's events make, as of `today`."""
    timeline = sorted(events, key=lambda e: (e.day, e.id))
    notice, ends = _notice_in_force(timeline)
    inspection = _latest_inspection(timeline)
    # The latest after the latest report (before it, it followed an older one).
    monitoring = _latest_follow_up(timeline, inspection.published_on if inspection else None, None)
    full_due, monitoring_due = _due_after(timeline, inspection, monitoring)
    return CaseState(
        as_of=today,
        notice=notice,
        inspection=inspection,
        monitoring=monitoring,
        full_inspection_due=full_due,
        monitoring_due=monitoring_due,
        latest_event_on=max((e.day for e in timeline), default=None),
        timeline=tuple(timeline),
        ends=ends,
    )


def lone_facts(event: CaseEvent, today: dt.date) -> EventFacts:
    """What can be said of an event that belongs to no council's case (no council named)."""
    deadline = deadline_of(event.kind, event.fields)
    return EventFacts(deadline=deadline, deadline_passed=_passed(deadline, today))


def _order_of_the_day(event: CaseEvent) -> tuple[dt.date, int, int]:
    """A day's liftings before its issues: "revoked and replaced" leaves the new one in force."""
    return (event.day, 0 if event.kind in LIFTING_KINDS else 1, event.id)


@dataclass
class _NoticeHistory:
    current: Notice | None = None
    last: Notice | None = None
    #: Event id -> how it ended: an issue's Notice once lifted, and a lifting's target.
    ends: dict[int, Notice] = field(default_factory=dict)


def _notice_in_force(timeline: Sequence[CaseEvent]) -> tuple[Notice | None, dict[int, Notice]]:
    """(the notice or direction in force, else the last one (lifted); each issue's end, and
    each lifting's target, by event id)."""
    history = _NoticeHistory()
    moments = [e for e in timeline if e.kind in NOTICE_KINDS | LIFTING_KINDS]
    for event in sorted(moments, key=_order_of_the_day):
        if event.kind in LIFTING_KINDS:
            _lift(history, event)
        else:
            history.current = Notice(
                event.id, event.kind, event.day, deadline_of(event.kind, event.fields)
            )
            history.last = history.current
    return history.current or history.last, history.ends


def _lift(history: _NoticeHistory, event: CaseEvent) -> None:
    """A lifting ends what is in force; with nothing in force it is news of a lifting (the
    notice older than anything recorded), kept when no notice is known at all."""
    current = history.current
    if current is not None:
        assert current.event_id is not None
        lifted = replace(current, lifted_on=event.day)
        history.ends[current.event_id] = history.ends[event.id] = lifted
        history.current, history.last = None, lifted
        return
    # Nothing in force: news of a lifting already recorded (it lifted the last one), or of one
    # whose notice is older than anything recorded.
    if history.last is None:
        history.last = Notice(None, None, None, lifted_on=event.day)
    elif history.last.kind is not None:
        history.ends[event.id] = history.last


def _latest_inspection(timeline: Sequence[CaseEvent]) -> Inspection | None:
    inspections = [e for e in timeline if is_inspection(e.kind, e.outcome)]
    if not inspections:
        return None
    latest = inspections[-1]
    assert latest.outcome is not None
    return Inspection(latest.id, latest.kind, latest.day, latest.outcome)


def _latest_follow_up(
    timeline: Sequence[CaseEvent], after: dt.date | None, before: dt.date | None
) -> FollowUp | None:
    """The latest monitoring inspection or revisit after `after` and before `before`; one
    with a result before news of one."""
    found = [
        e
        for e in timeline
        if e.kind in MONITORING_KINDS
        and (after is None or e.day > after)
        and (before is None or e.day < before)
    ]
    if not found:
        return None
    latest = max(found, key=lambda e: (e.day, e.outcome is not None, e.id))
    return follow_up(latest)


def _due_after(
    timeline: Sequence[CaseEvent], inspection: Inspection | None, monitoring: FollowUp | None
) -> tuple[dt.date | None, dt.date | None]:
    """(next full inspection, monitoring inspection still expected) after the latest report."""
    if inspection is None:
        return None, None
    report = next(e for e in timeline if e.id == inspection.event_id)
    full, monitoring_due = inspections_due(
        inspection.outcome, inspection.published_on, report.fields
    )
    if monitoring_due is not None and monitoring is not None:
        monitoring_due = None  # it has happened
    return full, monitoring_due


def _threads(timeline: Sequence[CaseEvent]) -> dict[int, Thread | None]:
    """Each event's thread (see the module's docstring)."""
    heads = [e for e in timeline if is_inspection(e.kind, e.outcome)]
    notices = [e for e in timeline if e.kind in NOTICE_KINDS]
    threads: dict[int, Thread | None] = {}
    for event in timeline:
        if is_inspection(event.kind, event.outcome):
            threads[event.id] = _thread(event)
            continue
        inspection = [h for h in heads if h.day <= event.day + THREAD_LEAD]
        notice = [h for h in notices if h.day <= event.day]
        chosen = inspection or notice
        threads[event.id] = _thread(max(chosen, key=lambda h: (h.day, h.id))) if chosen else None
    return threads


def _thread(head: CaseEvent) -> Thread:
    return Thread(head.id, head.kind, head.title, head.day, head.happened_on)


def _facts(
    event: CaseEvent, state: CaseState, thread: Thread | None, ended: Notice | None
) -> EventFacts:
    deadline = deadline_of(event.kind, event.fields)
    facts = EventFacts(
        deadline=deadline, deadline_passed=_passed(deadline, state.as_of), thread=thread
    )
    if event.kind in NOTICE_KINDS:
        lifted_on = ended.lifted_on if ended is not None else None
        in_force = lifted_on is None and _is_current(event, state)
        return replace(facts, in_force=in_force, lifted_on=lifted_on)
    if event.kind in LIFTING_KINDS:
        return replace(facts, lifts=ended.kind if ended is not None else None)
    if event.kind in MONITORING_KINDS:
        return replace(facts, follow_up=follow_up(event))
    if is_inspection(event.kind, event.outcome):
        return replace(facts, follow_up=_followed_by(event, state), **_due_facts(event, state))
    return facts


def _followed_by(event: CaseEvent, state: CaseState) -> FollowUp | None:
    """The latest monitoring inspection or revisit after an inspection, before the next one."""
    later = [
        e.day for e in state.timeline if is_inspection(e.kind, e.outcome) and e.day > event.day
    ]
    return _latest_follow_up(state.timeline, event.day, min(later, default=None))


def _is_current(event: CaseEvent, state: CaseState) -> bool:
    """Whether this issue is the one in force (a later notice replaces an earlier one)."""
    return state.notice is not None and state.notice.in_force and state.notice.event_id == event.id


def _due_facts(event: CaseEvent, state: CaseState) -> dict[str, Any]:
    """When the inspection after a report is due. The council's latest report answers with the
    case (a monitoring inspection since then is no longer due); an older one with what it set,
    never overdue (it was followed)."""
    if state.inspection is not None and state.inspection.event_id == event.id:
        return {
            "next_inspection_due": state.next_inspection_due,
            "next_inspection_kind": state.next_inspection_kind,
            "overdue": state.overdue,
        }
    full, monitoring = inspections_due(event.outcome, event.day, event.fields)
    due = [day for day in (monitoring, full) if day]
    if not due:
        return {}
    first = min(due)
    return {
        "next_inspection_due": first,
        "next_inspection_kind": MONITORING if first == monitoring else FULL,
    }
