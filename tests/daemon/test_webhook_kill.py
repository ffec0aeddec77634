"""`sendwatch run` killed (SIGKILL) in the middle of a webhook batch: after a restart every
receiver has every event, and a repeat carries the same X-Sendwatch-Delivery id."""

from __future__ import annotations

import json
import os
import signal
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path

from sqlalchemy import select

from storage.models import Delivery
from storage.store import Store
from tests.alerts.test_email_dispatch import BEXLEY, WIRRAL, notice
from tests.alerts.test_webhook import (
    SECRET_KEY,
    Receiver,
    receiving,
    subscribe_webhook,
    verifies,
    webhook_settings,
)
from tests.daemon.test_daemon import SOURCES, Daemon, until

RECEIVERS, HOOKS_EACH = 3, 30


def test_sigkill_mid_webhook_batch_every_receiver_gets_every_event_with_stable_ids(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    env |= {
        "SENDWATCH_DATA_DIR": str(tmp_path / "data"),
        "SENDWATCH_SECRET_KEY": SECRET_KEY,
        "SENDWATCH_ALERTS_DISPATCH_INTERVAL_SECONDS": "1",
        "SENDWATCH_ALERTS_RETRY_BASE_SECONDS": "1",
        "SENDWATCH_ALERTS_CLAIM_LEASE_SECONDS": "3",
        "SENDWATCH_WEB_ENABLED": "false",  # no web server on 8080 (tests run side by side)
    }
    for source in SOURCES:
        env[f"SENDWATCH_SOURCES_{source}_ENABLED"] = "false"
    settings = webhook_settings(tmp_path)
    store = Store(f"sqlite:///{tmp_path / 'data' / 'sendwatch.db'}")
    store.upgrade()
    with ExitStack() as stack:
        receivers = [stack.enter_context(receiving(Receiver(delay=0.02))) for _ in range(RECEIVERS)]
        secrets: dict[tuple[int, str], str] = {}
        for number, receiver in enumerate(receivers):
            for hook in range(HOOKS_EACH):
                path = f"/hook/{hook}"
                _, secrets[number, path] = subscribe_webhook(store, settings, receiver.url(path))
        store.record(notice(BEXLEY, "bexley"))
        store.record(notice(WIRRAL, "wirral"))
        expected = 2 * RECEIVERS * HOOKS_EACH

        def received() -> int:
            return sum(len(r.requests) for r in receivers)

        first = Daemon(tmp_path, env).start()
        try:
            until(lambda: received() >= expected // 3, 60, "part of the batch")
            first.signal(signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            first.kill()
        assert received() < expected

        second = Daemon(tmp_path, env).start()
        try:
            until(lambda: _everyone_has_everything(receivers), 90, "every event at every hook")
            until(lambda: _all_sent(store, expected), 30, "every delivery recorded sent")
        finally:
            second.kill()
        store.close()

        for number, receiver in enumerate(receivers):
            ids: dict[tuple[str, int], set[str]] = defaultdict(set)
            for request in receiver.requests:
                ids[request.path, json.loads(request.body)["id"]].add(request.delivery)
                assert verifies(secrets[number, request.path], request)
            assert len(ids) == 2 * HOOKS_EACH
            assert all(len(delivery) == 1 for delivery in ids.values())  # a repeat: same id
        log = (tmp_path / "daemon.log").read_text()
        assert all(secret not in log for secret in secrets.values())


def _everyone_has_everything(receivers: list[Receiver]) -> bool:
    for receiver in receivers:
        with receiver.lock:
            seen = {(r.path, json.loads(r.body)["id"]) for r in receiver.requests}
        if len(seen) < 2 * HOOKS_EACH:
            return False
    return True


def _all_sent(store: Store, expected: int) -> bool:
    with store.sessions() as session:
        states = list(session.scalars(select(Delivery.state)))
    return len(states) == expected and set(states) == {"sent"}
