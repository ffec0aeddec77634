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
from crawler.spiders.base import ITEM_ERRORS, LISTING_ERRORS, LISTING_ITEMS
from sendwatch.config import Settings, SourceConfig
from sendwatch.errors import SendwatchError
from storage.store import RunReport, Store

log = logging.getLogger(__name__)


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
    ok: bool
    finish_reason: str
    alarms: tuple[str, ...] = ()

    @classmethod
    def from_stats(cls, source: str, stats: dict[str, Any]) -> CrawlReport:
        def count(key: str) -> int:
            return int(stats.get(key, 0) or 0)

        new, updated, seen = (
            count("sendwatch/new"),
            count("sendwatch/updated"),
            count("sendwatch/seen"),
        )
        listing_errors = count(LISTING_ERRORS)
        spider_errors = count("spider_exceptions/count")  # a parser that raised: a bug to see
        finish_reason = str(stats.get("finish_reason", "unknown"))
        return cls(
            source=source,
            found=new + updated + seen,
            new=new,
            updated=updated,
            seen=seen,
            errors=listing_errors + count(ITEM_ERRORS) + spider_errors,
            new_events=count("sendwatch/new_events"),
            listing_items=count(LISTING_ITEMS),
            ok=finish_reason == "finished" and listing_errors == 0,
            finish_reason=finish_reason,
        )

    def line(self) -> str:
        result = "ok" if self.ok else f"failed ({self.finish_reason})"
        if self.ok and self.listing_items == 0:
            result = "empty listing"
        return (
            f"source={self.source} found={self.found} new={self.new} updated={self.updated}"
            f" seen={self.seen} errors={self.errors} result={result.replace(' ', '_')}"
        )


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
        _quiet_scrapy(settings.log_level)
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
            )
        process.start()
        return [_report(store, settings, source, crawler) for source, crawler in crawlers.items()]
    finally:
        store.close()


def _report(store: Store, settings: Settings, source: str, crawler: Crawler) -> CrawlReport:
    assert crawler.stats is not None
    report = CrawlReport.from_stats(source, crawler.stats.get_stats())
    alarms = store.record_run(
        RunReport(source, report.ok, report.listing_items, report.line()),
        settings.crawler.alarm_after_failures,
    )
    for alarm in alarms:
        log.error("alarm: %s", alarm.message)
    return CrawlReport(**{**report.__dict__, "alarms": tuple(a.message for a in alarms)})


class _ScrapyQuiet(logging.Filter):
    """Scrapy narrates every request and dumps its stats at INFO (and resets its own loggers to
    DEBUG when a crawler starts): only its warnings and errors reach our log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or not record.name.startswith(
            ("scrapy", "py.warnings")
        )


def _quiet_scrapy(level: str) -> None:
    if level != "DEBUG":
        for handler in logging.getLogger().handlers:
            handler.addFilter(_ScrapyQuiet())
