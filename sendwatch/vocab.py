"""The one vocabulary of event kinds, inspection outcomes and crawl results.

Crawler, store, alerts, feeds and exports all speak these exact strings; they are
part of the public interface (CLI flags, feed categories, export columns), so a
value here is never renamed, only added.
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


#: Kinds that describe one real-world happening which several sources may report;
#: findings of these kinds about the same LA close together in time share an event.
#: (A council's papers are each their own event: a cabinet and a scrutiny panel discussing
#: the same inspection in one month are two things to read, not one.)
LINKABLE_KINDS: frozenset[Kind] = frozenset(set(Kind) - {Kind.NEWS, Kind.COUNCIL_PAPER})

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
