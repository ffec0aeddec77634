"""The one vocabulary of event kinds, outcomes and crawl results.

Crawler, store, alerts, feeds and exports all speak these exact strings; they are
part of the public interface (CLI flags, feed categories, export columns), so a
value here is never renamed, only added.

An event's `outcome` is one column of one vocabulary, read by the event's kind: an area SEND
inspection's is an `Outcome`, an Ombudsman decision's an `OmbudsmanOutcome` (what the Local
Government and Social Care Ombudsman decided on a complaint: a different question, so a
different enum, never compared with an inspection's). Both say `unrecognised` for a label the
vocabulary does not know yet: the event is recorded, and the maintainer alarmed.
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """What happened to a local area's SEND services."""

    IMPROVEMENT_NOTICE = "improvement_notice"
    NOTICE_LIFTED = "notice_lifted"
    STATUTORY_DIRECTION = "statutory_direction"
    INSPECTION_REPORT = "inspection_report"
    MONITORING_INSPECTION = "monitoring_inspection"
    WSOA = "wsoa"
    #: An agenda item or minutes of a council meeting about its SEND inspection or notice.
    COUNCIL_PAPER = "council_paper"
    NEWS = "news"
    #: The Local Government and Social Care Ombudsman's decision on a complaint about the
    #: council's SEND work (its "Education > Special educational needs" category).
    OMBUDSMAN_DECISION = "ombudsman_decision"


class Outcome(StrEnum):
    """What an area SEND inspection, monitoring inspection or revisit found.

    A full inspection's outcome: the first three are the 2023 framework's; the next two the
    2016-2022 framework's, whose only verdict was whether a Written Statement of Action was
    required. A monitoring inspection's or a revisit's result is the progress it found on the
    weaknesses or priority actions the inspection named: all of them (`sufficient_progress`),
    some of them (`partial_progress`: "sufficient progress in addressing 3 of the 5 areas of
    significant weakness"), or none (`insufficient_progress`). A report whose result no rule
    reads is `unrecognised`, never blank and never guessed: it is recorded, the sentence that
    could not be placed is kept (`outcome_unread`), and the maintainer is told.
    """

    POSITIVE = "positive"
    INCONSISTENT = "inconsistent"
    SIGNIFICANT_CONCERNS = "significant_concerns"
    WSOA_REQUIRED = "wsoa_required"
    NO_WSOA = "no_wsoa"
    SUFFICIENT_PROGRESS = "sufficient_progress"
    PARTIAL_PROGRESS = "partial_progress"
    INSUFFICIENT_PROGRESS = "insufficient_progress"
    UNRECOGNISED = "unrecognised"


#: A full inspection's outcomes (both frameworks), the best first.
INSPECTION_OUTCOMES: tuple[Outcome, ...] = (
    Outcome.POSITIVE,
    Outcome.INCONSISTENT,
    Outcome.SIGNIFICANT_CONCERNS,
    Outcome.NO_WSOA,
    Outcome.WSOA_REQUIRED,
)
#: A monitoring inspection's or revisit's results, the best first.
PROGRESS_OUTCOMES: tuple[Outcome, ...] = (
    Outcome.SUFFICIENT_PROGRESS,
    Outcome.PARTIAL_PROGRESS,
    Outcome.INSUFFICIENT_PROGRESS,
)


def outcome_read(outcome: str | None) -> bool:
    """An outcome some rule read: neither missing nor `unrecognised`."""
    return outcome is not None and outcome != Outcome.UNRECOGNISED


def joined_outcome(kept: str | None, told: str | None) -> str | None:
    """An event's outcome once another report of it tells `told`: the one it `kept` stands
    when it was read; an outcome read takes the place of an unread one, never the other way."""
    if outcome_read(kept):
        return kept
    return told if outcome_read(told) or kept is None else kept


class OmbudsmanOutcome(StrEnum):
    """What the Ombudsman decided on a complaint, as its decision's "Decision :" label says.

    The labels the Ombudsman publishes (its decisions pages and the category listing) are read
    by `ombudsman_outcome`; one it qualifies ("Upheld: maladministration and injustice", the
    older wording) is the outcome before the colon.
    """

    #: "Upheld": fault (maladministration or service failure), usually with a remedy.
    UPHELD = "upheld"
    #: "Not upheld": no fault found.
    NOT_UPHELD = "not_upheld"
    #: "Closed after initial enquiries": not investigated (out of jurisdiction, a tribunal
    #: appeal, no worthwhile outcome).
    CLOSED_AFTER_INITIAL_ENQUIRIES = "closed_after_initial_enquiries"
    #: "Investigation discontinued".
    INVESTIGATION_DISCONTINUED = "investigation_discontinued"
    #: "Advice given".
    ADVICE_GIVEN = "advice_given"
    #: "Referred back for local resolution": the council had not finished with it.
    REFERRED_BACK = "referred_back"
    #: "Incomplete/Invalid".
    INCOMPLETE_OR_INVALID = "incomplete_or_invalid"
    #: A label none of the above: recorded so, and alarmed (the same word as `Outcome`'s).
    UNRECOGNISED = "unrecognised"


#: The Ombudsman's labels (lower case, before any colon) -> the outcome.
OMBUDSMAN_LABELS: dict[str, OmbudsmanOutcome] = {
    "upheld": OmbudsmanOutcome.UPHELD,
    "not upheld": OmbudsmanOutcome.NOT_UPHELD,
    "closed after initial enquiries": OmbudsmanOutcome.CLOSED_AFTER_INITIAL_ENQUIRIES,
    "investigation discontinued": OmbudsmanOutcome.INVESTIGATION_DISCONTINUED,
    "advice given": OmbudsmanOutcome.ADVICE_GIVEN,
    "referred back for local resolution": OmbudsmanOutcome.REFERRED_BACK,
    "incomplete/invalid": OmbudsmanOutcome.INCOMPLETE_OR_INVALID,
}


def ombudsman_outcome(label: str) -> OmbudsmanOutcome:
    """The outcome a decision's label states ("Upheld", "Not upheld: no maladministration"),
    `UNRECOGNISED` for any other."""
    words = " ".join(label.replace("\u2019", "'").split()).lower()
    for key in (words, words.split(":", 1)[0].strip()):
        if key in OMBUDSMAN_LABELS:
            return OMBUDSMAN_LABELS[key]
    return OmbudsmanOutcome.UNRECOGNISED


def outcome_for(kind: Kind | str, value: str | None) -> Outcome | OmbudsmanOutcome | None:
    """An event's outcome in its kind's vocabulary (a ValueError for a word not in it)."""
    if value is None:
        return None
    if Kind(kind) is Kind.OMBUDSMAN_DECISION:
        return OmbudsmanOutcome(value)
    return Outcome(value)


#: Kinds that describe one real-world happening which several sources may report;
#: findings of these kinds about the same LA close together in time share an event.
#: (A council's papers are each their own event: a cabinet and a scrutiny panel discussing
#: the same inspection in one month are two things to read, not one.)
#: (An Ombudsman decision is its own event too: its case number is its identity.)
LINKABLE_KINDS: frozenset[Kind] = frozenset(
    set(Kind) - {Kind.NEWS, Kind.COUNCIL_PAPER, Kind.OMBUDSMAN_DECISION}
)

#: Kinds one happening is reported as by different sources, which therefore share an event:
#: Ofsted's statistics record a 2016-2022 inspection as its verdict, a `wsoa` (required or
#: not), where the report itself is an `inspection_report` with that outcome. (Years apart,
#: a 2023-framework report and an old Written Statement of Action never meet in the window.)
SAME_HAPPENING: dict[Kind, frozenset[Kind]] = {
    Kind.INSPECTION_REPORT: frozenset({Kind.INSPECTION_REPORT, Kind.WSOA}),
    Kind.WSOA: frozenset({Kind.INSPECTION_REPORT, Kind.WSOA}),
}


def linked_kinds(kind: Kind | str) -> list[str]:
    """The kinds of event a finding of `kind` may join (its own, at least), sorted."""
    return sorted(str(k) for k in SAME_HAPPENING.get(Kind(kind), frozenset({Kind(kind)})))


class CrawlResult(StrEnum):
    """What one crawl of one source came to, in the words `sendwatch crawl` and `sendwatch
    status` show and the store keeps (decided once, by `crawler.verdict.decide`)."""

    #: The listings and the documents they named were read.
    OK = "ok"
    #: The listing named nothing: an alarm when the source had items before, else no failure.
    #: (`sendwatch crawl` prints it as `empty_listing`.)
    EMPTY = "empty"
    #: A listing could not be read, the layout changed, or too many documents failed.
    FAILED = "failed"
    #: As failed, but the answer was 403: a firewall in front of the site.
    BLOCKED = "blocked"
    #: Stopped by a signal before it finished: says nothing of the source's health, not kept.
    STOPPED = "stopped"
