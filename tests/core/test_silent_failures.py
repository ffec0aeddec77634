"""Nothing fails silently: a network failure is one line with the URL and the reason, an old
result label is said in words, and the daemon says at start-up which channels cannot send."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from sendwatch.logs import FORMAT, NetworkErrorsOneLine
from storage.models import SourceState
from storage.store import Store
from tests.paths import COMMAND, free_port

STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")


def sendwatch(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    full |= {
        "SENDWATCH_DATA_DIR": str(tmp_path / "data"),
        "SENDWATCH_SECRET_KEY": "a test key, long enough to sign links",
        **env,
    }
    return subprocess.run(
        [*COMMAND, *args], env=full, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )


def log_lines(stderr: str) -> list[str]:
    """The log's lines without their timestamps."""
    return [STAMP.sub("", line) for line in stderr.splitlines()]


def test_a_crawl_of_an_unreachable_site_is_one_line_and_its_result(tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{free_port()}"  # nothing listens: connection refused
    result = sendwatch(
        tmp_path,
        "crawl",
        "govuk",
        SENDWATCH_SOURCES_GOVUK_BASE_URL=base,
        SENDWATCH_CRAWLER_RETRIES="0",
        SENDWATCH_CRAWLER_DOWNLOAD_DELAY="0",
        SENDWATCH_LOG_LEVEL="WARNING",
    )
    assert result.returncode == 1
    assert result.stdout == ("source=govuk found=0 new=0 updated=0 seen=0 errors=3 result=failed\n")
    refused = "Connection was refused by other side: 111: Connection refused."
    lines = log_lines(result.stderr)
    assert "Traceback" not in result.stderr
    # The site never answered: its first failed page says so, with the URL and the reason; its
    # robots.txt and the other pages that failed the same way are for DEBUG.
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"ERROR crawler.spiders.base: govuk: {base}/")
    assert lines[0].endswith(f" failed: {refused}")
    assert lines[-1].startswith(
        f"ERROR crawler.runner: govuk: failed: listing failed (connection refused) at {base}/"
    )


def test_a_network_failure_logged_with_a_traceback_is_one_line() -> None:
    logger = logging.getLogger("test.network")
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Keep()
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(NetworkErrorsOneLine())
    logger.addHandler(handler)
    try:
        try:
            httpx.get(f"http://127.0.0.1:{free_port()}/api/events")
        except httpx.ConnectError:
            logger.exception("Exception happened while polling for updates.")
        try:
            raise ValueError("a bug, not the network")
        except ValueError:
            logger.exception("handler failed")
    finally:
        logger.removeHandler(handler)
    assert records[0] == (
        "ERROR Exception happened while polling for updates: [Errno 111] Connection refused"
    )
    assert records[1].startswith("ERROR handler failed\nTraceback")  # bugs keep theirs
    assert FORMAT  # the daemon's format is the same with a timestamp and the logger's name


def test_the_bot_with_telegram_unreachable_is_one_line(tmp_path: Path) -> None:
    port = free_port()
    result = sendwatch(
        tmp_path,
        "bot",
        SENDWATCH_TELEGRAM_ENABLED="true",
        SENDWATCH_TELEGRAM_TOKEN="123456:ABCdefGHIjklMNOpqrSTUvwxYZ0123456789",
        SENDWATCH_TELEGRAM_BASE_URL=f"http://127.0.0.1:{port}/bot",
        SENDWATCH_LOG_LEVEL="WARNING",
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"sendwatch: error: telegram bot: cannot reach http://127.0.0.1:{port}"
        " (httpx.ConnectError: All connection attempts failed)"
    ]


@pytest.mark.parametrize(
    ("stored", "reason", "shown"),
    [
        (
            "failed_(finished)",
            None,
            ["failed", "a listing could not be read (an older version recorded no more)"],
        ),
        ("failed (finished)", "listing failed (404) at https://www.gov.uk/x", ["failed"]),
        ("blocked", "blocked: the listing answered 403", ["blocked"]),
    ],
)
def test_status_says_an_old_result_label_in_words(
    tmp_path: Path, stored: str, reason: str | None, shown: list[str]
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'data' / 'sendwatch.db'}")
    store.upgrade()
    with store.sessions() as session:
        session.add(SourceState(source="govuk", last_result=stored, last_reason=reason))
        session.commit()
    store.close()
    status = sendwatch(tmp_path, "status")
    assert status.returncode == 0, status.stderr
    row = status.stdout.splitlines()[1]
    result, said = re.split(r"\s{2,}", row)[3], re.split(r"\s{2,}", row)[-1]
    assert result == shown[0]
    assert said == (shown[1] if len(shown) > 1 else reason)


def test_the_daemon_says_at_start_up_which_channels_cannot_send(tmp_path: Path) -> None:
    assert sendwatch(tmp_path, "subscribe", "email", "parent@example.org").returncode == 0
    assert sendwatch(tmp_path, "subscribe", "telegram", "12345").returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    env |= {
        "SENDWATCH_DATA_DIR": str(tmp_path / "data"),
        "SENDWATCH_SECRET_KEY": "a test key, long enough to sign links",
        "SENDWATCH_TELEGRAM_ENABLED": "true",  # but no token
        "SENDWATCH_WEB_ENABLED": "false",  # and no pages served: events are in the store only
    }
    for source in ("GOVUK", "OFSTED", "LGL", "MODERNGOV", "STATISTICS", "OMBUDSMAN"):
        env[f"SENDWATCH_SOURCES_{source}_ENABLED"] = "false"
    log = tmp_path / "daemon.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [*COMMAND, "run"], env=env, cwd=tmp_path, stdout=handle, stderr=handle
        )
    try:
        deadline = time.monotonic() + 60
        while "sendwatch running" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
    lines = log_lines(log.read_text())
    assert (
        "INFO sendwatch.scheduler: channel: none configured: events are recorded in the store"
        " only ([web] enabled is false: no pages or feeds are served)"
    ) in lines
    assert not [line for line in lines if "web: " in line or "feed server" in line]
    warnings = [line for line in lines if line.startswith("WARNING sendwatch.scheduler: ")]
    assert warnings == [
        "WARNING sendwatch.scheduler: no source is enabled: nothing will be crawled",
        "WARNING sendwatch.scheduler: email alerts are queued but [smtp] host is not set"
        " (set it in sendwatch.toml or SENDWATCH_SMTP_HOST): nothing will be sent",
        "WARNING sendwatch.scheduler: telegram alerts are queued but SENDWATCH_TELEGRAM_TOKEN"
        " is not set (set it in the environment, never in sendwatch.toml): nothing will be sent",
        "WARNING sendwatch.scheduler: telegram: SENDWATCH_TELEGRAM_TOKEN is not set (set it in"
        " the environment, never in sendwatch.toml): the bot is not started",
    ]
    assert not [line for line in lines if "telegram bot started" in line]


def test_the_bot_losing_telegram_while_polling_logs_one_line_each_time(tmp_path: Path) -> None:
    from tests.alerts.telegram_standin import TOKEN, running

    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    log = tmp_path / "bot.log"
    with running() as standin, log.open("wb") as handle:
        env |= {
            "SENDWATCH_DATA_DIR": str(tmp_path / "data"),
            "SENDWATCH_SECRET_KEY": "a test key, long enough to sign links",
            "SENDWATCH_TELEGRAM_ENABLED": "true",
            "SENDWATCH_TELEGRAM_BASE_URL": standin.base_url,
            "SENDWATCH_TELEGRAM_TOKEN": TOKEN,
            "SENDWATCH_LOG_LEVEL": "WARNING",
        }
        host = standin.base_url.removesuffix("/bot")
        process = subprocess.Popen(
            [*COMMAND, "bot"], env=env, cwd=tmp_path, stdout=handle, stderr=handle
        )
        deadline = time.monotonic() + 30
        while "getUpdates" not in standin.calls:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
    try:  # the stand-in is gone: Telegram unreachable
        deadline = time.monotonic() + 30
        while "cannot reach" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(timeout=15)
    lines = log_lines(log.read_text())
    assert "Traceback" not in log.read_text()
    said = [line for line in lines if "cannot reach" in line]
    assert said[0] == (
        f"WARNING alerts.telegram: telegram bot: cannot reach {host}"
        " (httpx.ConnectError: All connection attempts failed); retrying"
    )
    assert set(said) == {said[0]}  # once per failed poll, always the same line
