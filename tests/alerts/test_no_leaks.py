"""Nothing a subscriber's address or a link carries leaks, at any log level: a webhook URL's
token, its signing secret and an email's unsubscribe token appear in no output of
`subscribe`, `subscribers`, `dispatch`, `outbox` or `serve` at DEBUG, and the webhook's URL is
stored sealed (as an Apprise URL is), shown by its scheme, host and fingerprint."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
from pathlib import Path

import httpx
import pytest

from storage.store import Store
from tests.alerts.conftest import Mailbox
from tests.alerts.test_email_dispatch import BEXLEY, notice
from tests.alerts.test_webhook import Receiver
from tests.alerts.test_webhook import receiver as receiver
from tests.paths import COMMAND, free_port, serving

TOKEN = "hooktoken9f8e7d6c5b4a"


def _run(env: dict[str, str], cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [*COMMAND, "--log-level", "DEBUG", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def test_no_webhook_token_signing_secret_or_unsubscribe_token_in_any_output_at_debug(
    tmp_path: Path, database_url: str, mailbox: Mailbox, receiver: Receiver
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("reads the SQLite file's bytes")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    env |= {
        "SENDWATCH_DATABASE_URL": database_url,
        "SENDWATCH_DATA_DIR": str(tmp_path / "data"),
        "SENDWATCH_SECRET_KEY": "a test key, long enough to sign links",
        "SENDWATCH_SMTP_HOST": "127.0.0.1",
        "SENDWATCH_SMTP_PORT": str(mailbox.port),
        "SENDWATCH_SMTP_SECURITY": "none",
        "SENDWATCH_SMTP_FROM_ADDRESS": "alerts@sendwatch.test",
        "SENDWATCH_ALERTS_PUBLIC_URL": f"http://127.0.0.1:{free_port()}",
    }
    hook = receiver.url(f"/hook/{TOKEN}?key={TOKEN}")
    outputs = [_run(env, tmp_path, "subscribe", "webhook", hook)]
    secret = re.search(r"^secret: (\S+)$", outputs[0], re.MULTILINE)
    assert secret, outputs[0]
    signing_secret = secret[1]
    outputs.append(_run(env, tmp_path, "subscribe", "email", "parent@example.org"))
    Store(database_url).record(notice(BEXLEY, "bexley"))
    outputs.append(_run(env, tmp_path, "dispatch"))
    outputs += [_run(env, tmp_path, "subscribers"), _run(env, tmp_path, "outbox")]

    (received,) = receiver.to(f"/hook/{TOKEN}?key={TOKEN}")
    ((_, email),) = mailbox.messages
    body = email.get_body(("plain",))
    assert body is not None
    link = re.search(r"Unsubscribe: (http\S+/unsubscribe/(\S+))", body.get_content())
    assert link, body.get_content()
    unsubscribe_token = link[2]
    port = int(env["SENDWATCH_ALERTS_PUBLIC_URL"].rsplit(":", 1)[1])
    served_env = env | {"SENDWATCH_LOG_LEVEL": "DEBUG"}
    log = tmp_path / "serve.log"
    with log.open("w") as handle, serving(port, served_env, tmp_path, handle):
        assert httpx.get(link[1]).status_code == 200
    outputs.append(log.read_text())

    everything = "\n".join(outputs)
    # The first output shows the signing secret once, on purpose; nothing else shows it.
    assert everything.count(signing_secret) == 1
    for leak in (TOKEN, unsubscribe_token):
        assert leak not in everything
    assert "127.0.0.1" in outputs[3]  # the webhook is listed, by its host…
    assert re.search(r"http://127\.0\.0\.1:\d+#[0-9a-f]{10}", outputs[3])  # …and fingerprint
    stored = Path(database_url.removeprefix("sqlite:///")).read_bytes()
    wal = Path(database_url.removeprefix("sqlite:///") + "-wal")
    stored += wal.read_bytes() if wal.exists() else b""
    assert TOKEN.encode() not in stored and signing_secret.encode() not in stored
    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as connection:
        (address,) = connection.execute(
            "SELECT address FROM subscriptions WHERE channel = 'webhook'"
        ).fetchone()
    assert TOKEN not in address
    assert received.headers["X-Sendwatch-Signature"].startswith("sha256=")
