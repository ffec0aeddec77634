"""One summary per event: what happened, to which LA, when, the outcome or deadline, and the sources.

Pure data, built once and rendered for every channel (email, Telegram, feeds), so
the channels never disagree. Everything scraped is kept as plain text here; each
renderer escapes it for its own format.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sendwatch.text import web_url, xml_safe
from sendwatch.vocab import Kind, Outcome
from storage.las import LocalAuthority, register
from storage.models import Event

KIND_LABELS: dict[str, str] = {
    Kind.IMPROVEMENT_NOTICE: "Improvement notice issued",
    Kind.NOTICE_LIFTED: "Improvement notice lifted",
    Kind.STATUTORY_DIRECTION: "Statutory direction issued",
    Kind.INSPECTION_REPORT: "Area SEND inspection report",
    Kind.MONITORING_INSPECTION: "Area SEND monitoring inspection",
    Kind.WSOA: "Written Statement of Action",
    Kind.COUNCIL_PAPER: "Council meeting paper",
    Kind.NEWS: "SEND news",
}
OUTCOME_LABELS: dict[str, str] = {
    Outcome.POSITIVE: "Positive experiences and outcomes (the best of three outcomes)",
    Outcome.INCONSISTENT: "Inconsistent experiences and outcomes (the middle of three outcomes)",
    Outcome.SIGNIFICANT_CONCERNS: "Widespread and/or systemic failings leading to significant concerns (the worst of three outcomes)",
    Outcome.WSOA_REQUIRED: "A Written Statement of Action is required",
    Outcome.NO_WSOA: "No Written Statement of Action required",
}
# Each source's label is its registry entry's (imported here, beside its one use).
from sendwatch.sources import labels as _source_labels  # noqa: E402

SOURCE_LABELS: dict[str, str] = _source_labels()


@dataclass(frozen=True)
class Link:
    label: str
    url: str

    @property
    def href(self) -> str | None:
        """The URL when it may be a link (http or https); anything else is shown as text."""
        return web_url(self.url)


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

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def outcome_label(self) -> str | None:
        return OUTCOME_LABELS.get(self.outcome, self.outcome) if self.outcome else None

    @property
    def la_name(self) -> str:
        return self.la.name if self.la else "England (council not identified)"


#: How a paper's case is named, by the kind of the thread's head.
FOLLOWS: dict[str, str] = {
    Kind.INSPECTION_REPORT: "follows the area SEND inspection published {day}",
    Kind.IMPROVEMENT_NOTICE: "follows the improvement notice of {day}",
    Kind.STATUTORY_DIRECTION: "follows the statutory direction of {day}",
}


def follows(thread: Event | None) -> str | None:
    """What a paper in `thread` follows, in words; None without a thread."""
    if thread is None:
        return None
    day = format_date(thread.happened_on or thread.created_at.date())
    template = FOLLOWS.get(thread.kind)
    if template is None:
        return f"follows the {KIND_LABELS.get(thread.kind, thread.kind).lower()} of {day}"
    return template.format(day=day)


def summarise(
    event: Event, thread: Event | None = None, *, today: dt.date | None = None
) -> Summary:
    """The event's summary; its findings must be loaded. `thread` is the case it belongs to
    (`storage.queries.threads_for`), named in a council paper's alert; `today` (the real
    today unless given) says whether its deadline has passed."""
    la = register().get(event.la_code) if event.la_code else None
    # Cleaned again here, whatever the store holds: every channel renders from this.
    title = xml_safe(event.title)
    headline = f"{KIND_LABELS.get(event.kind, event.kind)}: {la.name if la else title}"
    links = []
    deadline = None
    for finding in event.findings:
        links.append(Link(SOURCE_LABELS.get(finding.source, finding.source), xml_safe(finding.url)))
        if deadline is None and finding.fields.get("deadline"):
            deadline = dt.date.fromisoformat(str(finding.fields["deadline"]))
    return Summary(
        event_id=event.id,
        kind=event.kind,
        headline=headline,
        title=title,
        la=la,
        happened_on=event.happened_on,
        outcome=event.outcome,
        deadline=deadline,
        text=xml_safe(event.summary),
        links=tuple(dict.fromkeys(links)),
        created_at=event.created_at,
        updated_at=event.updated_at,
        follows=follows(thread) if event.kind == Kind.COUNCIL_PAPER else None,
        deadline_passed=deadline is not None and deadline < (today or dt.date.today()),
    )


def format_date(value: dt.date | None) -> str:
    """UK style, "1 May 2024"."""
    return f"{value.day} {value:%B %Y}" if value else "date not stated"
