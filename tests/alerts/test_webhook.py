"""Signed webhooks through the outbox, received by a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from alerts.dispatch import Dispatcher, channels_for
from alerts.export import EventFilter, records_of, select_events
from alerts.sealing import seal, service_label
from alerts.signing import secret_key
from alerts.webhook import (
    WebhookChannel,
    new_secret,
    reseal_legacy,
    retry_after,
    seal_target,
)
from sendwatch.config import Settings
from storage import outbox
from storage.models import Delivery, Subscription
from storage.store import Store
from tests.alerts.test_email_dispatch import BEXLEY, KENT, WIRRAL, notice

SECRET_KEY = "test-secret-key-for-webhooks-0123456789"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def delivery(self) -> str:
        return self.headers["X-Sendwatch-Delivery"]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A webhook receiver: records every request; answers from `script[path]` in turn (then
    200), after `delay` seconds, with `headers` on each answer."""

    port: int = 0
    requests: list[Received] = field(default_factory=list)
    script: dict[str, list[int]] = field(default_factory=dict)
    answer_headers: dict[int, dict[str, str]] = field(default_factory=dict)
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def to(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def status_for(self, path: str) -> int:
        with self.lock:
            queue = self.script.get(path) or []
            return queue.pop(0) if queue else 200


@contextmanager
def receiving(receiver: Receiver | None = None) -> Iterator[Receiver]:
    """`receiver` served on 127.0.0.1 (a port of its own) until the block ends."""
    box = receiver or Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if box.delay:
                time.sleep(box.delay)
            with box.lock:
                box.requests.append(Received(self.path, dict(self.headers.items()), body))
            status = box.status_for(self.path)
            self.send_response(status)
            for name, value in box.answer_headers.get(status, {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", "2")
            self.end_headers()
            with contextlib.suppress(OSError):  # the sender gave up waiting (a timeout test)
                self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as box:
        yield box


def webhook_settings(tmp_path: Path, **alerts: Any) -> Settings:
    return Settings.model_validate(
        {
            "data_dir": str(tmp_path / "data"),
            "secret_key": SECRET_KEY,
            "alerts": {"public_url": "http://127.0.0.1:8080", "retry_base_seconds": 0, **alerts},
        }
    )


def subscribe_webhook(
    store: Store, settings: Settings, url: str, **filters: Any
) -> tuple[Subscription, str]:
    """A webhook subscription as `sendwatch subscribe webhook` makes it (its URL sealed with the
    signing secret, its address the label); returns its secret."""
    secret, key = new_secret(), secret_key(settings)
    subscription, _ = outbox.subscribe(
        store,
        "webhook",
        service_label(key, url),
        secret=seal_target(key, url, secret),
        **filters,
    )
    return subscription, secret


def verifies(secret: str, request: Received) -> bool:
    """What a receiver does (the README's snippet)."""
    expected = "sha256=" + hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, request.headers["X-Sendwatch-Signature"])


def deliveries(store: Store) -> list[Delivery]:
    with store.sessions() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def test_webhook_posts_the_api_record_signed_with_the_subscription_secret(
    tmp_path: Path, store: Store, receiver: Receiver
) -> None:
    settings = webhook_settings(tmp_path)
    _, secret = subscribe_webhook(store, settings, receiver.url(), la_codes=[BEXLEY])
    store.record(notice(BEXLEY, "bexley"))
    store.record(notice(WIRRAL, "wirral"))

    report = Dispatcher(settings, store, channels_for(settings)).run_once()

    assert (report.queued, report.sent) == (1, 1)
    (request,) = receiver.to("/hook")
    (delivery,) = deliveries(store)
    assert request.headers["X-Sendwatch-Delivery"] == str(delivery.id)
    assert request.headers["X-Sendwatch-Kind"] == "alert"
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    events = select_events(store, EventFilter(la_code=BEXLEY))
    assert request.json() == json.loads(json.dumps(records_of(store, events)[0]))
    assert request.json()["local_authority"]["ons_code"] == BEXLEY
    assert verifies(secret, request)
    assert not verifies(new_secret(), request)
    assert not verifies(secret, Received("/hook", request.headers, request.body + b" "))


def test_5xx_is_retried_with_the_same_delivery_id_and_recorded_sent_once(
    tmp_path: Path, store: Store, receiver: Receiver
) -> None:
    settings = webhook_settings(tmp_path)
    _, secret = subscribe_webhook(store, settings, receiver.url())
    receiver.script["/hook"] = [500, 500]
    store.record(notice(BEXLEY, "bexley"))
    dispatcher = Dispatcher(settings, store, channels_for(settings))

    reports = [dispatcher.run_once() for _ in range(4)]

    assert [(r.sent, r.retried, r.failed) for r in reports] == [
        (0, 1, 0),
        (0, 1, 0),
        (1, 0, 0),
        (0, 0, 0),
    ]
    requests = receiver.to("/hook")
    assert len(requests) == 3  # once more per retry, then never again
    assert len({r.delivery for r in requests}) == 1
    assert all(verifies(secret, r) for r in requests)
    assert len({r.body for r in requests}) == 1
    (delivery,) = deliveries(store)
    assert (delivery.state, delivery.attempts, delivery.last_error) == ("sent", 3, None)


def test_429_waits_for_retry_after(tmp_path: Path, store: Store, receiver: Receiver) -> None:
    settings = webhook_settings(tmp_path)
    subscribe_webhook(store, settings, receiver.url())
    receiver.script["/hook"] = [429]
    receiver.answer_headers[429] = {"Retry-After": "120"}
    store.record(notice(BEXLEY, "bexley"))

    before = dt.datetime.now(dt.UTC)
    report = Dispatcher(settings, store, channels_for(settings)).run_once()

    assert report.retried == 1
    (delivery,) = deliveries(store)
    assert delivery.state == "pending" and delivery.last_error == "429 Too Many Requests"
    wait = (delivery.next_attempt_at - before).total_seconds()
    assert 119 <= wait <= 125
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    soon = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    assert retry_after("Tue, 01 Jan 2030 00:01:00 GMT", now=soon) == 60.0


def test_410_pauses_the_subscription_after_pause_after_failures(
    tmp_path: Path, store: Store, receiver: Receiver
) -> None:
    settings = webhook_settings(tmp_path, pause_after_failures=2)
    subscription, _ = subscribe_webhook(store, settings, receiver.url("/gone"))
    receiver.script["/gone"] = [410] * 10
    dispatcher = Dispatcher(settings, store, channels_for(settings))

    store.record(notice(BEXLEY, "bexley"))
    first = dispatcher.run_once()
    store.record(notice(WIRRAL, "wirral"))
    second = dispatcher.run_once()
    store.record(notice(KENT, "kent"))
    third = dispatcher.run_once()

    assert (first.failed, first.paused, first.retried) == (1, 0, 0)
    assert (second.failed, second.paused) == (1, 1)
    assert (third.queued, third.sent, third.failed) == (0, 0, 0)
    assert len(receiver.to("/gone")) == 2
    state = outbox.subscription(store, "webhook", subscription.address)
    assert state is not None and state.state == "paused"
    assert [d.last_error for d in deliveries(store)] == ["410 Gone", "410 Gone"]


def test_other_4xx_is_permanent_and_a_timeout_is_retried(
    tmp_path: Path, store: Store, receiver: Receiver
) -> None:
    settings = webhook_settings(tmp_path)
    subscribe_webhook(store, settings, receiver.url("/bad"), la_codes=[BEXLEY])
    receiver.script["/bad"] = [400]
    store.record(notice(BEXLEY, "bexley"))
    report = Dispatcher(settings, store, channels_for(settings)).run_once()
    assert (report.failed, report.retried) == (1, 0)

    with receiving(Receiver(delay=1.5)) as slow:
        subscribe_webhook(store, settings, slow.url("/slow"), la_codes=[WIRRAL])
        store.record(notice(WIRRAL, "wirral"))
        channels = {"webhook": WebhookChannel(timeout=0.5)}
        report = Dispatcher(settings, store, channels).run_once()
    assert (report.sent, report.retried) == (0, 1)
    delivery = deliveries(store)[-1]
    assert delivery.state == "pending"
    assert "timed out" in (delivery.last_error or "")


def test_webhook_digest_is_one_signed_post_of_the_days_records(
    tmp_path: Path, store: Store, receiver: Receiver
) -> None:
    settings = webhook_settings(tmp_path)
    _, secret = subscribe_webhook(store, settings, receiver.url("/daily"), digest=True)
    store.record(notice(BEXLEY, "bexley"))
    store.record(notice(WIRRAL, "wirral"))
    dispatcher = Dispatcher(settings, store, channels_for(settings))

    assert dispatcher.run_once().sent == 0  # a digest subscription waits for the digest
    report = dispatcher.send_digests()

    assert report.sent == 2
    (request,) = receiver.to("/daily")
    assert request.headers["X-Sendwatch-Kind"] == "digest"
    body = request.json()
    assert body["digest"] is True
    assert [e["local_authority"]["ons_code"] for e in body["events"]] == [BEXLEY, WIRRAL]
    assert request.delivery == str(min(d.id for d in deliveries(store)))
    assert verifies(secret, request)


def test_an_older_version_s_webhook_in_clear_is_sealed_and_still_delivered(
    tmp_path: Path, store: Store, receiver: Receiver
) -> None:
    """Before, a webhook's URL was its address, in clear; its signing secret alone sealed."""
    settings = webhook_settings(tmp_path)
    url = receiver.url("/hook?token=abcdef123456")
    secret, key = new_secret(), secret_key(settings)
    outbox.subscribe(store, "webhook", url, secret=seal(key, secret))

    assert reseal_legacy(store, key) == 1
    (sealed,) = outbox.subscriptions(store)
    assert sealed.address == service_label(key, url) and "abcdef123456" not in sealed.address
    assert sealed.secret is not None and "abcdef123456" not in sealed.secret
    assert reseal_legacy(store, key) == 0  # once

    store.record(notice(BEXLEY, "bexley"))
    report = Dispatcher(settings, store, channels_for(settings)).run_once()
    assert report.sent == 1
    (request,) = receiver.to("/hook?token=abcdef123456")
    assert verifies(secret, request)  # the receiver's secret did not change
