"""`sendwatch demo` in a fresh directory: offline, one alert, feeds that parse; a re-run finds nothing new."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import feedparser

from tests.alerts.conftest import Mailbox
from tests.alerts.conftest import mailbox as mailbox
from tests.paths import COMMAND


def demo(cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    return subprocess.run(
        [*COMMAND, "demo"], cwd=cwd, env=env, capture_output=True, text=True, timeout=180
    )


def test_demo_shows_the_whole_path_offline(tmp_path: Path) -> None:
    first = demo(tmp_path)
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert "source=govuk found=10 new=10" in out and "source=ofsted found=5 new=5" in out
    assert "source=lgl found=2 new=2" in out
    assert "Improvement notice issued: Derbyshire" in out
    assert "Wrote " in out and "all.atom" in out

    feed = feedparser.parse((tmp_path / "data" / "feeds" / "all.atom").read_bytes())
    assert feed.bozo == 0
    titles = [entry.title for entry in feed.entries]
    assert "Improvement notice issued: Derbyshire" in titles
    assert "Improvement notice issued: Bexley" in titles
    assert len(titles) == 16

    again = demo(tmp_path)
    assert again.returncode == 0, again.stderr
    assert "Nothing new" in again.stdout
    assert "Improvement notice issued: Derbyshire" not in again.stdout


def test_demo_alert_reaches_existing_subscriptions(tmp_path: Path, mailbox: Mailbox) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    subscribe = [*COMMAND, "subscribe", "email", "parent@example.org", "--la", "Derbyshire"]
    assert subprocess.run(subscribe, cwd=tmp_path, env=env, timeout=60).returncode == 0
    env |= {
        "SENDWATCH_SMTP_HOST": "127.0.0.1",
        "SENDWATCH_SMTP_PORT": str(mailbox.port),
        "SENDWATCH_SMTP_SECURITY": "none",
        "SENDWATCH_SMTP_FROM_ADDRESS": "alerts@sendwatch.test",
    }
    result = subprocess.run(
        [*COMMAND, "demo"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr
    assert "queued=1 sent=1" in result.stdout
    (message,) = mailbox.to("parent@example.org")
    assert message["Subject"] == "[sendwatch] Improvement notice issued: Derbyshire"
