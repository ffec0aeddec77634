"""`sendwatch demo` in a fresh directory: offline, one alert to its own mail server, feeds that
parse, and the configured store, its subscribers and their mailboxes never touched."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import feedparser
import httpx

from tests.alerts.conftest import Mailbox
from tests.alerts.conftest import mailbox as mailbox
from tests.paths import COMMAND, free_port, serving


def demo(
    cwd: Path, env: dict[str, str] | None = None, *args: str
) -> subprocess.CompletedProcess[str]:
    env = env or {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    return subprocess.run(
        [*COMMAND, "demo", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180
    )


def _workdir(out: str) -> Path:
    match = re.search(r"a store of the demo's own in (\S+)/data", out)
    assert match, out
    return Path(match[1])


def test_demo_shows_the_whole_path_offline(tmp_path: Path) -> None:
    first = demo(tmp_path)
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert "source=govuk found=10 new=10" in out and "source=ofsted found=5 new=5" in out
    assert "source=lgl found=2 new=2" in out
    # Only its own steps: one dispatch line, no log lines (the mail server's, the dispatcher's).
    assert len(re.findall(r"queued=1 sent=1", out)) == 1
    assert not re.search(r"\d\d:\d\d:\d\d,\d+ (INFO|WARNING)", out + first.stderr)
    # The email it delivered, to its own mail server, is shown; no link that would answer 404.
    assert "To: you@example.org" in out
    assert "Subject: [sendwatch] Improvement notice issued: Derbyshire" in out
    assert "/unsubscribe/" not in out
    # Its directory is gone, and its hints name the command as it was run.
    assert not _workdir(out).exists()
    assert f"`{COMMAND[0]} status`" in out if COMMAND[0].endswith("sendwatch") else True
    assert not (tmp_path / "data").exists()  # nothing written where the user stands

    again = demo(tmp_path)  # every run is its own, whole demo
    assert again.returncode == 0, again.stderr
    assert "Subject: [sendwatch] Improvement notice issued: Derbyshire" in again.stdout


def test_demo_kept_is_browsable_and_its_unsubscribe_link_works(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    kept = demo(tmp_path, env | {"SENDWATCH_WEB_PORT": str(port)}, "--keep")
    assert kept.returncode == 0, kept.stderr
    out = kept.stdout
    workdir = _workdir(out)
    try:
        match = re.search(r"all events: (\S+all\.atom)\)", out)
        assert match, out
        feed = feedparser.parse(Path(match[1]).read_bytes())
        assert feed.bozo == 0
        titles = [entry.title for entry in feed.entries]
        assert "Improvement notice issued: Derbyshire" in titles
        assert "Improvement notice issued: Bexley" in titles
        assert len(titles) == 16
        link = re.search(rf"Unsubscribe: (http://127\.0\.0\.1:{port}/unsubscribe/\S+)", out)
        assert link, out
        assert f"SENDWATCH_DATA_DIR={workdir / 'data'}" in out and f"serve --port {port}" in out
        served_env = env | {"SENDWATCH_DATA_DIR": str(workdir / "data")}
        with serving(port, served_env, tmp_path):
            page = httpx.get(link[1])
        assert page.status_code == 200 and "Stop all sendwatch alerts" in page.text
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


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
