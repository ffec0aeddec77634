"""`sendwatch run` as a real process: fixture site, SMTP server and Telegram stand-in on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.demo.site import FixtureSite, publish_sample_notice
from sendwatch.vocab import Kind
from storage import outbox
from storage.models import Delivery, SourceState
from storage.store import FindingData, Store
from tests.alerts.conftest import Mailbox
from tests.alerts.conftest import mailbox as mailbox
from tests.alerts.telegram_standin import TOKEN, TelegramStandIn, running
from tests.paths import COMMAND

DERBYSHIRE = "E10000007"
CYCLE = 4.0  # seconds between crawls of each source in these tests
#: Every source, as the environment names them (the daemon crawls each enabled one).
SOURCES = ("GOVUK", "OFSTED", "LGL", "MODERNGOV", "STATISTICS")
#: The councils whose meeting-papers sites the fixture hosts serve.
MODERNGOV_COUNCILS = "E09000002,E10000034,E09000003"
#: What the daemon logs after each dispatch pass.
DISPATCHED = "dispatch: queued="


@pytest.fixture
def standin() -> Iterator[TelegramStandIn]:
    with running() as server:
        yield server


def until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Daemon:
    """`sendwatch run` in a child process, with its log kept for the test to read."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.tmp_path, self.env = tmp_path, env
        self.log = tmp_path / "daemon.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Daemon:
        handle = self.log.open("ab")
        self.process = subprocess.Popen(
            [*COMMAND, "run"], env=self.env, cwd=self.tmp_path, stderr=handle, stdout=handle
        )
        until(lambda: "sendwatch running" in self.log.read_text(), 60, "the daemon to start")
        return self

    def count(self, text: str) -> int:
        """How many times the log says `text` so far."""
        return self.log.read_text(errors="replace").count(text)

    def await_more(self, text: str, more: int, timeout: float) -> None:
        """Wait until the log says `text` `more` times more than now: the next passes of a
        job happened (nothing more arriving meanwhile is then a fact, not a hope)."""
        wanted = self.count(text) + more
        until(lambda: self.count(text) >= wanted, timeout, f"{more} more {text!r} in the log")

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def daemon_env(
    tmp_path: Path, site: FixtureSite, mailbox: Mailbox, standin: TelegramStandIn
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    env |= {
        "SENDWATCH_DATA_DIR": str(tmp_path / "data"),
        "SENDWATCH_CRAWLER_DOWNLOAD_DELAY": "0",
        "SENDWATCH_CRAWLER_RETRIES": "0",
        "SENDWATCH_CRAWLER_TIMEOUT_SECONDS": "5",
        "SENDWATCH_SMTP_HOST": "127.0.0.1",
        "SENDWATCH_SMTP_PORT": str(mailbox.port),
        "SENDWATCH_SMTP_SECURITY": "none",
        "SENDWATCH_SMTP_FROM_ADDRESS": "alerts@sendwatch.test",
        "SENDWATCH_TELEGRAM_ENABLED": "true",
        "SENDWATCH_TELEGRAM_BOT": "false",
        "SENDWATCH_TELEGRAM_BASE_URL": standin.base_url,
        "SENDWATCH_TELEGRAM_TOKEN": TOKEN,
        "SENDWATCH_ALERTS_DISPATCH_INTERVAL_SECONDS": "2",
        "SENDWATCH_ALERTS_RETRY_BASE_SECONDS": "1",
        "SENDWATCH_ALERTS_CLAIM_LEASE_SECONDS": "3",
        "SENDWATCH_ALERTS_MAINTAINER_EMAIL": "ops@example.org",
        # The pages are served by default, on 8080: not here, where tests run side by side
        # (a test of the web server gives it a free port).
        "SENDWATCH_WEB_ENABLED": "false",
    }
    env["SENDWATCH_CRAWLER_HOST_MAP"] = site.host_map
    env["SENDWATCH_SOURCES_MODERNGOV_COUNCILS"] = MODERNGOV_COUNCILS
    env["SENDWATCH_CRAWLER_START_STAGGER_SECONDS"] = "0.5"
    # GOV.UK is crawled every CYCLE (the tests publish there); the others once, at start.
    for source in SOURCES:
        env[f"SENDWATCH_SOURCES_{source}_INTERVAL_MINUTES"] = "60"
    env["SENDWATCH_SOURCES_GOVUK_INTERVAL_MINUTES"] = str(CYCLE / 60)
    return env


def _store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'data' / 'sendwatch.db'}")
    store.upgrade()
    return store


def _crawled(store: Store, times: int = 1) -> bool:
    with store.sessions() as session:
        states = session.scalars(select(SourceState)).all()
        return len([s for s in states if s.last_success_at]) == len(SOURCES)


def test_daemon_alerts_a_new_notice_once(
    tmp_path: Path,
    site: FixtureSite,
    mailbox: Mailbox,
    standin: TelegramStandIn,
    daemon_env: dict[str, str],
) -> None:
    store = _store(tmp_path)
    outbox.subscribe(store, "email", "parent@example.org", la_codes=[DERBYSHIRE])
    outbox.subscribe(store, "email", "bexley@example.org", la_codes=["E09000004"])
    outbox.subscribe(store, "telegram", "501")
    daemon = Daemon(tmp_path, daemon_env).start()
    try:
        until(lambda: _crawled(store), 60, "a first crawl of every source")
        daemon.await_more(DISPATCHED, 1, 30)
        # The first crawl is the baseline: nobody is alerted. The maintainer hears of what
        # Ofsted's statistics list and the reports site lacks (the fixtures' Bristol and Hull).
        until(lambda: len(mailbox.to("ops@example.org")) >= 2, 30, "the reconciliation alarms")
        assert sorted(m["Subject"] for m in mailbox.to("ops@example.org")) == [
            "[sendwatch] alarm: reconcile:E06000010:2018-11-20",
            "[sendwatch] alarm: reconcile:E06000023:2024-05-17",
        ]
        assert len(mailbox.messages) == 2 and standin.sent == []

        publish_sample_notice(site, dt.date.today().isoformat())
        until(lambda: mailbox.to("parent@example.org"), 3 * CYCLE + 30, "the alert email")
        until(lambda: standin.to(501), 30, "the Telegram alert")
        # Two more crawls and a dispatch after them: nothing more may arrive.
        daemon.await_more("crawl govuk (", 2, 3 * CYCLE + 30)
        daemon.await_more(DISPATCHED, 1, 30)

        (email,) = mailbox.to("parent@example.org")
        assert email["Subject"] == "[sendwatch] Improvement notice issued: Derbyshire"
        assert len(standin.to(501)) == 1
        assert mailbox.to("bexley@example.org") == []

        daemon.signal(signal.SIGTERM)
        started = time.monotonic()
        assert daemon.wait(timeout=10) == 0
        assert time.monotonic() - started < 10
    finally:
        daemon.kill()
    log = daemon.log.read_text()
    assert "crawl govuk" in log and "dispatch" in log
    assert TOKEN not in log
    store.close()


def _many_alerts(store: Store, subscribers: int) -> None:
    for index in range(subscribers):
        outbox.subscribe(store, "email", f"s{index}@example.org")
    store.record(
        FindingData(
            source="govuk",
            identity="many",
            url="https://www.gov.uk/x",
            title="Improvement notice issued to Wirral Council",
            kind=Kind.IMPROVEMENT_NOTICE,
            la_code="E08000015",
            happened_on=None,
        )
    )


def test_sigkill_mid_batch_loses_nothing_and_repeats_at_most_the_message_in_flight(
    tmp_path: Path,
    mailbox: Mailbox,
    daemon_env: dict[str, str],
) -> None:
    for source in SOURCES:
        daemon_env[f"SENDWATCH_SOURCES_{source}_ENABLED"] = "false"
    store = _store(tmp_path)
    _many_alerts(store, 200)
    mailbox.slow(0.02)

    first = Daemon(tmp_path, daemon_env).start()
    until(lambda: len(mailbox.messages) >= 60, 60, "part of the batch")
    first.signal(signal.SIGKILL)
    first.wait(timeout=10)
    assert len(mailbox.messages) < 200

    second = Daemon(tmp_path, daemon_env).start()
    try:
        until(
            lambda: len({r[0] for r, _ in mailbox.messages}) == 200, 90, "every subscriber's alert"
        )
        second.await_more(DISPATCHED, 2, 30)  # past the dead daemon's leases: no late repeat
    finally:
        second.signal(signal.SIGTERM)
        assert second.wait(timeout=10) == 0

    received = Counter(message["Message-ID"] for _, message in mailbox.messages)
    assert len(received) == 200  # every delivery arrived
    repeats = [mid for mid, count in received.items() if count > 1]
    # The bound: a kill can repeat only the one message between SMTP's "250 OK" and the
    # store's "sent", and the repeat carries the same Message-ID, so mail systems merge it.
    assert len(repeats) <= 1
    with store.sessions() as session:
        assert session.scalar(select(func.count()).where(Delivery.state == "sent")) == 200
    store.close()


def test_sigterm_finishes_the_batch_in_flight(
    tmp_path: Path,
    mailbox: Mailbox,
    daemon_env: dict[str, str],
) -> None:
    for source in SOURCES:
        daemon_env[f"SENDWATCH_SOURCES_{source}_ENABLED"] = "false"
    daemon_env["SENDWATCH_ALERTS_BATCH_SIZE"] = "50"
    store = _store(tmp_path)
    _many_alerts(store, 200)
    mailbox.slow(0.02)

    daemon = Daemon(tmp_path, daemon_env).start()
    until(lambda: len(mailbox.messages) >= 10, 60, "sending to start")
    daemon.signal(signal.SIGTERM)
    started = time.monotonic()
    assert daemon.wait(timeout=10) == 0
    assert time.monotonic() - started < 10

    with store.sessions() as session:
        states = Counter(session.scalars(select(Delivery.state)).all())
    assert states["sending"] == 0  # no delivery left half-done
    assert states["sent"] == len(mailbox.messages) and states["sent"] % 50 == 0
    assert states["sent"] < 200  # it stopped taking new batches
    store.close()


def test_failing_source_alarms_once_and_recovers_once(
    tmp_path: Path,
    site: FixtureSite,
    mailbox: Mailbox,
    daemon_env: dict[str, str],
) -> None:
    daemon_env["SENDWATCH_CRAWLER_ALARM_AFTER_FAILURES"] = "3"
    # Its search is GOV.UK's too; and its reconciliation would alarm of its own fixtures.
    daemon_env["SENDWATCH_SOURCES_STATISTICS_ENABLED"] = "false"
    site.fail("/api/search.json", 500)
    store = _store(tmp_path)
    daemon = Daemon(tmp_path, daemon_env).start()
    try:
        until(lambda: mailbox.to("ops@example.org"), 6 * CYCLE + 30, "the maintainer's alarm")
        until(
            lambda: daemon.count("crawl lgl (") and daemon.count("crawl ofsted ("),
            60,
            "the other sources crawled",
        )
        with store.sessions() as session:
            others = {
                s.source: s.consecutive_failures for s in session.scalars(select(SourceState))
            }
        assert others["ofsted"] == 0 and others["lgl"] == 0  # the others keep working
        site.overrides.clear()
        until(
            lambda: len(mailbox.to("ops@example.org")) >= 2, 3 * CYCLE + 30, "the recovery notice"
        )
        daemon.await_more("crawl govuk (", 2, 3 * CYCLE + 30)  # no second recovery, no alarm
        daemon.await_more(DISPATCHED, 1, 30)
    finally:
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(timeout=10) == 0
    subjects = [m["Subject"] for m in mailbox.to("ops@example.org")]
    assert subjects == ["[sendwatch] alarm: govuk", "[sendwatch] recovered: govuk"]
    store.close()


def test_hung_crawl_is_killed_and_counted_and_feeds_are_served(
    tmp_path: Path, site: FixtureSite, daemon_env: dict[str, str]
) -> None:
    from tests.alerts.conftest import free_port

    port = free_port()
    daemon_env |= {
        "SENDWATCH_CRAWLER_TIME_LIMIT_MINUTES": "0.02",  # 1.2 s
        "SENDWATCH_CRAWLER_TIMEOUT_SECONDS": "60",
        "SENDWATCH_SOURCES_OFSTED_ENABLED": "false",
        "SENDWATCH_SOURCES_LGL_ENABLED": "false",
        "SENDWATCH_SOURCES_MODERNGOV_ENABLED": "false",
        "SENDWATCH_SOURCES_STATISTICS_ENABLED": "false",
        "SENDWATCH_WEB_ENABLED": "true",
        "SENDWATCH_WEB_PORT": str(port),
    }
    site.delays["/api/search.json"] = 30  # the listing never answers in time
    store = _store(tmp_path)
    daemon = Daemon(tmp_path, daemon_env).start()
    try:

        def failed_once() -> bool:
            with store.sessions() as session:
                state = session.get(SourceState, "govuk")
                return state is not None and state.consecutive_failures >= 1

        until(failed_once, 60, "the hung crawl to be stopped and counted")
        import httpx

        feed = until(
            lambda: _get(httpx, f"http://127.0.0.1:{port}/feeds/all.atom"), 30, "the feed server"
        )
        assert feed.status_code == 200
    finally:
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(timeout=15) == 0
    assert "feed server started" in daemon.log.read_text()
    store.close()


def _get(httpx: Any, url: str) -> Any:
    try:
        return httpx.get(url)
    except httpx.TransportError:
        return None
