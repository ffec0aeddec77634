"""A council's record with the Ombudsman: what its SEND decisions of the last 12 months come to.

Pure, like `sendwatch.case`: a function of the council's `ombudsman_decision` events (their
outcome, day and the remedy their finding states) and of today. The council's page, `/api/las`
and `sendwatch status --la --json` all show this one record, so they never disagree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from sendwatch.vocab import OmbudsmanOutcome

#: The record's window: the last twelve months, to today.
WINDOW_DAYS = 365
#: How many of the latest decisions the record shows.
LATEST = 3


class Decision(NamedTuple):
    """One of the council's Ombudsman decisions, as the record needs it."""

    event_id: int
    day: dt.date
    outcome: str | None
    title: str
    url: str
    #: The remedy the decision's summary states, in pounds (None: none stated).
    remedy_gbp: float | None = None


@dataclass(frozen=True)
class OmbudsmanRecord:
    """The council's Ombudsman decisions: of the last 12 months, how many, how many upheld,
    the remedies stated in total; and the latest few, whenever they were."""

    decisions: int
    upheld: int
    remedies_gbp: float
    latest: tuple[Decision, ...]
    since: dt.date

    @property
    def empty(self) -> bool:
        return not self.latest


def ombudsman_record(decisions: Iterable[Decision], today: dt.date) -> OmbudsmanRecord:
    """The record as of `today`: the window's counts and total, and the latest `LATEST`."""
    since = today - dt.timedelta(days=WINDOW_DAYS)
    every = sorted(decisions, key=lambda d: (d.day, d.event_id), reverse=True)
    recent = [d for d in every if since < d.day <= today]
    total = sum(d.remedy_gbp or 0 for d in recent)
    return OmbudsmanRecord(
        decisions=len(recent),
        upheld=sum(1 for d in recent if d.outcome == OmbudsmanOutcome.UPHELD),
        remedies_gbp=int(total) if float(total).is_integer() else round(total, 2),
        latest=tuple(every[:LATEST]),
        since=since,
    )
