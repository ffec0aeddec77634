"""Run one spider once, record the run's health, and report what it found.

Scrapy's reactor cannot restart inside one process, so a crawl is one process:
`sendwatch crawl SOURCE` runs this directly, and the daemon starts that command as
a child process per crawl.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scrapy.crawler import Crawler, CrawlerProcess

from crawler.settings import scrapy_settings
from crawler.spiders import SPIDERS
from crawler.spiders.base import (
    BLOCKED,
    DOCS,
    ITEM_ERRORS,
    LAYOUT_CHANGED,
    LISTING_ERRORS,
    LISTING_FAILURE,
    LISTING_ITEMS,
    RUN_NOTE,
    STANDING_ALARM,
)
from sendwatch.config import Settings, SourceConfig
from sendwatch.errors import SendwatchError
from storage.store import RunReport, Store

log = logging.getLogger(__name__)


#: Fewer failed documents than this fail a run only when they are all it had.
MIN_FAILURES = 3


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
        return bool(self.why) and max(self.why, key=self.why.__getitem__) == "403"


@dataclass(frozen=True)
class CrawlReport:
    """What one crawl found, in the words `sendwatch crawl` prints."""

    source: str
    found: int
    new: int
    updated: int
    seen: int
    errors: int
    new_events: int
    listing_items: int
    #: ok, failed, blocked (a firewall answered 403), empty (the listing had nothing), or
    #: stopped (by a signal before it finished: not recorded in the store).
    result: str
    #: Why, in a sentence, when the result is not plainly ok.
    reason: str = ""
    alarms: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Nothing for the maintainer to act on in this run itself (an empty listing alarms apart)."""
        return self.result in ("ok", "empty")

    @classmethod
    def from_stats(
        cls, source: str, stats: dict[str, Any], max_failed_share: float = 0.5
    ) -> CrawlReport:
        def count(key: str) -> int:
            return int(stats.get(key, 0) or 0)

        new, updated, seen = (
            count("sendwatch/new"),
            count("sendwatch/updated"),
            count("sendwatch/seen"),
        )
        spider_errors = count("spider_exceptions/count")  # a parser that raised: a bug to see
        result, reason = _verdict(stats, document_tallies(stats), max_failed_share)
        return cls(
            source=source,
            found=new + updated + seen,
            new=new,
            updated=updated,
            seen=seen,
            errors=count(LISTING_ERRORS) + count(ITEM_ERRORS) + spider_errors,
            new_events=count("sendwatch/new_events"),
            listing_items=count(LISTING_ITEMS),
            result=result,
            reason=reason,
        )

    def line(self) -> str:
        result = "empty_listing" if self.result == "empty" else self.result
        return (
            f"source={self.source} found={self.found} new={self.new} updated={self.updated}"
            f" seen={self.seen} errors={self.errors} result={result}"
        )


def document_tallies(stats: dict[str, Any]) -> list[DocumentTally]:
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


def _verdict(
    stats: dict[str, Any], tallies: list[DocumentTally], max_failed_share: float
) -> tuple[str, str]:
    """The run's result and why: "ok" only if the listings *and* the documents were read."""
    finish_reason = str(stats.get("finish_reason", "unknown"))
    why, url = stats.get(LISTING_FAILURE) or ("?", "?")
    if stats.get(BLOCKED):
        return "blocked", f"blocked: the listing answered 403 (a firewall?) at {url}"
    if stats.get(LISTING_ERRORS):
        return "failed", f"listing failed ({why}) at {url}"
    if stats.get(LAYOUT_CHANGED):
        return "failed", str(stats[LAYOUT_CHANGED])
    if finish_reason in STOPPED:
        return STOPPED_RESULT, "stopped before it finished (a signal, or the daemon stopping)"
    if finish_reason != "finished":
        return "failed", FINISH_REASONS.get(finish_reason, f"the crawl stopped: {finish_reason}")
    for tally in tallies:
        if tally.dead(max_failed_share):
            return ("blocked" if tally.blocked else "failed"), tally.sentence()
    if not stats.get(LISTING_ITEMS):
        return "empty", "the listing parsed to zero items"
    notes = [
        str(stats.get(RUN_NOTE) or ""),
        *(tally.sentence() for tally in tallies if tally.failed),
    ]
    return "ok", "; ".join(note for note in notes if note)


FINISH_REASONS = {
    "closespider_timeout": "stopped at the time limit ([crawler] time_limit_minutes)",
}
#: How Scrapy ends a crawl stopped by a signal ("shutdown"; no reason at all when the reactor
#: stops first). Such a run says nothing of the source's health: it is not recorded, so a
#: restart of the daemon never counts towards an alarm.
STOPPED = frozenset({"shutdown", "unknown"})
STOPPED_RESULT = "stopped"


def source_config(settings: Settings, source: str) -> SourceConfig:
    if source not in SPIDERS:
        raise SendwatchError(f"unknown source {source!r}; sources: {', '.join(SPIDERS)}")
    config: SourceConfig = getattr(settings.sources, source)
    return config


def crawl(settings: Settings, source: str) -> CrawlReport:
    """Crawl `source` once into the store; keep its health; return the counts."""
    return crawl_many(settings, [source])[0]


def crawl_many(settings: Settings, sources: Sequence[str]) -> list[CrawlReport]:
    """Crawl several sources at once, in one reactor (one process start, sites in parallel)."""
    configs = {source: source_config(settings, source) for source in dict.fromkeys(sources)}
    store = Store(settings.effective_database_url)
    try:
        store.upgrade()
        scrapy = scrapy_settings(settings)
        scrapy["CLOSESPIDER_TIMEOUT"] = settings.crawler.time_limit_minutes * 60
        scrapy["LOG_INSTALL_ROOT_HANDLER"] = False  # our handler (secrets masked) stays in charge
        quiet_scrapy(settings.log_level)
        process = CrawlerProcess(settings=scrapy)
        crawlers = {}
        for source, config in configs.items():
            crawlers[source] = process.create_crawler(SPIDERS[source])
            process.crawl(
                crawlers[source],
                base_url=config.base_url,
                marks=store.marks(source),
                # Until a source has once been crawled whole, what it finds is history, not news.
                baseline=not store.has_succeeded(source),
                **config.spider_options(),
            )
        process.start()
        return [_report(store, settings, source, crawler) for source, crawler in crawlers.items()]
    finally:
        store.close()


def _report(store: Store, settings: Settings, source: str, crawler: Crawler) -> CrawlReport:
    assert crawler.stats is not None
    report = CrawlReport.from_stats(
        source, crawler.stats.get_stats(), settings.crawler.max_failed_share
    )
    if report.result == STOPPED_RESULT:
        log.info("%s: %s; not counted", source, report.reason)
        return report
    # An empty listing is "ok" to the store, which alarms on it when the source had items.
    result = "ok" if report.result == "empty" else report.result
    alarms = store.record_run(
        RunReport(source, result, report.listing_items, report.reason),
        settings.crawler.alarm_after_failures,
    )
    if not report.ok:
        log.error("%s: %s: %s", source, report.result, report.reason)
    standing = crawler.stats.get_value(STANDING_ALARM)
    # Its own source key: a healthy run of the source resolves the source's alarms, and this
    # one must stay open (one alarm, told once) for as long as the condition lasts.
    if standing and report.result not in ("failed", "blocked"):
        alarms += store.raise_alarm(f"{source}:standing", "standing", str(standing))
    elif report.ok:
        store.resolve_alarms(f"{source}:standing", "standing")
    for alarm in alarms:
        log.error("alarm: %s", alarm.message)
    return CrawlReport(**{**report.__dict__, "alarms": tuple(a.message for a in alarms)})


class _ScrapyQuiet(logging.Filter):
    """Scrapy narrates every request and dumps its stats at INFO (and resets its own loggers to
    DEBUG when a crawler starts): only its warnings and errors reach our log. A site that cannot
    be reached is one line with the URL and the reason: Scrapy's tracebacks of network errors
    (robots.txt, retries given up) are for DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(("scrapy", "py.warnings")):
            return True
        if not _one_line_per_failure(record):
            return False
        if record.exc_info and record.exc_info[1] is not None:
            reason, message = record.exc_info[1], record.getMessage()
            record.msg = message if str(reason) in message else f"{message}: {reason}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return record.levelno >= logging.WARNING


def _one_line_per_failure(record: logging.LogRecord) -> bool:
    """False for Scrapy's echoes of a failure said elsewhere, so that a site that cannot be
    reached is one line per URL: the spider's errback names each failed page with its reason,
    and a robots.txt given up is said once, by the retry middleware, with its own URL (the
    robots.txt middleware would repeat it naming the page that waited for it instead)."""
    args = record.args if isinstance(record.args, dict) else {}
    request = args.get("request")
    url = str(getattr(request, "url", ""))
    if record.name == "scrapy.downloadermiddlewares.retry" and "request" in args:
        if not url.endswith("/robots.txt"):
            return False  # the spider's errback says it, with the URL and the reason
        record.msg = "%s could not be read (%s); crawling as if everything were allowed"
        record.args = (url, args.get("reason", "?"))
        return True
    # The robots.txt middleware's echo: the retry middleware said it with robots.txt's own URL.
    return not (record.name == "scrapy.downloadermiddlewares.robotstxt" and "f_exception" in args)


def quiet_scrapy(level: str) -> None:
    if level != "DEBUG":
        for handler in logging.getLogger().handlers:
            # First: it reads Scrapy's own arguments, before another filter words the record.
            handler.filters.insert(0, _ScrapyQuiet())
