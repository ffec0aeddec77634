"""`sendwatch demo` in a fresh directory: offline, one alert to its own mail server, feeds that
parse, and the configured store, its subscribers and their mailboxes never touched."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import feedparser

from tests.alerts.conftest import Mailbox
from tests.alerts.conftest import mailbox as mailbox
from tests.paths import COMMAND


def demo(cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = env or {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    return subprocess.run(
        [*COMMAND, "demo"], cwd=cwd, env=env, capture_output=True, text=True, timeout=180
    )


def test_demo_shows_the_whole_path_offline(tmp_path: Path) -> None:
    first = demo(tmp_path)
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert "source=govuk found=10 new=10" in out and "source=ofsted found=5 new=5" in out
    assert "source=lgl found=2 new=2" in out
    assert "queued=1 sent=1" in out
    # The email it delivered, to its own mail server, is shown.
    assert "To: you@example.org" in out
    assert "Subject: [sendwatch] Improvement notice issued: Derbyshire" in out
    match = re.search(r"all events: (\S+all\.atom)\)", out)
    assert match, out
    feed = feedparser.parse(Path(match[1]).read_bytes())
    assert feed.bozo == 0
    titles = [entry.title for entry in feed.entries]
    assert "Improvement notice issued: Derbyshire" in titles
    assert "Improvement notice issued: Bexley" in titles
    assert len(titles) == 16
    assert not (tmp_path / "data").exists()  # nothing written where the user stands

    again = demo(tmp_path)  # every run is its own, whole demo
    assert again.returncode == 0, again.stderr
    assert "Subject: [sendwatch] Improvement notice issued: Derbyshire" in again.stdout


def test_demo_leaves_the_configured_store_and_subscribers_untouched(
    tmp_path: Path, mailbox: Mailbox
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")} | {
        "SENDWATCH_DATA_DIR": str(tmp_path / "data"),
        "SENDWATCH_SMTP_HOST": "127.0.0.1",
        "SENDWATCH_SMTP_PORT": str(mailbox.port),
        "SENDWATCH_SMTP_SECURITY": "none",
        "SENDWATCH_SMTP_FROM_ADDRESS": "alerts@sendwatch.test",
    }
    subscribe = [*COMMAND, "subscribe", "email", "parent@example.org", "--la", "Derbyshire"]
    assert subprocess.run(subscribe, cwd=tmp_path, env=env, timeout=60).returncode == 0
    before = {path.name: path.read_bytes() for path in (tmp_path / "data").iterdir()}

    result = demo(tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert "queued=1 sent=1" in result.stdout

    after = {path.name: path.read_bytes() for path in (tmp_path / "data").iterdir()}
    assert after == before  # the configured store is byte-identical
    assert mailbox.messages == []  # and no real subscriber heard of the fictional notice
    status = subprocess.run(
        [*COMMAND, "status"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert [line.split()[3] for line in status.stdout.splitlines()[1:4]] == ["-", "-", "-"]
