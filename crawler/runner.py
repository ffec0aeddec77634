"""Run one spider once, record the run's health, and report what it found.

Scrapy's reactor cannot restart inside one process, so a crawl is one process:
`sendwatch crawl SOURCE` runs this directly, and the daemon starts that command as
a child process per crawl.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any, NoReturn

from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.utils.ossignal import install_shutdown_handlers

from crawler.bounded import limits_of
from crawler.extract import OUTCOME_RULES
from crawler.report import CrawlReport
from crawler.settings import scrapy_settings
from crawler.spiders import spider_for
from crawler.spiders.base import SourceSpider, exception_reason
from crawler.verdict import NETWORK_FAILURES, STANDING_ALARM
from sendwatch.config import Settings, SourceConfig
from sendwatch.vocab import CrawlResult
from storage.store import RunReport, Store

log = logging.getLogger(__name__)
#: How long a crawl stopped by SIGTERM or Ctrl-C may take to close gracefully (the daemon
#: kills a crawl child still running a little after this).
STOP_GRACE_SECONDS = 2.0
#: Set when SIGTERM or Ctrl-C has stopped this process's crawls (`run_until_stopped`): its
#: reactor's thread pool was left behind, and the process ends with `exit_at_once`.
SIGNALLED = threading.Event()


def source_config(settings: Settings, source: str) -> SourceConfig:
    """The source's table; an error naming the sources there are when there is no such one."""
    return settings.sources.of(source)


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
        quiet_scrapy()
        process = CrawlerProcess(settings=scrapy)
        crawlers = {}
        for source, config in configs.items():
            crawlers[source] = process.create_crawler(spider_for(source))
            process.crawl(
                crawlers[source],
                base_url=config.base_url,
                marks=marks_to_read(store, source, spider_for(source)),
                # Until a source has once been crawled whole, what it finds is history, not news.
                baseline=not store.has_succeeded(source),
                parse_limits=limits_of(settings),
                **config.spider_options(),
            )
        run_until_stopped(process)
        return [_report(store, settings, source, crawler) for source, crawler in crawlers.items()]
    finally:
        store.close()


def marks_to_read(store: Store, source: str, spider: type[SourceSpider]) -> dict[str, str]:
    """What the source's spider has handled, less the reports recorded `unrecognised` by other
    rules than these (an older sendwatch): read again once, by these rules."""
    marks = store.marks(source)
    stale = [
        unread
        for unread in store.unread_outcomes(source)
        if unread.fields.get("outcome_rules") != OUTCOME_RULES
    ]
    for unread in stale:
        for key in spider.reread_keys(unread.identity, unread.fields):
            marks.pop(key, None)
    if stale:
        log.info(
            "%s: reading again %d reports whose outcome an older version could not read",
            source,
            len(stale),
        )
    return marks


def run_until_stopped(process: CrawlerProcess) -> None:
    """Run the crawls to their end, or until SIGTERM or Ctrl-C stops them.

    A signal closes the crawls gracefully (a page in flight is still read and recorded), for
    at most STOP_GRACE_SECONDS; then the reactor stops where it is (a connection that never
    answers would hold a graceful close until its timeout, and each retry's). Twisted would
    also join its thread pool, where DNS lookups run, and a lookup that hangs holds that for as
    long as the resolver's timeouts: a stopped crawl leaves it behind, and its caller ends the
    process with `exit_at_once` once the store is closed and the reports are out. A second
    signal stops the reactor at once.
    """
    from twisted.internet import reactor as installed

    reactor: Any = installed  # typed as zope interfaces, which mypy reads as unbound methods

    def stop_now() -> None:
        with contextlib.suppress(RuntimeError):  # stopped already
            reactor.stop()

    def stop(signum: int) -> None:
        if SIGNALLED.is_set():
            stop_now()
            return
        SIGNALLED.set()
        log.info(
            "received %s: stopping the crawl (within %g s)",
            signal.Signals(signum).name,
            STOP_GRACE_SECONDS,
        )
        # The pool's threads are left to their lookups: nothing waits for them now.
        with contextlib.suppress(ValueError, TypeError):
            reactor.removeSystemEventTrigger(reactor.threadpoolShutdownID)
        process.stop().addBoth(lambda _: stop_now())
        reactor.callLater(STOP_GRACE_SECONDS, stop_now)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        # Only hand it to the reactor here: a signal can arrive in the middle of anything.
        reactor.callFromThread(stop, signum)

    reactor.addSystemEventTrigger("after", "startup", install_shutdown_handlers, on_signal)
    process.start(install_signal_handlers=False)


def exit_at_once(code: int) -> NoReturn:
    """End a crawl process stopped by a signal, its store closed and its reports printed,
    without waiting for the DNS lookups its reactor left behind (`run_until_stopped`)."""
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


def _report(store: Store, settings: Settings, source: str, crawler: Crawler) -> CrawlReport:
    """The crawl's report, its verdict handed to the store as it is (the store keeps a run's
    health and decides what an empty listing or a stopped run means to it)."""
    assert crawler.stats is not None
    report = CrawlReport.from_stats(
        source, crawler.stats.get_stats(), settings.crawler.max_failed_share
    )
    alarms = store.record_run(
        RunReport(source, report.result, report.listing_items, report.reason),
        settings.crawler.alarm_after_failures,
    )
    if report.result is CrawlResult.STOPPED:
        log.info("%s: %s; not counted", source, report.reason)
        return report
    if not report.ok:
        log.error("%s: %s: %s", source, report.result, report.reason)
    standing = crawler.stats.get_value(STANDING_ALARM)
    # Its own source key: a healthy run of the source resolves the source's alarms, and this
    # one must stay open (one alarm, told once) for as long as the condition lasts.
    if standing and report.result not in (CrawlResult.FAILED, CrawlResult.BLOCKED):
        alarms += store.raise_alarm(f"{source}:standing", "standing", str(standing))
    elif report.ok:
        store.resolve_alarms(f"{source}:standing", "standing")
    # A report recorded with an outcome no rule reads: one alarm each, while it stays unread.
    alarms += store.keep_unread_alarms(source)
    for alarm in alarms:
        log.error("alarm: %s", alarm.message)
    return report.with_alarms(tuple(alarm.message for alarm in alarms))


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
    reached is one line: the spider says its failed pages (`SourceSpider.failure_level`), and
    a robots.txt the network could not fetch is no line at all (the pages after it fail the
    same way, and the spider says so); one given up for another reason (a 500) is said once,
    by the retry middleware, with its own URL (the robots.txt middleware would repeat it
    naming the page that waited for it instead)."""
    args = record.args if isinstance(record.args, dict) else {}
    request = args.get("request")
    url = str(getattr(request, "url", ""))
    if record.name == "scrapy.downloadermiddlewares.retry" and "request" in args:
        if not url.endswith("/robots.txt"):
            return False  # the spider's errback says it, with the URL and the reason
        reason = args.get("reason", "?")
        if isinstance(reason, BaseException) and exception_reason(reason) in NETWORK_FAILURES:
            return False  # the site is down, or this machine offline: the spider says it once
        record.msg = "%s could not be read (%s); crawling as if everything were allowed"
        record.args = (url, reason)
        return True
    # The robots.txt middleware's echo: the retry middleware said it with robots.txt's own URL.
    return not (record.name == "scrapy.downloadermiddlewares.robotstxt" and "f_exception" in args)


def quiet_scrapy() -> None:
    """Scrapy's narration and echoes off, unless the log is at DEBUG (as `--log-level DEBUG`
    sets it, over the configuration's `log_level`)."""
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        for handler in logging.getLogger().handlers:
            # First: it reads Scrapy's own arguments, before another filter words the record.
            handler.filters.insert(0, _ScrapyQuiet())
