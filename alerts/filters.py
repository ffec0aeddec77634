"""Subscription filters: which events a subscription wants. None set means everything."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sendwatch.errors import SendwatchError
from sendwatch.text import quoted
from sendwatch.vocab import Kind
from storage.las import register, slugify
from storage.models import Event, Subscription

#: Short names people type for kinds (`--kind notice`), beside the exact vocabulary.
KIND_ALIASES: dict[str, Kind] = {
    "notice": Kind.IMPROVEMENT_NOTICE,
    "notices": Kind.IMPROVEMENT_NOTICE,
    "lifted": Kind.NOTICE_LIFTED,
    "direction": Kind.STATUTORY_DIRECTION,
    "directions": Kind.STATUTORY_DIRECTION,
    "inspection": Kind.INSPECTION_REPORT,
    "report": Kind.INSPECTION_REPORT,
    "monitoring": Kind.MONITORING_INSPECTION,
    "paper": Kind.COUNCIL_PAPER,
    "papers": Kind.COUNCIL_PAPER,
    "ombudsman": Kind.OMBUDSMAN_DECISION,
}


@dataclass(frozen=True)
class Filters:
    la_codes: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()

    def describe(self) -> str:
        las = register()
        parts = []
        if self.la_codes:
            parts.append(", ".join(la.name for code in self.la_codes if (la := las.get(code))))
        if self.regions:
            parts.append(", ".join(self.regions))
        if self.kinds:
            parts.append("kinds: " + ", ".join(self.kinds))
        return "; ".join(parts) or "everything"


#: Kinds sent only to those who asked for them by kind (`--kind papers`, `--kind ombudsman`),
#: and never in the national and regional feeds (each council's feed and their own feed have
#: them): a council's meeting papers are its own business, and an Ombudsman decision on one
#: family's complaint is a record to consult, not national news.
OPT_IN_KINDS = frozenset({Kind.COUNCIL_PAPER, Kind.OMBUDSMAN_DECISION})
#: Of those, the kinds that also go, unasked, to those who follow that very council.
COUNCIL_FOLLOWER_KINDS = frozenset({Kind.COUNCIL_PAPER})


def matches(subscription: Subscription, event: Event) -> bool:
    """Whether the event passes the subscription's filters (each set filter must pass)."""
    if subscription.kinds and event.kind not in subscription.kinds:
        return False
    if event.kind in OPT_IN_KINDS and not subscription.kinds:
        # Papers go to those who asked for papers, or for everything about that council; an
        # Ombudsman decision only to those who asked for it.
        return event.kind in COUNCIL_FOLLOWER_KINDS and event.la_code in subscription.la_codes
    if not subscription.la_codes and not subscription.regions:
        return True
    if event.la_code in subscription.la_codes:
        return True
    la = register().get(event.la_code) if event.la_code else None
    return la is not None and la.region in subscription.regions


def resolve_la(text: str) -> str:
    """An ONS code from a name, alias, slug or code (the register's one lookup, as the web and
    the bot use it); a clear error with suggestions otherwise."""
    las = register()
    la = las.lookup(text)
    if la is None:
        hint = ", ".join(candidate.name for candidate in las.suggestions(text, limit=3))
        message = f"no local authority called {quoted(text)}"
        raise SendwatchError(f"{message}; did you mean: {hint}?" if hint else message)
    return la.ons_code


def resolve_region(text: str) -> str:
    regions = register().regions()
    for region in regions:
        if slugify(region) == slugify(text):
            return region
    raise SendwatchError(f"no region called {quoted(text)}; regions: {', '.join(regions)}")


def resolve_kind(text: str) -> str:
    value = text.strip().lower()
    if value in KIND_ALIASES:
        return str(KIND_ALIASES[value])
    try:
        return str(Kind(value))
    except ValueError:
        names = ", ".join([*(str(kind) for kind in Kind), *KIND_ALIASES])
        raise SendwatchError(f"no event kind {quoted(text)}; kinds: {names}") from None


def parse_filters(
    las: Iterable[str] = (), regions: Iterable[str] = (), kinds: Iterable[str] = ()
) -> Filters:
    return Filters(
        la_codes=tuple(sorted({resolve_la(item) for item in las})),
        regions=tuple(sorted({resolve_region(item) for item in regions})),
        kinds=tuple(sorted({resolve_kind(item) for item in kinds})),
    )
