"""Fan-out: Telegram at the Bot API's own limit, and email with and without connection reuse.

    python benchmarks/fan_out.py [--subscribers 10000] [--emails 2000]

Telegram: one event to N subscribers through the dispatcher, against a local Bot API
stand-in that answers 429 to a 31st message inside any one second. Target: >= 90% of
30 messages/s, zero 429s. Email: 2,000 messages to a local SMTP server (aiosmtpd),
in batches on one connection vs one connection per message. Target: >= 5x.
"""

from __future__ import annotations

import argparse
import collections
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _common import final
from aiosmtpd.controller import Controller

from alerts.channels import Outgoing
from alerts.dispatch import Dispatcher, channels_for
from alerts.email import SmtpChannel
from alerts.summary import summarise
from sendwatch.config import Settings, SmtpConfig
from sendwatch.vocab import Kind
from storage import outbox
from storage.store import FindingData, Store
from tests.alerts.conftest import free_port
from tests.alerts.telegram_standin import TOKEN, TelegramStandIn, running

LIMIT = 30


class Limited(TelegramStandIn):
    """The stand-in, enforcing Telegram's overall limit over a sliding second."""

    def __init__(self) -> None:
        super().__init__()
        self.window: collections.deque[float] = collections.deque()
        self.refused = 0
        self.window_lock = threading.Lock()

    def handle(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method == "sendMessage":
            with self.window_lock:
                now = time.monotonic()
                while self.window and now - self.window[0] >= 1.0:
                    self.window.popleft()
                if len(self.window) >= LIMIT:
                    self.refused += 1
                    return 429, {
                        "ok": False,
                        "error_code": 429,
                        "description": "Too Many Requests: retry after 1",
                        "parameters": {"retry_after": 1},
                    }
                self.window.append(now)
        return super().handle(method, params)


def telegram(subscribers: int) -> tuple[float, int]:
    limited = Limited()
    with tempfile.TemporaryDirectory() as scratch, running(limited) as standin:
        settings = Settings.model_validate(
            {
                "data_dir": scratch,
                "telegram": {"enabled": True, "base_url": standin.base_url, "token": TOKEN},
                "alerts": {"batch_size": 500},
            }
        )
        store = Store(f"sqlite:///{Path(scratch) / 's.db'}")
        store.upgrade()
        for index in range(subscribers):
            outbox.subscribe(store, "telegram", str(10_000 + index))
        store.record(
            FindingData(
                source="govuk",
                identity="x",
                url="https://www.gov.uk/x",
                title="Improvement notice issued to Wirral Council",
                kind=Kind.IMPROVEMENT_NOTICE,
                la_code="E08000015",
            )
        )
        started = time.perf_counter()
        report = Dispatcher(settings, store, channels_for(settings)).run_once()
        elapsed = time.perf_counter() - started
        assert report.sent == subscribers, report.line()
        return subscribers / elapsed, limited.refused


class Sink:
    count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        Sink.count += 1
        return "250 OK"


def email(messages: int) -> tuple[float, float]:
    port = free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        channel = SmtpChannel(
            SmtpConfig(
                host="127.0.0.1", port=port, security="none", from_address="alerts@sendwatch.test"
            )
        )
        with tempfile.TemporaryDirectory() as scratch:
            store = Store(f"sqlite:///{Path(scratch) / 's.db'}")
            store.upgrade()
            result = store.record(
                FindingData(
                    source="govuk",
                    identity="x",
                    url="https://www.gov.uk/x",
                    title="Improvement notice issued to Wirral Council",
                    kind=Kind.IMPROVEMENT_NOTICE,
                    la_code="E08000015",
                )
            )
            event = outbox.events(store, limit=1)[0]
            summary = summarise(event)
            assert result.event_id == event.id
        batch = [
            Outgoing(i, f"s{i}@example.org", (summary,), "http://127.0.0.1/unsubscribe/x")
            for i in range(messages)
        ]
        done = lambda _o, _r: None  # noqa: E731
        started = time.perf_counter()
        for start in range(0, messages, 100):
            channel.send(batch[start : start + 100], done)
        reused = messages / (time.perf_counter() - started)
        started = time.perf_counter()
        for item in batch:
            channel.send([item], done)
        separate = messages / (time.perf_counter() - started)
        assert Sink.count == 2 * messages
        return reused, separate
    finally:
        controller.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--emails", type=int, default=2_000)
    args = parser.parse_args()
    reused, separate = email(args.emails)
    print(
        f"email: {reused:.0f}/s on one connection per batch, {separate:.0f}/s with one connection per message"
    )
    rate, refused = telegram(args.subscribers)
    print(f"telegram: {args.subscribers} messages at {rate:.1f}/s, {refused} refused with 429")
    final(
        telegram_per_s=rate,
        telegram_share_of_limit=rate / LIMIT,
        telegram_429s=refused,
        email_reuse_per_s=reused,
        email_separate_per_s=separate,
        email_ratio=reused / separate,
    )


if __name__ == "__main__":
    main()
