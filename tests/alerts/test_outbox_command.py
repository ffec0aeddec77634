"""Nothing fails silently in the outbox: `subscribe`, `dispatch` and `status` say when a channel
cannot send, `status` counts deliveries by reason, and `sendwatch outbox` lists each one with its
attempts, next try and last error. Real processes, a real SMTP server, a closed port for a
mail server that is down."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from sqlalchemy import select

from storage.models import Delivery
from storage.store import Store
from tests.alerts.conftest import Mailbox
from tests.alerts.test_email_dispatch import BEXLEY, notice
from tests.paths import COMMAND, free_port

BARKING = "E09000002"
NO_SMTP = (
    "sendwatch: warning: email alerts are queued but [smtp] host is not set"
    " (set it in sendwatch.toml or SENDWATCH_SMTP_HOST): nothing will be sent"
)
NO_TELEGRAM = (
    "telegram alerts are queued but [telegram] enabled is not true"
    " (set it in sendwatch.toml or SENDWATCH_TELEGRAM_ENABLED): nothing will be sent"
)


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    full |= {
        "SENDWATCH_DATA_DIR": str(tmp_path / "data"),
        "SENDWATCH_LOG_LEVEL": "WARNING",
        "SENDWATCH_SECRET_KEY": "a test key, long enough to sign links",
    }
    full |= env
    return subprocess.run(
        [*COMMAND, *args], env=full, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )


def smtp(port: int) -> dict[str, str]:
    return {
        "SENDWATCH_SMTP_HOST": "127.0.0.1",
        "SENDWATCH_SMTP_PORT": str(port),
        "SENDWATCH_SMTP_SECURITY": "none",
        "SENDWATCH_SMTP_FROM_ADDRESS": "alerts@sendwatch.test",
        "SENDWATCH_ALERTS_RETRY_BASE_SECONDS": "0",
    }


def record(tmp_path: Path, identity: str, la_code: str = BEXLEY) -> None:
    store = Store(f"sqlite:///{tmp_path / 'data' / 'sendwatch.db'}")
    store.record(notice(la_code, identity))
    store.close()


def test_subscribe_says_when_its_channel_cannot_send(tmp_path: Path) -> None:
    email = run(tmp_path, "subscribe", "email", "parent@example.org")
    assert email.returncode == 0, email.stderr
    assert email.stdout == "subscribed email parent@example.org: everything\n"
    assert email.stderr.splitlines() == [NO_SMTP]

    telegram = run(tmp_path, "subscribe", "telegram", "12345", SENDWATCH_TELEGRAM_ENABLED="true")
    assert telegram.stderr.splitlines() == [
        "sendwatch: warning: telegram alerts are queued but SENDWATCH_TELEGRAM_TOKEN is not set"
        " (set it in the environment, never in sendwatch.toml): nothing will be sent"
    ]

    no_sender = run(
        tmp_path, "subscribe", "email", "other@example.org", SENDWATCH_SMTP_HOST="127.0.0.1"
    )
    assert no_sender.stderr.splitlines() == [
        "sendwatch: warning: email alerts are queued but [smtp] from_address is not set"
        " (set it in sendwatch.toml or SENDWATCH_SMTP_FROM_ADDRESS): nothing will be sent"
    ]

    configured = run(tmp_path, "subscribe", "email", "third@example.org", **smtp(free_port()))
    assert configured.stderr == ""


def test_dispatch_counts_deliveries_waiting_for_a_channel_apart(
    tmp_path: Path, mailbox: Mailbox
) -> None:
    run(tmp_path, "subscribe", "email", "parent@example.org")
    run(tmp_path, "subscribe", "telegram", "12345")
    record(tmp_path, "bexley")

    waiting = run(tmp_path, "dispatch")
    assert waiting.returncode == 0, waiting.stderr
    assert waiting.stdout == "queued=2 sent=0 retried=0 failed=0 paused=0 alarms=0 waiting=2\n"
    assert waiting.stderr.splitlines() == [
        f"{NO_SMTP} (1 waiting)",
        f"sendwatch: warning: {NO_TELEGRAM} (1 waiting)",
    ]

    # Kept, not lost: once email is configured, its delivery goes.
    sent = run(tmp_path, "dispatch", **smtp(mailbox.port))
    assert sent.stdout == "queued=0 sent=1 retried=0 failed=0 paused=0 alarms=0 waiting=1\n"
    assert sent.stderr.splitlines() == [f"sendwatch: warning: {NO_TELEGRAM} (1 waiting)"]
    assert len(mailbox.to("parent@example.org")) == 1


def test_status_counts_by_reason_and_outbox_lists_every_delivery(
    tmp_path: Path, mailbox: Mailbox
) -> None:
    mailbox.reject.add("gone@example.org")
    for channel, address in (
        ("email", "gone@example.org"),
        ("email", "parent@example.org"),
        ("telegram", "12345"),
    ):
        assert run(tmp_path, "subscribe", channel, address).returncode == 0
    record(tmp_path, "first")
    first = run(tmp_path, "dispatch", **smtp(mailbox.port))
    assert first.stdout.startswith("queued=3 sent=1 retried=0 failed=1 ")
    record(tmp_path, "second", BARKING)
    port = free_port()
    down = smtp(port)  # nothing listens there: the mail server is down
    second = run(tmp_path, "dispatch", **down)
    assert second.stdout == "queued=3 sent=0 retried=2 failed=0 paused=0 alarms=0 waiting=2\n"

    status = run(tmp_path, "status", **down)
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    outbox_at = next(i for i, line in enumerate(lines) if line.startswith("outbox:"))
    refused = f"cannot reach SMTP server 127.0.0.1:{port}: [Errno 111] Connection refused"
    rejected = "550 {'gone@example.org': (550, b'5.1.1 mailbox unavailable')}"  # as SMTP said
    assert lines[outbox_at:] == [
        "outbox: pending=4 failed=1 sent_today=1",
        f"deliveries: 2 retrying ({refused})",
        "deliveries: 2 waiting for a channel ([telegram] enabled is not true)",
        f"deliveries: 1 failed ({rejected})",
        f"warning: {NO_TELEGRAM}",
    ]

    store = Store(f"sqlite:///{tmp_path / 'data' / 'sendwatch.db'}")
    with store.sessions() as session:
        next_try = {
            d.id: d.next_attempt_at.strftime("%Y-%m-%d %H:%M UTC")
            for d in session.scalars(select(Delivery))
        }
    store.close()
    title, other = (
        f"Improvement notice issued to {BEXLEY}",
        f"Improvement notice issued to {BARKING}",
    )
    listing = run(tmp_path, "outbox", **down)
    assert listing.returncode == 0, listing.stderr
    rows = [line.split("  ") for line in listing.stdout.splitlines()]
    rows = [[cell.strip() for cell in row if cell.strip()] for row in rows]
    assert rows == [
        ["ID", "CHANNEL", "ADDRESS", "EVENT", "STATE", "ATTEMPTS", "NEXT_TRY", "LAST_ERROR"],
        ["1", "email", "gone@example.org", f"#1 {title}", "failed", "1", "-",
         rejected],
        ["2", "email", "parent@example.org", f"#1 {title}", "sent", "1", "-", "-"],
        ["3", "telegram", "12345", f"#1 {title}", "waiting", "0", "-",
         "not sent: [telegram] enabled is not true"],
        ["4", "email", "gone@example.org", f"#2 {other}", "retrying", "1", next_try[4], refused],
        ["5", "email", "parent@example.org", f"#2 {other}", "retrying", "1", next_try[5], refused],
        ["6", "telegram", "12345", f"#2 {other}", "waiting", "0", "-",
         "not sent: [telegram] enabled is not true"],
    ]  # fmt: skip

    failed = run(tmp_path, "outbox", "--failed", **down)
    assert [line.split("  ", 1)[0] for line in failed.stdout.splitlines()] == ["ID", "1", "4", "5"]


def test_outbox_when_there_is_nothing_to_list(tmp_path: Path) -> None:
    assert run(tmp_path, "db", "upgrade").returncode == 0
    assert run(tmp_path, "outbox").stdout == "the outbox is empty\n"
    assert run(tmp_path, "outbox", "--failed").stdout == "no failed or retrying deliveries\n"
