"""The daemon's conductor: runs the crawls, the deliveries, the digest, the bot and the feeds.

    sendwatch run          (or: python scheduler.py, the entry point at the top of the tree)

APScheduler (3.x) conducts; the crawler, store and alerts never schedule themselves.

* Each source is crawled at its own interval, with jitter, in a child process
  (`sendwatch crawl SOURCE`): Twisted's reactor cannot restart inside one process,
  and a crawl that hangs past its time limit is killed and counted as a failure
  without touching the others. Each source has a thread of its own that waits for the
  source's next run and crawls; the next run is planned when a crawl ends, kept in the
  store (`sendwatch status` shows it) and logged with its date.
* Deliveries run every `dispatch_interval_seconds`, and at once after a crawl that
  found news; the digest at `digest_time`; static feeds are rewritten after news.
* Jobs never overlap themselves and a run missed during downtime runs once
  (`max_instances=1`, `coalesce`, `misfire_grace_time`; a source's crawls, one after
  another in its thread). The store is the schedule: a restart crawls a source when its
  next run comes (`Store.due`), at once when it never ran or its last crawl was stopped
  before it finished; a source crawled ten minutes before a restart is not crawled again.
* The feed server and the Telegram bot, when enabled, run as supervised child
  processes (`sendwatch serve`, `sendwatch bot`), restarted if they die, except when
  one exits with EXIT_FATAL_CONFIG (Telegram rejected the bot token): restarting
  cannot help, so it stays down and one maintainer alarm is raised.
* One daemon per store: a lock held for the daemon's life (`storage.db.DaemonLock`)
  makes a second `sendwatch run` on the same store refuse to start.
* SIGTERM/SIGINT: no new work starts; the delivery batch in flight finishes (each
  message is recorded as it goes); running crawls are told to stop (SIGTERM: a graceful
  close, then the child stops where it is) and any still running after
  CRAWL_STOP_GRACE seconds are killed; a stopped crawl is not recorded (never a failure,
  never towards an alarm) and is crawled again at once on the next start; exit 0, within
  5 s with crawls in flight.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from crawler.report import CrawlReport, read_report
from crawler.verdict import Verdict
from sendwatch.config import LoadedConfig, Settings
from sendwatch.errors import EXIT_FATAL_CONFIG, SendwatchError
from sendwatch.sources import reconciled
from sendwatch.text import moment
from sendwatch.vocab import CrawlResult
from storage.db import DaemonLock
from storage.models import utcnow
from storage.store import RunReport, Store

log = logging.getLogger("sendwatch.scheduler")
#: Seconds a helper child (the feed server, the bot) has to stop before it is killed.
KILL_GRACE = 5
#: Seconds a crawl child has to stop after SIGTERM before it is killed (it closes gracefully
#: for `crawler.runner.STOP_GRACE_SECONDS`, then stops where it is).
CRAWL_STOP_GRACE = 3.0
MISFIRE_GRACE = 600
#: A source's next run is its interval after a crawl ends, plus up to this share of it (at
#: most JITTER_MAX_SECONDS), so that sources and servers drift apart.
JITTER_SHARE = 0.1
JITTER_MAX_SECONDS = 300.0


def next_run_after(ended: dt.datetime, interval: dt.timedelta) -> dt.datetime:
    """A crawl's next run: its interval after it ended, with jitter."""
    jitter = random.uniform(0, min(JITTER_MAX_SECONDS, interval.total_seconds() * JITTER_SHARE))
    return ended + interval + dt.timedelta(seconds=jitter)


def build_scheduler() -> BackgroundScheduler:
    """A scheduler whose jobs never pile up: one instance each, a missed run runs once."""
    return BackgroundScheduler(
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE},
        timezone="UTC",
    )


def sendwatch_command(loaded: LoadedConfig, *args: str) -> list[str]:
    """The command line of a child `sendwatch` process with the daemon's own configuration."""
    command = [sys.executable, "-m", "app"]
    if loaded.path is not None:
        command += ["--config", str(loaded.path.resolve())]
    return [*command, *args]


@dataclass
class Child:
    """A long-running helper process (the feed server, the bot), restarted if it dies.

    A child that exits with EXIT_FATAL_CONFIG has said why on its stderr, in one line;
    restarting it cannot help, so it is left down and `on_fatal` is called, once.
    """

    name: str
    command: list[str]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    on_fatal: Callable[[], None] | None = None
    given_up: bool = False
    #: Told to stop (a second SIGTERM would cut a graceful shutdown short).
    stopping: bool = False
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def ensure_running(self) -> None:
        with self._guard:
            if self.given_up or (self.process is not None and self.process.poll() is None):
                return
            if self.process is not None:
                if self.process.returncode == EXIT_FATAL_CONFIG:
                    self._give_up()
                    return
                self.restarts += 1
                log.error(
                    "%s exited with %s; restarting (restart %d)",
                    self.name,
                    self.process.returncode,
                    self.restarts,
                )
            self.process = subprocess.Popen(self.command)
            log.info("%s started (pid %d)", self.name, self.process.pid)
        # Watch it, so a fatal exit is acted on at once, not at the next supervision round.
        threading.Thread(
            target=self._watch, args=(self.process,), name=f"watch {self.name}", daemon=True
        ).start()

    def _watch(self, process: subprocess.Popen[bytes]) -> None:
        if process.wait() == EXIT_FATAL_CONFIG:
            with self._guard:
                if process is self.process:
                    self._give_up()

    def _give_up(self) -> None:
        if self.given_up:
            return
        self.given_up = True
        log.error(
            "%s stopped for a configuration error (see above); not restarting it until"
            " the configuration is fixed and sendwatch restarted",
            self.name,
        )
        if self.on_fatal is not None:
            try:
                self.on_fatal()
            except Exception:
                log.exception("%s: could not raise the alarm", self.name)

    def terminate(self) -> None:
        """Tell it to stop (SIGTERM), once, without waiting: `stop` then waits."""
        if self.stopping:
            return
        self.stopping = self.given_up = True  # what exits now was stopped, not failed
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()

    def stop(self, timeout: float = KILL_GRACE) -> None:
        self.terminate()
        if self.process is not None and self.process.poll() is None:
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()


#: The channels that need no settings: each subscription carries all they need.
UNCONFIGURED_CHANNELS = ("apprise", "webhook")


def channel_lines(settings: Settings, problems: dict[str, str], in_use: set[str]) -> list[str]:
    """What the daemon says at start-up about where events go, a line each, every one true:
    the channels that can send (email and Telegram when configured; Apprise and webhooks, which
    need no settings, when subscribers use them), static feeds when written; or, with none,
    where events can still be seen (the pages and feeds served, if they are)."""
    lines = []
    if "email" not in problems:
        lines.append(f"email via {settings.smtp.host}:{settings.smtp.port}")
    if "telegram" not in problems:
        lines.append("telegram")
    lines += [name for name in UNCONFIGURED_CHANNELS if name in in_use]
    if settings.web.static_dir:
        lines.append(f"static feeds in {settings.web.static_dir}")
    if lines:
        return lines
    if settings.web.enabled:
        return ["none configured: events are recorded, and shown on the pages and in the feeds"]
    return [
        "none configured: events are recorded in the store only"
        " ([web] enabled is false: no pages or feeds are served)"
    ]


@dataclass
class Daemon:
    loaded: LoadedConfig
    store: Store = field(init=False)
    store_lock: DaemonLock | None = None
    scheduler: BackgroundScheduler = field(default_factory=build_scheduler)
    stopping: threading.Event = field(default_factory=threading.Event)
    children: list[Child] = field(default_factory=list)
    crawls: dict[str, subprocess.Popen[str]] = field(default_factory=dict)
    #: Each enabled source's thread, waiting for its next run and crawling.
    crawl_threads: list[threading.Thread] = field(default_factory=list)
    #: Each enabled source's next run, as the store has it.
    next_runs: dict[str, dt.datetime] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    dispatching: threading.Lock = field(default_factory=threading.Lock)

    @property
    def settings(self) -> Settings:
        return self.loaded.settings

    # -- start-up ------------------------------------------------------------------------

    def start(self) -> None:
        settings = self.settings
        self.store = Store(settings.effective_database_url)
        self.store.check()
        # Before anything else touches the store: a second daemon stops here, in one line.
        self.store_lock = DaemonLock(self.store.engine)
        self.store_lock.acquire()
        self.store.upgrade()
        log.info("store ready at %s", self.store.engine.url.render_as_string(hide_password=True))
        self._warn_no_contact()
        self._schedule_crawls()
        self.scheduler.add_job(
            self.dispatch,
            IntervalTrigger(seconds=settings.alerts.dispatch_interval_seconds),
            id="dispatch",
            next_run_time=utcnow() + dt.timedelta(seconds=1),
        )
        hour, minute = (int(part) for part in settings.alerts.digest_time.split(":"))
        self.scheduler.add_job(self.digest, CronTrigger(hour=hour, minute=minute), id="digest")
        self._start_children()
        self.scheduler.start()
        self._start_crawl_threads()
        log.info("sendwatch running")

    def _schedule_crawls(self) -> None:
        """Each enabled source's first run, from the store (`Store.due`), the sources that are
        due at once `start_stagger_seconds` apart; written back to the store, and logged."""
        configured = self.settings.sources.configured()
        enabled = [(name, source) for name, source in configured if source.enabled]
        if not enabled:
            log.warning("no source is enabled: nothing will be crawled")
        for host, target in self.settings.crawler.host_map.items():
            log.info("crawler: requests for %s go to %s ([crawler] host_map)", host, target)
        stagger = dt.timedelta(seconds=self.settings.crawler.start_stagger_seconds)
        now = utcnow()
        at_once = 0
        for name, source in enabled:
            soonest = now + dt.timedelta(seconds=1) + stagger * at_once
            due = self.store.due(name, dt.timedelta(minutes=source.interval_minutes))
            first = max(soonest, due) if due is not None else soonest
            if first == soonest:
                at_once += 1
            self.next_runs[name] = first
            self.store.set_next_run(name, first)
            log.info(
                "source %s: %s every %g min, next at %s",
                name,
                source.base_url,
                source.interval_minutes,
                moment(first),
            )

    def _start_crawl_threads(self) -> None:
        for name in self.next_runs:
            thread = threading.Thread(
                target=self._crawl_when_due, args=(name,), name=f"crawl {name}", daemon=True
            )
            self.crawl_threads.append(thread)
            thread.start()

    def _crawl_when_due(self, source: str) -> None:
        """A source's crawls, one after another, each at the next run the last one planned,
        until the daemon stops."""
        while not self.stopping.wait(self._seconds_until(source)):
            try:
                self.crawl(source)
            except Exception:  # a bug, or the store gone: said, and tried again at the next run
                log.exception("crawl %s: could not be run", source)
                self._plan_next(source)

    def _seconds_until(self, source: str) -> float:
        return max(0.0, (self.next_runs[source] - utcnow()).total_seconds())

    def _plan_next(self, source: str) -> None:
        """The source's next run after a crawl that ended now: kept in the store, which is the
        schedule (`sendwatch status` shows it, a restart keeps it), and logged with its date."""
        interval = dt.timedelta(minutes=self.settings.sources.of(source).interval_minutes)
        self.next_runs[source] = next_run_after(utcnow(), interval)
        self.store.set_next_run(source, self.next_runs[source])
        log.info("source %s: next at %s", source, moment(self.next_runs[source]))

    def _start_children(self) -> None:
        from alerts.channels import channel_problems
        from app.cli import http_base
        from storage.outbox import channels_in_use

        settings = self.settings
        problems = channel_problems(settings)
        if settings.web.enabled:
            log.info("web: pages and feeds on %s/", http_base(settings.web.host, settings.web.port))
            self.children.append(Child("feed server", sendwatch_command(self.loaded, "serve")))
        if "telegram" not in problems and settings.telegram.bot:
            self.children.append(
                Child(
                    "telegram bot",
                    sendwatch_command(self.loaded, "bot"),
                    on_fatal=self._bot_token_rejected,
                )
            )
        for line in channel_lines(settings, problems, channels_in_use(self.store)):
            log.info("channel: %s", line)
        self._log_maintainer()
        self._warn_unconfigured(problems)
        for child in self.children:
            child.ensure_running()
        if self.children:
            self.scheduler.add_job(self.supervise, IntervalTrigger(seconds=15), id="supervise")

    def _warn_no_contact(self) -> None:
        """Sites ask a crawler for a way to reach whoever runs it: say so while there is none."""
        crawling = any(source.enabled for _, source in self.settings.sources)
        if crawling and not self.settings.crawler.contact.strip():
            log.warning(
                "[crawler] contact is empty: set an address the sites' operators can write to"
                " (contact in the [crawler] section of the settings file, or"
                " SENDWATCH_CRAWLER_CONTACT); it goes in the User-Agent, as sites ask of crawlers"
            )

    def _log_maintainer(self) -> None:
        """Say where the maintainer's alarms go; an Apprise URL by its scheme and host only."""
        from sendwatch.masking import mask_service_url

        config = self.settings.alerts
        where = [config.maintainer_email] if config.maintainer_email else []
        if config.maintainer_telegram_chat_id:
            where.append(f"telegram chat {config.maintainer_telegram_chat_id}")
        where += [mask_service_url(url.get_secret_value()) for url in config.maintainer_urls]
        log.info("maintainer alarms: %s", ", ".join(where) or "the log only")

    def _warn_unconfigured(self, problems: dict[str, str]) -> None:
        """Say at start-up, for each channel subscribers use that cannot send, that their
        alerts will wait; and that a Telegram enabled without its token runs no bot."""
        from alerts.channels import unconfigured_warning, with_remedy
        from storage.outbox import channels_in_use

        for channel in sorted(channels_in_use(self.store) & problems.keys()):
            log.warning("%s", unconfigured_warning(channel, problems[channel]))
        if self.settings.telegram.enabled and "telegram" in problems:
            log.warning("telegram: %s: the bot is not started", with_remedy(problems["telegram"]))

    def _bot_token_rejected(self) -> None:
        from alerts.telegram import TOKEN_ALARM, TOKEN_REJECTED

        self.store.raise_alarm("telegram", TOKEN_ALARM, TOKEN_REJECTED)

    # -- jobs ------------------------------------------------------------------------------

    def crawl(self, source: str) -> None:
        """One crawl in a child process (`sendwatch crawl --json SOURCE`), killed if it
        outlives the time limit; what it came to is read from the JSON object it prints."""
        if self.stopping.is_set():
            return
        # Scrapy closes the spider itself at the limit; a process still there a little later
        # is stuck, and is killed.
        soft = self.settings.crawler.time_limit_minutes * 60
        limit = soft + min(60.0, max(5.0, soft * 0.25))
        started = time.monotonic()
        process = subprocess.Popen(
            sendwatch_command(self.loaded, "crawl", "--json", source),
            stdout=subprocess.PIPE,
            stderr=None,
            text=True,
        )
        with self.lock:
            self.crawls[source] = process
            if self.stopping.is_set():  # `stop` took its list of crawls before this one
                process.terminate()
        log.info("crawl %s: started (pid %d)", source, process.pid)
        killed = False
        try:
            output, _ = process.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
            killed = True
        finally:
            with self.lock:
                self.crawls.pop(source, None)
        report = read_report(source, output or "")
        if report is None:
            report = self._unreported(source, process.returncode, limit if killed else None)
        log.info(
            "crawl %s (%.1f s, exit %s): %s%s",
            source,
            time.monotonic() - started,
            process.returncode,
            report.line(),
            "" if report.result is CrawlResult.OK else f" ({report.reason})",
        )
        if self.stopping.is_set():
            return  # stopped before it finished: the plan it ran for stays, due at the next start
        self._plan_next(source)
        # After a crawl of a reconciled source (Ofsted's reports, its statistics), the two are
        # compared.
        if source in reconciled():
            self.reconcile()
        if report.new:
            self.news_found()

    def _unreported(self, source: str, returncode: int, killed_after: float | None) -> CrawlReport:
        """A crawl that printed no report (killed at the time limit, or broken) has failed, and
        is recorded so, as the child would have; unless the daemon is stopping, which stopped it
        (a crawl stopped is not recorded)."""
        if self.stopping.is_set():
            stopped = Verdict(
                CrawlResult.STOPPED, "stopped before it finished (the daemon stopping)"
            )
            return CrawlReport.without_counts(source, stopped)
        if killed_after is not None:
            verdict = Verdict.failed(f"killed after {killed_after:.0f} s (time limit)")
            log.error("crawl %s: killed after %.0f s", source, killed_after)
        elif returncode not in (0, 1):
            verdict = Verdict.failed(f"the crawl command exited {returncode}")
        else:
            verdict = Verdict.failed(f"the crawl printed no result (exit {returncode})")
        self.store.record_run(
            RunReport(source, verdict.result, 0, verdict.reason),
            self.settings.crawler.alarm_after_failures,
        )
        return CrawlReport.without_counts(source, verdict)

    def reconcile(self) -> None:
        """Compare Ofsted's statistics with the reports crawled: one maintainer alarm per new
        discrepancy (the dispatcher tells it), resolved once the discrepancy is gone."""
        from storage.reconcile import raise_alarms

        try:
            for alarm in raise_alarms(self.store):
                log.warning("alarm: %s", alarm.message)
        except SendwatchError as exc:
            log.error("reconcile: %s", exc)

    def news_found(self) -> None:
        """Deliver at once, and refresh static feeds."""
        self.dispatch()
        if self.settings.web.static_dir:
            from alerts.feeds import write_feeds

            count = write_feeds(self.settings, self.store, Path(self.settings.web.static_dir))
            log.info("wrote %d static feeds to %s", count, self.settings.web.static_dir)

    def dispatch(self) -> None:
        """One delivery pass; passes never overlap, whether scheduled or after a crawl's news."""
        from alerts.dispatch import Dispatcher, channels_for

        with self.dispatching:
            if self.stopping.is_set():
                return
            try:
                Dispatcher(
                    self.settings, self.store, channels_for(self.settings), self.stopping.is_set
                ).run_once()
            except SendwatchError as exc:
                log.error("dispatch: %s", exc)

    def digest(self) -> None:
        from alerts.dispatch import Dispatcher, channels_for

        report = Dispatcher(
            self.settings, self.store, channels_for(self.settings), self.stopping.is_set
        ).send_digests()
        log.info("digest: %s", report.line())

    def supervise(self) -> None:
        if not self.stopping.is_set():
            for child in self.children:
                child.ensure_running()

    # -- shutdown ----------------------------------------------------------------------------

    def stop(self) -> None:
        """Finish what is in flight, stop the rest, quickly: the crawls and the helper children
        are all told at once, and a crawl still running after CRAWL_STOP_GRACE is killed."""
        self.stopping.set()
        with self.lock:
            running = list(self.crawls.items())
        for source, process in running:
            log.info("stopping the crawl of %s", source)
            process.terminate()
        for child in self.children:
            child.terminate()
        self._await_crawls(time.monotonic() + CRAWL_STOP_GRACE)
        self.scheduler.shutdown(wait=True)  # a dispatch returns after its current batch
        for child in self.children:
            child.stop()
        if self.store_lock is not None:
            self.store_lock.release()
        self.store.close()

    def _await_crawls(self, deadline: float) -> None:
        """Wait for the crawl threads until `deadline`; kill the crawls still running then."""
        for thread in self.crawl_threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        with self.lock:
            stuck = list(self.crawls.items())
        for source, process in stuck:
            log.warning(
                "crawl %s: still running %g s after SIGTERM; killed", source, CRAWL_STOP_GRACE
            )
            process.kill()
        for thread in self.crawl_threads:
            thread.join(timeout=KILL_GRACE)  # its child is gone: what it read is said, at once


def run(loaded: LoadedConfig) -> int:
    """Start the daemon; returns the exit code once stopped by SIGTERM or SIGINT."""
    stop_requested = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        # Only set a flag here: a signal can arrive at any point of start-up.
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop_requested.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    daemon = Daemon(loaded)
    daemon.start()
    try:
        stop_requested.wait()
    finally:
        daemon.stop()
    log.info("stopped")
    return 0
