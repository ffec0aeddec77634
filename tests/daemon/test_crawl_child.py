"""The daemon reads a crawl child's result as data (`sendwatch crawl --json`), and records a
child that gave none (killed at the time limit, or broken) as failed, once."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import app.daemon
from app.daemon import Daemon
from sendwatch.config import LoadedConfig, Settings
from storage.store import Store


def _daemon(tmp_path: Path, time_limit_minutes: float = 20.0) -> Daemon:
    settings = Settings.model_validate(
        {"data_dir": str(tmp_path), "crawler": {"time_limit_minutes": time_limit_minutes}}
    )
    daemon = Daemon(LoadedConfig(settings, None, {}))
    daemon.store = Store(settings.effective_database_url)
    daemon.store.upgrade()
    return daemon


class FakeCrawl:
    """The crawl child, replaced by a Python one-liner each test writes; the arguments the
    daemon gave `sendwatch` are kept."""

    def __init__(self) -> None:
        self.script = "pass"
        self.asked: list[list[str]] = []

    def command(self, _loaded: LoadedConfig, *args: str) -> list[str]:
        self.asked.append(list(args))
        return [sys.executable, "-c", self.script]


@pytest.fixture
def child(monkeypatch: pytest.MonkeyPatch) -> FakeCrawl:
    fake = FakeCrawl()
    monkeypatch.setattr(app.daemon, "sendwatch_command", fake.command)
    return fake


def _report(**fields: Any) -> str:
    report = {
        "source": "govuk",
        "found": 3,
        "new": 1,
        "updated": 0,
        "seen": 2,
        "errors": 0,
        "new_events": 1,
        "result": "ok",
        "reason": "",
        "alarms": [],
    }
    return json.dumps(report | fields)


def _state(daemon: Daemon) -> tuple[str | None, int, str | None]:
    summaries = [s for s in daemon.store.source_summaries() if s.source == "govuk"]
    if not summaries:
        return None, 0, None  # nothing kept of the source at all
    (summary,) = summaries
    return summary.last_result, summary.consecutive_failures, summary.last_reason


def test_the_result_is_read_from_the_json_object(
    tmp_path: Path, child: FakeCrawl, monkeypatch: pytest.MonkeyPatch
) -> None:
    daemon = _daemon(tmp_path)
    news: list[bool] = []
    monkeypatch.setattr(daemon, "news_found", lambda: news.append(True))
    child.script = f"print('a log line'); print({_report()!r})"
    daemon.crawl("govuk")
    assert child.asked == [["crawl", "--json", "govuk"]]
    assert news == [True]  # new=1: deliveries at once
    # The child records its own run; the daemon records nothing of its own.
    assert _state(daemon) == (None, 0, None)

    child.script = f"print({_report(new=0, result='failed', reason='listing failed (500)')!r})"
    daemon.crawl("govuk")
    assert news == [True]
    daemon.store.close()


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        ("import sys; sys.exit(3)", "the crawl command exited 3"),
        ("print('source=govuk result=ok')", "the crawl printed no result (exit 0)"),
        ('print(\'{"source": "govuk", "result": "perfect"}\')', "the crawl printed no"),
    ],
)
def test_a_child_that_reports_nothing_has_failed(
    tmp_path: Path, child: FakeCrawl, script: str, reason: str
) -> None:
    daemon = _daemon(tmp_path)
    child.script = script
    daemon.crawl("govuk")
    result, failures, recorded = _state(daemon)
    assert (result, failures) == ("failed", 1)
    assert recorded is not None and recorded.startswith(reason)
    daemon.store.close()


def test_a_child_past_the_time_limit_is_killed_and_counted_once(
    tmp_path: Path, child: FakeCrawl
) -> None:
    daemon = _daemon(tmp_path, time_limit_minutes=0.005)  # 0.3 s, and 5 s of grace
    child.script = "import time; time.sleep(60)"
    daemon.crawl("govuk")
    assert _state(daemon) == ("failed", 1, "killed after 5 s (time limit)")
    daemon.store.close()


def test_nothing_is_recorded_of_a_crawl_the_daemon_stopped(
    tmp_path: Path, child: FakeCrawl
) -> None:
    daemon = _daemon(tmp_path)
    child.script = "import time; time.sleep(60)"

    def stop_it() -> None:
        while not daemon.crawls:
            time.sleep(0.05)
        daemon.stopping.set()
        daemon.crawls["govuk"].terminate()

    stopper = threading.Thread(target=stop_it)
    stopper.start()
    daemon.crawl("govuk")
    stopper.join()
    assert _state(daemon) == (None, 0, None)
    daemon.store.close()
