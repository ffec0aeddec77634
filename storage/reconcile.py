"""Reconciliation: Ofsted's own statistics against what the `ofsted` crawl found.

Ofsted's area SEND statistics (the `statistics` source) list every published area SEND
inspection. Each one should also have been found on Ofsted's reports site (the `ofsted`
source): the same happening, as the store links it (`sendwatch.case`: the same council, the
same kind of report, published within `WINDOW` of each other), so a statistics row and a
report are one event on every page exactly when they are no discrepancy here. Two kinds of
discrepancy follow:

* `missing`: a report in Ofsted's data that no `ofsted` finding matches (our crawl missed
  it, or Ofsted's site lists it under a label we do not read);
* `outcome`: both have it, and the outcomes they state disagree.

A full inspection matches a full report (`inspection_report` or `wsoa`: the 2016-2022
reports are `inspection_report` findings with a WSOA outcome), a revisit a
`monitoring_inspection`. Nothing is compared until both sources have completed a crawl:
before the reports site has been read once, every report would be "missing".

The daemon runs `raise_alarms` after each crawl of either source: one maintainer alarm per
new discrepancy, remembered in the store's marks (source `reconcile`) so that it is raised
once, and resolved (its recovery told) when the discrepancy is gone.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from sendwatch.case import SAME_HAPPENING_WINDOW
from sendwatch.sources import labels
from sendwatch.vocab import Kind
from storage.las import register
from storage.models import Alarm, Finding
from storage.store import Store

STATISTICS = "statistics"
OFSTED = "ofsted"
#: How far apart the two sources' dates may be for one report: the store's one window.
WINDOW = SAME_HAPPENING_WINDOW
#: The marks' source under which alarmed discrepancies are remembered.
MARKS_SOURCE = "reconcile"
RESOLVED = "resolved"
FULL = frozenset({str(Kind.INSPECTION_REPORT), str(Kind.WSOA)})
REVISIT = frozenset({str(Kind.MONITORING_INSPECTION)})
COMPARED = FULL | REVISIT


@dataclass(frozen=True)
class Side:
    """What one source says of a report."""

    source: str
    kind: str
    published_on: dt.date | None
    outcome: str | None
    title: str
    url: str

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.kind,
            "published_on": self.published_on.isoformat() if self.published_on else None,
            "outcome": self.outcome,
            "title": self.title,
            "url": self.url,
        }


@dataclass(frozen=True)
class Discrepancy:
    """One report the two sources do not agree on."""

    #: "missing" (only in Ofsted's statistics) or "outcome" (the outcomes disagree).
    kind: str
    la_code: str
    la_name: str
    published_on: dt.date
    statistics: Side
    ofsted: Side | None

    @property
    def key(self) -> str:
        """Stable across runs: what the alarm is remembered by."""
        return f"{self.kind}:{self.statistics.kind}:{self.la_code}:{self.published_on.isoformat()}"

    def says(self) -> str:
        """What each source says, in a sentence."""
        ours = self.statistics
        stated = f"Ofsted's statistics: {_report_words(ours)}"
        if self.ofsted is None:
            return f"{stated}; Ofsted's reports site: no such report found"
        theirs = self.ofsted
        return f"{stated}; Ofsted's reports site: {_report_words(theirs)}"

    def line(self) -> str:
        """One line for `sendwatch reconcile` and the alarm."""
        what = "missing from the crawl" if self.kind == "missing" else "outcomes disagree"
        links = " ".join(side.url for side in (self.statistics, self.ofsted) if side is not None)
        return (
            f"{self.la_name} ({self.la_code}) {self.published_on.isoformat()}: {what}:"
            f" {self.says()} <{links}>"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "key": self.key,
            "local_authority": {"name": self.la_name, "ons_code": self.la_code},
            "published_on": self.published_on.isoformat(),
            "statistics": self.statistics.to_json(),
            "ofsted": self.ofsted.to_json() if self.ofsted else None,
            "summary": self.says(),
        }


@dataclass(frozen=True)
class Reconciliation:
    """The comparison, or why there is none yet."""

    discrepancies: tuple[Discrepancy, ...]
    #: Both sources have completed a crawl: the comparison means something.
    ready: bool
    #: Why not, when not ready.
    reason: str = ""
    compared: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "reason": self.reason or None,
            "compared": self.compared,
            "count": len(self.discrepancies),
            "discrepancies": [d.to_json() for d in self.discrepancies],
        }


def reconcile(store: Store) -> Reconciliation:
    """Compare every report in Ofsted's statistics with the `ofsted` findings."""
    waiting = [source for source in (STATISTICS, OFSTED) if not store.has_succeeded(source)]
    if waiting:
        return Reconciliation((), ready=False, reason=not_ready_reason(waiting))
    statistics, ofsted = _sides(store)
    found: list[Discrepancy] = []
    for la_code, event_id, side in statistics:
        discrepancy = _discrepancy(la_code, side, _match(side, ofsted.get(event_id, ())))
        if discrepancy is not None:
            found.append(discrepancy)
    found.sort(key=lambda d: (d.published_on, d.la_name, d.kind), reverse=True)
    return Reconciliation(tuple(found), ready=True, compared=len(statistics))


def not_ready_reason(waiting: Iterable[str]) -> str:
    """Why nothing is compared yet, in words, the sources by their labels: "nothing to compare
    yet: Ofsted's area SEND statistics and Ofsted reports have not been read in full yet"."""
    named = labels()
    return (
        f"nothing to compare yet: {' and '.join(named.get(s, s) for s in waiting)}"
        " have not been read in full yet"
    )


def _sides(store: Store) -> tuple[list[tuple[str, int, Side]], dict[int, list[Side]]]:
    """The statistics' reports (council, event, what they say) and the `ofsted` findings by
    the event the store linked them into."""
    with store.sessions() as session:
        rows = session.execute(
            select(
                Finding.source,
                Finding.la_code,
                Finding.event_id,
                Finding.kind,
                Finding.published_on,
                Finding.happened_on,
                Finding.outcome,
                Finding.title,
                Finding.url,
            )
            .where(
                Finding.source.in_((STATISTICS, OFSTED)),
                Finding.kind.in_(sorted(COMPARED)),
                Finding.la_code.is_not(None),
            )
            .order_by(Finding.id)
        ).all()
    statistics: list[tuple[str, int, Side]] = []
    ofsted: dict[int, list[Side]] = defaultdict(list)
    for source, la_code, event_id, kind, published, happened, outcome, title, url in rows:
        if la_code is None:
            continue
        side = Side(source, kind, published or happened, outcome, title, url)
        if source == STATISTICS and side.published_on is not None:
            statistics.append((la_code, event_id, side))
        elif source == OFSTED:
            ofsted[event_id].append(side)
    return statistics, ofsted


def _match(side: Side, same_event: Iterable[Side]) -> Side | None:
    """The `ofsted` report of the same happening: a finding the store linked into the same
    event (of the same kind of report), the nearest in date should there be several."""
    family = FULL if side.kind in FULL else REVISIT
    on = side.published_on
    assert on is not None

    def apart(other: Side) -> dt.timedelta:
        return abs(other.published_on - on) if other.published_on else dt.timedelta.max

    return min((other for other in same_event if other.kind in family), key=apart, default=None)


def _discrepancy(la_code: str, side: Side, match: Side | None) -> Discrepancy | None:
    la = register().get(la_code)
    name = la.name if la else la_code
    assert side.published_on is not None
    if match is None:
        return Discrepancy("missing", la_code, name, side.published_on, side, None)
    if side.outcome and match.outcome and side.outcome != match.outcome:
        return Discrepancy("outcome", la_code, name, side.published_on, side, match)
    return None


def _report_words(side: Side) -> str:
    published = side.published_on.isoformat() if side.published_on else "undated"
    outcome = side.outcome or "no outcome stated"
    return f"{side.kind.replace('_', ' ')} published {published}, {outcome}"


def alarm_source(discrepancy: Discrepancy) -> str:
    """The alarm's source: short enough for the alarms table (32 characters)."""
    return f"reconcile:{discrepancy.la_code}:{discrepancy.published_on.isoformat()}"


def raise_alarms(store: Store) -> list[Alarm]:
    """One maintainer alarm per discrepancy not alarmed before; resolve those now gone.

    Which were alarmed is kept in the marks (source `reconcile`, key the discrepancy's key,
    value the day it was raised, or `resolved`), so a discrepancy that stays is told once.
    """
    result = reconcile(store)
    if not result.ready:
        return []
    marks = store.marks(MARKS_SOURCE)
    current = {d.key: d for d in result.discrepancies}
    opened: list[Alarm] = []
    for key, discrepancy in current.items():
        if marks.get(key, RESOLVED) != RESOLVED:
            continue
        opened += store.raise_alarm(
            alarm_source(discrepancy), discrepancy.kind, f"reconcile: {discrepancy.line()}"
        )
        store.set_mark(MARKS_SOURCE, key, dt.date.today().isoformat())
    for key, value in marks.items():
        if value != RESOLVED and key not in current:
            kind, _report, la_code, day = key.split(":", 3)
            store.resolve_alarms(f"reconcile:{la_code}:{day}", kind)
            store.set_mark(MARKS_SOURCE, key, RESOLVED)
    return opened
