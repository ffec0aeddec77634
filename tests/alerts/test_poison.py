"""A poison delivery: a bug raised while sending one row is recorded against that row, masked
of secrets, counted towards `max_attempts`, and never stops the rest of the batch.

Sent through a real SMTP server (aiosmtpd) on 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from alerts import dispatch
from alerts.channels import Outgoing
from alerts.dispatch import Dispatcher, DispatchReport, channels_for
from alerts.email import SmtpChannel
from sendwatch.config import Settings
from sendwatch.masking import MASK
from storage import outbox
from storage.models import Delivery, Subscription
from storage.store import Store
from tests.alerts.conftest import Mailbox, alert_settings
from tests.alerts.test_email_dispatch import BEXLEY, KENT, notice

SECRET = "s3cret-signing-key-0123456789"
POISON = "s2@example.org"


def _settings(tmp_path: Path, mailbox: Mailbox) -> Settings:
    settings = alert_settings(tmp_path, mailbox.port, batch_size=10, max_attempts=2)
    return settings.model_copy(update={"secret_key": Settings(secret_key=SECRET).secret_key})


def _deliveries(store: Store) -> dict[str, Delivery]:
    with store.sessions() as session:
        rows = session.execute(
            select(Subscription.address, Delivery).join(
                Subscription, Subscription.id == Delivery.subscription_id
            )
        ).all()
        return {address: delivery for address, delivery in rows}


def test_one_delivery_that_raises_does_not_stop_the_batch(
    tmp_path: Path, store: Store, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path, mailbox)
    for index in range(5):
        outbox.subscribe(store, "email", f"s{index}@example.org")
    store.record(notice(BEXLEY, "bexley"))
    original = SmtpChannel.build

    def build(self: SmtpChannel, outgoing: Outgoing) -> object:
        if outgoing.address == POISON:
            raise RuntimeError(f"a bug while rendering, with {SECRET} in its message")
        return original(self, outgoing)

    monkeypatch.setattr(SmtpChannel, "build", build)

    first = Dispatcher(settings, store, channels_for(settings)).run_once()

    assert (first.sent, first.retried, first.failed) == (4, 1, 0)
    assert Counter(rcpts[0] for rcpts, _ in mailbox.messages) == Counter(
        {f"s{i}@example.org": 1 for i in (0, 1, 3, 4)}
    )
    poison = _deliveries(store)[POISON]
    assert (poison.state, poison.attempts) == ("pending", 1)
    assert poison.last_error is not None
    assert "RuntimeError: a bug while rendering" in poison.last_error
    assert SECRET not in poison.last_error and MASK in poison.last_error

    second = Dispatcher(settings, store, channels_for(settings)).run_once()
    assert (second.sent, second.retried, second.failed) == (0, 0, 1)  # max_attempts = 2
    third = Dispatcher(settings, store, channels_for(settings)).run_once()
    assert (third.sent, third.retried, third.failed) == (0, 0, 0)

    states = {address: d.state for address, d in _deliveries(store).items()}
    assert states == {f"s{i}@example.org": "sent" for i in (0, 1, 3, 4)} | {POISON: "failed"}
    assert len(mailbox.messages) == 4


def test_one_event_that_cannot_be_summarised_does_not_stop_the_others(
    tmp_path: Path, store: Store, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path, mailbox)
    outbox.subscribe(store, "email", "parent@example.org")
    store.record(notice(BEXLEY, "bexley"))
    store.record(notice(KENT, "kent"))
    original = dispatch.summarise

    def summarise(event: object, thread: object = None) -> object:
        if getattr(event, "la_code", None) == BEXLEY:
            raise ValueError("cannot summarise")
        return original(event, thread)  # type: ignore[arg-type]

    monkeypatch.setattr(dispatch, "summarise", summarise)

    report = Dispatcher(settings, store, channels_for(settings)).run_once()

    assert (report.sent, report.retried) == (1, 1)
    (message,) = mailbox.to("parent@example.org")
    assert message["Subject"].endswith(": Kent")
    with store.sessions() as session:
        states = Counter(session.scalars(select(Delivery.state)).all())
    assert states == Counter({"sent": 1, "pending": 1})


def test_a_delivery_whose_dispatcher_keeps_dying_is_given_up_after_max_attempts(
    tmp_path: Path, store: Store, mailbox: Mailbox
) -> None:
    """A crash mid-send (no exception to catch) still counts: claims that never finish."""
    settings = _settings(tmp_path, mailbox)  # max_attempts = 2
    outbox.subscribe(store, "email", "parent@example.org")
    store.record(notice(BEXLEY, "bexley"))
    Dispatcher(settings, store, {}).fan_out(DispatchReport())
    lease = dt.timedelta(seconds=1)
    later = dt.datetime.now(dt.UTC)
    for attempt in (1, 2):  # two dispatchers on another host die holding it
        later += dt.timedelta(seconds=2)
        (claim,) = outbox.claim_due(
            store, limit=1, lease=lease, claimer=f"elsewhere:{attempt}:x", due_by=later
        )
        assert claim.attempts == attempt

    later += dt.timedelta(seconds=2)
    assert (
        outbox.claim_due(
            store, limit=1, lease=lease, claimer="here:1:y", due_by=later, max_attempts=2
        )
        == []
    )
    (delivery,) = _deliveries(store).values()
    assert delivery.state == "failed" and "gave up after 2 attempts" in (delivery.last_error or "")
    assert mailbox.messages == []
