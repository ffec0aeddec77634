"""One summary per event: what happened, to which LA, when, what the case says of it (outcome,
deadline, in force or lifted, the next inspection due), and the sources.

Pure data, built once and rendered for every channel (email, Telegram, Apprise, webhooks,
feeds, the pages), so the channels never disagree. What the case says comes from
`sendwatch.case` (through `storage.queries.event_facts`), worded here once as `facts`, the
lines every channel shows. Everything scraped is kept as plain text here; each renderer
escapes it for its own format.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sendwatch.case import MONITORING, CaseState, EventFacts, FollowUp, Thread, lone_facts
from sendwatch.sources import labels as source_labels
from sendwatch.text import web_url, xml_safe
from sendwatch.vocab import Kind, OmbudsmanOutcome, Outcome
from storage.las import LocalAuthority, register
from storage.models import Event
from storage.queries import case_event

KIND_LABELS: dict[str, str] = {
    Kind.IMPROVEMENT_NOTICE: "Improvement notice issued",
    Kind.NOTICE_LIFTED: "Improvement notice lifted",
    Kind.STATUTORY_DIRECTION: "Statutory direction issued",
    Kind.INSPECTION_REPORT: "Area SEND inspection report",
    Kind.MONITORING_INSPECTION: "Area SEND monitoring inspection",
    Kind.WSOA: "Written Statement of Action",
    Kind.COUNCIL_PAPER: "Council meeting paper",
    Kind.NEWS: "SEND news",
    Kind.OMBUDSMAN_DECISION: "Ombudsman decision",
}
#: A lifting, by what it lifted (the case knows): a direction is never called a notice.
LIFTED_LABELS: dict[str, str] = {
    Kind.IMPROVEMENT_NOTICE: "Improvement notice lifted",
    Kind.STATUTORY_DIRECTION: "Statutory direction revoked",
}
OUTCOME_LABELS: dict[str, str] = {
    Outcome.POSITIVE: "Positive experiences and outcomes (the best of three outcomes)",
    Outcome.INCONSISTENT: "Inconsistent experiences and outcomes (the middle of three outcomes)",
    Outcome.SIGNIFICANT_CONCERNS: "Widespread and/or systemic failings leading to significant concerns (the worst of three outcomes)",
    Outcome.WSOA_REQUIRED: "A Written Statement of Action is required",
    Outcome.NO_WSOA: "No Written Statement of Action required",
    Outcome.SUFFICIENT_PROGRESS: "Sufficient progress on every area it followed up",
    Outcome.PARTIAL_PROGRESS: "Sufficient progress on some of the areas it followed up",
    Outcome.INSUFFICIENT_PROGRESS: "Not sufficient progress on the areas it followed up",
    Outcome.UNRECOGNISED: "Outcome not read: see the report",
    **{
        OmbudsmanOutcome.UPHELD: "Upheld: the Ombudsman found fault",
        OmbudsmanOutcome.NOT_UPHELD: "Not upheld: the Ombudsman found no fault",
        OmbudsmanOutcome.CLOSED_AFTER_INITIAL_ENQUIRIES: "Closed after initial enquiries (not investigated)",
        OmbudsmanOutcome.INVESTIGATION_DISCONTINUED: "Investigation discontinued",
        OmbudsmanOutcome.ADVICE_GIVEN: "Advice given",
        OmbudsmanOutcome.REFERRED_BACK: "Referred back to the council for local resolution",
        OmbudsmanOutcome.INCOMPLETE_OR_INVALID: "Incomplete or invalid",
    },
}


@dataclass(frozen=True)
class Link:
    label: str
    url: str

    @property
    def href(self) -> str | None:
        """The URL when it may be a link (http or https); anything else is shown as text."""
        return web_url(self.url)


@dataclass(frozen=True)
class Fact:
    """One line of what the case says of an event: "Deadline: passed 31 August 2025"."""

    label: str
    value: str
    #: Worth emphasis where the format has it (a passed deadline, an overdue inspection).
    strong: bool = False

    def __str__(self) -> str:
        return f"{self.label}: {self.value}"


@dataclass(frozen=True)
class Summary:
    event_id: int
    kind: str
    headline: str
    title: str
    la: LocalAuthority | None
    happened_on: dt.date | None
    outcome: str | None
    deadline: dt.date | None
    text: str
    links: tuple[Link, ...]
    created_at: dt.datetime
    updated_at: dt.datetime
    #: For a council paper, the case it belongs to: "follows the area SEND inspection
    #: published 23 February 2024"; None when it has no thread (or is not a paper).
    follows: str | None = None
    #: The deadline is before the day the summary was made: a notice past its deadline
    #: reads "deadline passed 31 August 2025", not as if there were time left.
    deadline_passed: bool = False
    #: What the case says of the event, a line each, in the order every channel shows them.
    facts: tuple[Fact, ...] = ()
    #: On a lifting: what it lifted (`statutory_direction`, `improvement_notice`), if known.
    lifts: str | None = None

    @property
    def kind_label(self) -> str:
        return kind_label(self.kind, self.lifts)

    @property
    def outcome_label(self) -> str | None:
        return OUTCOME_LABELS.get(self.outcome, self.outcome) if self.outcome else None

    @property
    def la_name(self) -> str:
        return self.la.name if self.la else "England (council not identified)"


def kind_label(kind: str, lifts: str | None = None) -> str:
    """ "Improvement notice issued"; a lifting named by what it lifted, when that is known."""
    if kind == Kind.NOTICE_LIFTED and lifts in LIFTED_LABELS:
        return LIFTED_LABELS[lifts]
    return KIND_LABELS.get(kind, kind)


#: How a paper's case is named, by the kind of the thread's head.
FOLLOWS: dict[str, str] = {
    Kind.INSPECTION_REPORT: "follows the area SEND inspection published {day}",
    Kind.IMPROVEMENT_NOTICE: "follows the improvement notice of {day}",
    Kind.STATUTORY_DIRECTION: "follows the statutory direction of {day}",
}


def follows(thread: Thread | None) -> str | None:
    """What a paper in `thread` follows, in words; None without a thread."""
    if thread is None:
        return None
    day = format_date(thread.day)
    template = FOLLOWS.get(thread.kind)
    if template is None:
        return f"follows the {KIND_LABELS.get(thread.kind, thread.kind).lower()} of {day}"
    return template.format(day=day)


def summarise(
    event: Event, facts: EventFacts | None = None, *, today: dt.date | None = None
) -> Summary:
    """The event's summary; its findings must be loaded. `facts` is what its council's case
    says of it (`storage.queries.event_facts`: the thread it follows, its deadline, status and
    what is due); without them, what the event says on its own, as of `today`."""
    facts = facts or lone_facts(case_event(event), today or dt.date.today())
    la = register().get(event.la_code) if event.la_code else None
    # Cleaned again here, whatever the store holds: every channel renders from this.
    title = xml_safe(event.title)
    label = kind_label(event.kind, facts.lifts)
    named = source_labels()  # each source's label is its registry entry's
    links = [
        Link(named.get(finding.source, finding.source), xml_safe(finding.url))
        for finding in event.findings
    ]
    return Summary(
        event_id=event.id,
        kind=event.kind,
        headline=f"{label}: {la.name if la else title}",
        title=title,
        la=la,
        happened_on=event.happened_on,
        outcome=event.outcome,
        deadline=facts.deadline,
        text=xml_safe(event.summary),
        links=tuple(dict.fromkeys(links)),
        created_at=event.created_at,
        updated_at=event.updated_at,
        follows=follows(facts.thread) if event.kind == Kind.COUNCIL_PAPER else None,
        deadline_passed=facts.deadline_passed,
        facts=fact_lines(event.kind, event.happened_on, event.outcome, facts),
        lifts=facts.lifts,
    )


def fact_lines(
    kind: str, happened_on: dt.date | None, outcome: str | None, facts: EventFacts
) -> tuple[Fact, ...]:
    """What the case says of an event, worded once for every channel."""
    lines = [Fact("When", format_date(happened_on))]
    if kind == Kind.MONITORING_INSPECTION and facts.follow_up is not None:
        lines.append(Fact("Result", result_words(facts.follow_up)))
    elif outcome:
        lines.append(Fact("Outcome", OUTCOME_LABELS.get(outcome, outcome)))
    if kind != Kind.MONITORING_INSPECTION and facts.follow_up is not None:
        lines.append(Fact(CASE_FOLLOW_UP, follow_up_words(facts.follow_up)))
    if facts.in_force is not None:
        lines.append(Fact("Status", _status(kind, facts)))
    if facts.deadline:
        passed = facts.deadline_passed
        lines.append(
            Fact("Deadline", f"{'passed ' if passed else ''}{format_date(facts.deadline)}", passed)
        )
    if facts.next_inspection_due:
        due = _due_words(facts.next_inspection_kind, facts.next_inspection_due, facts.overdue)
        lines.append(Fact("Next inspection", due, facts.overdue))
    return tuple(lines)


#: The labels of a council's case, as its page, the bot's /status and the CLI show it.
CASE_INSPECTION, CASE_FOLLOW_UP, CASE_NOTICE, CASE_NEXT = (
    "Latest area SEND inspection",
    "Since then",
    "Notice or direction",
    "Next area SEND inspection",
)


def case_lines(state: CaseState | None) -> tuple[Fact, ...]:
    """A council's case in words, a line each: its latest inspection, the notice or direction in
    force (or the last, lifted), and the next inspection due. What `sendwatch.case` decided,
    worded once for the council's page, the bot's /status and `sendwatch status --la`."""
    follow = state.monitoring if state else None
    return (
        _inspection_line(state),
        *([Fact(CASE_FOLLOW_UP, follow_up_words(follow))] if follow else []),
        _notice_line(state),
        _next_line(state),
    )


def follow_up_words(follow: FollowUp) -> str:
    """What followed an inspection: "revisit published 3 March 2020: sufficient progress in
    addressing 3 of the 5 areas (2 left)"."""
    what = "revisit" if follow.revisit else "monitoring inspection"
    return f"{what} published {format_date(follow.published_on)}: {result_words(follow)}"


def result_words(follow: FollowUp) -> str:
    """A monitoring inspection's or revisit's result in words, with the areas it counted."""
    if follow.outcome is None:
        return "result not stated"
    if follow.outcome == Outcome.UNRECOGNISED:
        return OUTCOME_LABELS[Outcome.UNRECOGNISED].lower()
    done, total, left = follow.areas_addressed, follow.areas_total, follow.areas_left
    if follow.outcome == Outcome.PARTIAL_PROGRESS and done is not None and total is not None:
        return f"sufficient progress in addressing {done} of the {total} areas ({left} left)"
    if follow.outcome == Outcome.SUFFICIENT_PROGRESS:
        return "sufficient progress in addressing " + (
            f"all {total} areas" if total else "every area"
        )
    if follow.outcome == Outcome.INSUFFICIENT_PROGRESS:
        return "not sufficient progress in addressing the areas" + (
            f" ({total} left)" if total else ""
        )
    return OUTCOME_LABELS.get(follow.outcome, follow.outcome).lower()


def _inspection_line(state: CaseState | None) -> Fact:
    inspection = state.inspection if state else None
    if inspection is None:
        return Fact(CASE_INSPECTION, "none recorded")
    outcome = OUTCOME_LABELS.get(inspection.outcome, inspection.outcome)
    return Fact(CASE_INSPECTION, f"{outcome}, published {format_date(inspection.published_on)}")


def _notice_line(state: CaseState | None) -> Fact:
    notice = state.notice if state else None
    if state is None or notice is None:
        return Fact(CASE_NOTICE, "none recorded")
    if not notice.in_force:
        lifted = LIFTED_LABELS.get(notice.kind or "", "Improvement notice or direction lifted")
        return Fact(CASE_NOTICE, f"{lifted} on {format_date(notice.lifted_on)}")
    what = kind_label(notice.kind or "").removesuffix(" issued")
    words = f"{what} in force since {format_date(notice.issued_on)}"
    if notice.deadline is None:
        return Fact(CASE_NOTICE, words)
    passed = state.deadline_passed
    deadline = f"deadline {'passed ' if passed else ''}{format_date(notice.deadline)}"
    return Fact(CASE_NOTICE, f"{words}; {deadline}", passed)


def _next_line(state: CaseState | None) -> Fact:
    if state is None or state.next_inspection_due is None:
        return Fact(CASE_NEXT, "not known")
    words = _due_words(state.next_inspection_kind, state.next_inspection_due, state.overdue)
    if state.next_inspection_kind == MONITORING and state.full_inspection_due:
        words += f", then a full inspection by {format_date(state.full_inspection_due)}"
    return Fact(CASE_NEXT, words, state.overdue)


def _status(kind: str, facts: EventFacts) -> str:
    """A notice's or direction's status: in force, lifted (a direction: revoked), or replaced."""
    if facts.in_force:
        return "in force"
    if facts.lifted_on:
        ended = "revoked" if kind == Kind.STATUTORY_DIRECTION else "lifted"
        return f"{ended} on {format_date(facts.lifted_on)}"
    return "no longer in force: a later notice or direction replaced it"


def _due_words(kind: str | None, due: dt.date | None, overdue: bool) -> str:
    """ "a monitoring inspection due by 23 August 2025 (overdue)"."""
    which = "a monitoring inspection" if kind == MONITORING else "a full inspection"
    return f"{which} due by {format_date(due)}{' (overdue)' if overdue else ''}"


def format_date(value: dt.date | None) -> str:
    """UK style, "1 May 2024"."""
    return f"{value.day} {value:%B %Y}" if value else "date not stated"
