"""Claims and leases: a batch that outlives its lease is not sent twice; a killed dispatcher's
claims are retaken at once on restart, not after the lease.

Real servers on 127.0.0.1: aiosmtpd (slowed down), and PostgreSQL for two dispatchers at once.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from alerts.dispatch import Dispatcher, DispatchReport, channels_for
from sendwatch.config import Settings
from storage import outbox
from storage.models import Delivery
from storage.store import Store
from tests.alerts.conftest import Mailbox, alert_settings
from tests.alerts.test_email_dispatch import BEXLEY, notice


def _populate(store: Store, subscribers: int) -> None:
    for index in range(subscribers):
        outbox.subscribe(store, "email", f"s{index}@example.org")
    store.record(notice(BEXLEY, "bexley"))


def _states(store: Store) -> Counter[str]:
    with store.sessions() as session:
        return Counter(session.scalars(select(Delivery.state)).all())


def test_a_batch_longer_than_its_lease_is_not_sent_twice_on_postgresql(
    tmp_path: Path, postgres_url: str, mailbox: Mailbox
) -> None:
    """20 messages at 0.2 s each take 4 s; the lease is 2 s; a second dispatcher starts at 2.3 s.

    (Renewal runs every third of the lease: the margin is 1.3 s, for a loaded CI machine.)"""
    store = Store(postgres_url)
    store.upgrade()
    _populate(store, 20)
    settings = alert_settings(tmp_path, mailbox.port, batch_size=20, claim_lease_seconds=2)
    mailbox.slow(0.2)
    lines: list[str] = []

    def run(delay: float) -> None:
        time.sleep(delay)
        own = Store(postgres_url)
        try:
            lines.append(Dispatcher(settings, own, channels_for(settings)).run_once().line())
        finally:
            own.close()

    threads = [threading.Thread(target=run, args=(delay,)) for delay in (0.0, 2.3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    received = Counter(rcpts[0] for rcpts, _ in mailbox.messages)
    assert received == Counter({f"s{i}@example.org": 1 for i in range(20)})
    sent = sum(int(line.split("sent=")[1].split()[0]) for line in lines)
    assert sent == 20  # each delivery recorded sent once, by the dispatcher that holds it
    assert _states(store) == Counter({"sent": 20})
    store.close()


def test_only_the_holder_of_a_claim_can_record_it(tmp_path: Path, store: Store) -> None:
    _populate(store, 2)
    Dispatcher(alert_settings(tmp_path, 1), store, {}).fan_out(DispatchReport())
    lease = dt.timedelta(seconds=1)
    first = outbox.claim_due(store, limit=10, lease=lease, claimer="host:1:a")
    assert len(first) == 2
    # The lease runs out; another dispatcher takes both.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    second = outbox.claim_due(store, limit=10, lease=lease, claimer="host:2:b", due_by=later)
    assert [c.delivery_id for c in second] == [c.delivery_id for c in first]

    a, b = (c.delivery_id for c in first)
    assert outbox.mark_sent(store, [a], claimer="host:1:a") == 0
    assert not outbox.mark_retry(store, b, "x", later, claimer="host:1:a")
    assert not outbox.mark_failed(store, b, "x", permanent=True, pause_after=1, claimer="host:1:a")
    assert _states(store) == Counter({"sending": 2})

    assert outbox.mark_sent(store, [a], claimer="host:2:b") == 1
    assert outbox.mark_retry(store, b, "later", later, claimer="host:2:b")
    assert _states(store) == Counter({"sent": 1, "pending": 1})


def _dispatch_forever(url: str, settings_json: str) -> None:
    store = Store(url)
    settings = Settings.model_validate_json(settings_json)
    Dispatcher(settings, store, channels_for(settings)).run_once()


def test_a_killed_dispatchers_claims_are_retaken_on_restart(
    tmp_path: Path, database_url: str, mailbox: Mailbox
) -> None:
    """The default 10-minute lease: the restarted dispatcher must not wait for it."""
    store = Store(database_url)
    store.upgrade()
    _populate(store, 20)
    settings = alert_settings(tmp_path, mailbox.port, batch_size=20)
    assert settings.alerts.claim_lease_seconds == 600
    mailbox.slow(0.1)

    context = multiprocessing.get_context("fork")
    child = context.Process(
        target=_dispatch_forever, args=(database_url, settings.model_dump_json())
    )
    child.start()
    deadline = time.monotonic() + 30
    while len(mailbox.messages) < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert child.pid is not None
    os.kill(child.pid, signal.SIGKILL)
    child.join(timeout=10)
    assert _states(store)["sending"] > 0  # it died holding part of the batch

    report = Dispatcher(settings, store, channels_for(settings)).run_once()

    received = Counter(rcpts[0] for rcpts, _ in mailbox.messages)
    assert set(received) == {f"s{i}@example.org" for i in range(20)}
    assert sum(received.values()) <= 21  # at most the one message in flight is repeated
    assert 0 < report.sent < 20
    with store.sessions() as session:
        assert session.scalar(select(func.count()).where(Delivery.state != "sent")) == 0
    store.close()
