"""A crawl's result, decided in one place from the facts its spider recorded.

Spiders record facts only, in the crawl's stats, under the keys below: how many items the
listings named, each listing that failed (why: an HTTP status or a word, and its URL), the
detail documents requested and failed (by kind, with why and an example URL), a layout that
no longer parses, and their own account of a healthy run. None of them decides anything.
`decide` turns those facts, with Scrapy's own finish reason, into a `Verdict`: the result,
one `CrawlResult`, and why in a sentence; and, for `sendwatch check`, whether the site was
never reached at all. `sendwatch crawl` prints the verdict, the store keeps it (and alarms
on it), `sendwatch check` says "cannot reach" from it, and the daemon records a crawl it had
to kill as a verdict of its own.

Nothing here imports Scrapy: the daemon reads verdicts without loading the crawler.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sendwatch.vocab import CrawlResult

#: Items the listings named, in all.
LISTING_ITEMS = "sendwatch/listing_items"
#: Listings that could not be fetched or read (each also logged with its URL).
LISTING_ERRORS = "sendwatch/listing_errors"
#: sendwatch/listing_failed/<why> -> the first listing URL that failed so (`why`: an HTTP
#: status, or a word: "connection refused", "not JSON"), in the order they first failed.
LISTING_FAILED = "sendwatch/listing_failed/"
#: Detail documents that failed (also counted under DOCS), and items that could not be recorded.
ITEM_ERRORS = "sendwatch/item_errors"
#: sendwatch/docs/<noun>/requested, /failed, /status/<why>, /example: each kind of detail
#: document the run relied on, so the run can tell when it read next to none of them.
DOCS = "sendwatch/docs/"
#: A spider's own finding that its pages no longer parse (a layout change), in a sentence.
LAYOUT_CHANGED = "sendwatch/layout_changed"
#: A healthy run's own account of itself ("136 councils: 110 reachable, 23 blocked …").
RUN_NOTE = "sendwatch/run_note"
#: Something the maintainer should know that does not fail the run (councils behind a
#: firewall): kept open as one standing alarm while it lasts.
STANDING_ALARM = "sendwatch/standing_alarm"
#: Scrapy's count of the items that came through the pipelines.
ITEMS_SCRAPED = "item_scraped_count"

#: The HTTP status of a firewall's refusal: a listing answering it is blocked, not failed.
FORBIDDEN = "403"
#: Why a request failed when the site never answered at all.
NETWORK_FAILURES = frozenset({"DNS lookup failed", "connection refused", "timeout"})
#: Fewer failed documents than this fail a run only when they are all it had.
MIN_FAILURES = 3
FINISH_REASONS = {
    "closespider_timeout": "stopped at the time limit ([crawler] time_limit_minutes)",
}
#: How Scrapy ends a crawl stopped by a signal ("shutdown"; no reason at all when the reactor
#: stops first). Such a run says nothing of the source's health, and is not recorded.
STOPPED = frozenset({"shutdown", "unknown"})


@dataclass(frozen=True)
class Verdict:
    """What a crawl came to: one result, and why."""

    result: CrawlResult
    #: Why, in a sentence, when the result is not plainly ok (a healthy run's notes otherwise).
    reason: str = ""
    #: The listing that failed, if one did: why (a status or a word) and its URL.
    why: str = ""
    url: str = ""
    #: The site never answered: a listing failed for a network reason and nothing was listed.
    unreachable: bool = False

    @classmethod
    def failed(cls, reason: str) -> Verdict:
        """A crawl that gave no verdict of its own (killed at the time limit, or broken)."""
        return cls(CrawlResult.FAILED, reason)


@dataclass(frozen=True)
class DocumentTally:
    """One kind of detail document a run relied on (report PDFs, notices, articles)."""

    noun: str
    requested: int
    failed: int
    #: why (a status code or a word) -> how many failed so
    why: dict[str, int]
    example: str

    def dead(self, max_failed_share: float) -> bool:
        """All of them failed, or more than the share with at least MIN_FAILURES failures."""
        if self.failed == 0:
            return False
        if self.failed >= self.requested:
            return True
        return self.failed >= MIN_FAILURES and self.failed > max_failed_share * self.requested

    def sentence(self) -> str:
        """ "55 of 55 report PDFs failed (404), e.g. https://files.ofsted.gov.uk/v1/file/1"."""
        whys = sorted(self.why.items(), key=lambda pair: (-pair[1], pair[0]))
        because = ", ".join(why if len(whys) == 1 else f"{why} x{n}" for why, n in whys)
        return (
            f"{self.failed} of {self.requested} {self.noun} failed ({because}), e.g. {self.example}"
        )

    @property
    def blocked(self) -> bool:
        """Most of them were refused by a firewall."""
        return bool(self.why) and max(self.why, key=self.why.__getitem__) == FORBIDDEN


def document_tallies(stats: Mapping[str, Any]) -> list[DocumentTally]:
    """The run's detail documents by kind, from the spider's sendwatch/docs/<noun>/… stats."""
    nouns = sorted({key[len(DOCS) :].split("/", 1)[0] for key in stats if key.startswith(DOCS)})
    tallies = []
    for noun in nouns:
        prefix = f"{DOCS}{noun}/"
        why = {
            key[len(prefix + "status/") :]: int(value)
            for key, value in stats.items()
            if key.startswith(prefix + "status/")
        }
        tallies.append(
            DocumentTally(
                noun=noun,
                requested=int(stats.get(prefix + "requested", 0)),
                failed=int(stats.get(prefix + "failed", 0)),
                why=why,
                example=str(stats.get(prefix + "example", "")),
            )
        )
    return tallies


def listing_failures(stats: Mapping[str, Any]) -> dict[str, str]:
    """why -> the first listing URL that failed so, in the order the failures came."""
    return {
        key[len(LISTING_FAILED) :]: str(url)
        for key, url in stats.items()
        if key.startswith(LISTING_FAILED)
    }


def decide(stats: Mapping[str, Any], max_failed_share: float = 0.5) -> Verdict:
    """The run's result and why: "ok" only if the listings *and* the documents were read.

    In this order: a crawl stopped by a signal (whatever failed before it: a stopped run is
    never a failure, and never counts towards an alarm); a listing refused by a firewall
    (blocked) or failed; a layout that no longer parses; a crawl ended by anything but
    finishing; the detail documents, too many of which failed; a listing that named nothing
    (empty).
    """
    finish_reason = str(stats.get("finish_reason", "unknown"))
    if finish_reason in STOPPED:
        return Verdict(
            CrawlResult.STOPPED, "stopped before it finished (a signal, or the daemon stopping)"
        )
    if verdict := _listing_verdict(stats):
        return verdict
    if stats.get(LAYOUT_CHANGED):
        return Verdict(CrawlResult.FAILED, str(stats[LAYOUT_CHANGED]))
    if finish_reason != "finished":
        why = FINISH_REASONS.get(finish_reason, f"the crawl stopped: {finish_reason}")
        return Verdict(CrawlResult.FAILED, why)
    tallies = document_tallies(stats)
    for tally in tallies:
        if tally.dead(max_failed_share):
            result = CrawlResult.BLOCKED if tally.blocked else CrawlResult.FAILED
            return Verdict(result, tally.sentence())
    if not stats.get(LISTING_ITEMS):
        return Verdict(CrawlResult.EMPTY, "the listing parsed to zero items")
    notes = [
        str(stats.get(RUN_NOTE) or ""),
        *(tally.sentence() for tally in tallies if tally.failed),
    ]
    return Verdict(CrawlResult.OK, "; ".join(note for note in notes if note))


def _listing_verdict(stats: Mapping[str, Any]) -> Verdict | None:
    """Blocked when a listing answered 403; failed when another failed; None when none did."""
    failures = listing_failures(stats)
    if FORBIDDEN in failures:
        url = failures[FORBIDDEN]
        return Verdict(
            CrawlResult.BLOCKED,
            f"blocked: the listing answered 403 (a firewall?) at {url}",
            why=FORBIDDEN,
            url=url,
        )
    if not failures:
        return None
    why, url = next(iter(failures.items()))
    listed = stats.get(LISTING_ITEMS) or stats.get(ITEMS_SCRAPED)
    return Verdict(
        CrawlResult.FAILED,
        f"listing failed ({why}) at {url}",
        why=why,
        url=url,
        unreachable=why in NETWORK_FAILURES and not listed,
    )
