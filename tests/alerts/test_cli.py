"""The alerting commands: subscribe, unsubscribe, subscribers, dispatch."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from storage.store import Store
from tests.alerts.conftest import Mailbox
from tests.alerts.test_email_dispatch import BEXLEY, notice
from tests.paths import COMMAND


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    full |= {"SENDWATCH_DATA_DIR": str(tmp_path / "data"), **env}
    return subprocess.run(
        [*COMMAND, *args], env=full, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )


def test_subscribe_list_unsubscribe(tmp_path: Path) -> None:
    made = run(
        tmp_path, "subscribe", "email", "parent@example.org", "--la", "Bexley", "--kind", "notice"
    )
    assert made.returncode == 0, made.stderr
    assert (
        made.stdout.strip()
        == "subscribed email parent@example.org: Bexley; kinds: improvement_notice"
    )
    again = run(
        tmp_path, "subscribe", "email", "parent@example.org", "--region", "london", "--digest"
    )
    assert again.stdout.strip() == "updated email parent@example.org: London (daily digest)"
    run(tmp_path, "subscribe", "telegram", "12345")

    listing = run(tmp_path, "subscribers").stdout.splitlines()
    assert listing[0].split() == ["CHANNEL", "ADDRESS", "STATE", "DIGEST", "FILTERS"]
    assert listing[1].split() == ["email", "parent@example.org", "active", "yes", "London"]
    assert listing[2].split() == ["telegram", "12345", "active", "no", "everything"]

    gone = run(tmp_path, "unsubscribe", "email", "parent@example.org")
    assert gone.stdout.strip() == "unsubscribed email parent@example.org"
    assert run(tmp_path, "subscribers").stdout.splitlines()[1].split()[2] == "unsubscribed"
    missing = run(tmp_path, "unsubscribe", "email", "nobody@example.org")
    assert (missing.returncode, missing.stderr.strip()) == (
        1,
        "sendwatch: error: no subscription for email nobody@example.org",
    )


def test_bad_subscriptions_are_clear_errors(tmp_path: Path) -> None:
    cases = {
        ("email", "not-an-address"): "sendwatch: error: not an email address: 'not-an-address'",
        (
            "telegram",
            "@someone",
        ): "sendwatch: error: a Telegram address is a numeric chat id, not '@someone'",
        (
            "email",
            "a@example.org",
            "--la",
            "Bexly",
        ): "sendwatch: error: no local authority called 'Bexly'; did you mean: Bexley?",
        ("email", "a@example.org", "--kind", "gossip"): "sendwatch: error: no event kind 'gossip'",
        ("email", "a@example.org", "--region", "Mars"): "sendwatch: error: no region called 'Mars'",
    }
    for args, message in cases.items():
        result = run(tmp_path, "subscribe", *args)
        assert result.returncode == 1, args
        assert result.stderr.strip().startswith(message), result.stderr


def test_dispatch_command_sends_once(tmp_path: Path, mailbox: Mailbox) -> None:
    env = {
        "SENDWATCH_SMTP_HOST": "127.0.0.1",
        "SENDWATCH_SMTP_PORT": str(mailbox.port),
        "SENDWATCH_SMTP_SECURITY": "none",
        "SENDWATCH_SMTP_FROM_ADDRESS": "alerts@sendwatch.test",
    }
    assert run(tmp_path, "subscribe", "email", "parent@example.org", "--la", BEXLEY).returncode == 0
    store = Store(f"sqlite:///{tmp_path / 'data' / 'sendwatch.db'}")
    store.record(notice(BEXLEY, "bexley"))
    store.close()

    first = run(tmp_path, "dispatch", **env)
    second = run(tmp_path, "dispatch", **env)

    assert first.stdout.strip() == "queued=1 sent=1 retried=0 failed=0 paused=0 alarms=0 waiting=0"
    assert second.stdout.strip() == "queued=0 sent=0 retried=0 failed=0 paused=0 alarms=0 waiting=0"
    assert len(mailbox.to("parent@example.org")) == 1
