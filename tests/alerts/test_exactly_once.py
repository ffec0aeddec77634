"""Exactly once: 3 events x 50 subscribers over email and Telegram; twice; and two dispatchers at once."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from alerts.dispatch import Dispatcher, channels_for
from sendwatch.config import Settings
from storage import outbox
from storage.store import Store
from tests.alerts.conftest import Mailbox
from tests.alerts.telegram_standin import TOKEN, TelegramStandIn, running
from tests.alerts.test_email_dispatch import BEXLEY, KENT, WIRRAL, notice

SUBSCRIBERS = 50
#: Subscriber i follows: everything (i % 3 == 0), Bexley (1), or the North West, where Wirral is (2).
WANTS = {0: {"Bexley", "Wirral", "Kent"}, 1: {"Bexley"}, 2: {"Wirral"}}


@pytest.fixture
def standin() -> Iterator[TelegramStandIn]:
    with running() as server:
        yield server


def _settings(tmp_path: Path, mailbox: Mailbox, standin: TelegramStandIn) -> Settings:
    return Settings.model_validate(
        {
            "data_dir": str(tmp_path / "data"),
            "smtp": {
                "host": "127.0.0.1",
                "port": mailbox.port,
                "security": "none",
                "from_address": "alerts@sendwatch.test",
            },
            "telegram": {"enabled": True, "base_url": standin.base_url, "token": TOKEN},
            "alerts": {"batch_size": 20},
        }
    )


def _address(i: int) -> tuple[str, str]:
    return ("email", f"s{i}@example.org") if i % 2 == 0 else ("telegram", str(1000 + i))


def _populate(store: Store) -> None:
    for i in range(SUBSCRIBERS):
        channel, address = _address(i)
        filters = {0: {}, 1: {"la_codes": [BEXLEY]}, 2: {"regions": ["North West"]}}[i % 3]
        outbox.subscribe(store, channel, address, **filters)  # type: ignore[arg-type]
    for la_code, name in ((BEXLEY, "Bexley"), (WIRRAL, "Wirral"), (KENT, "Kent")):
        store.record(notice(la_code, name.lower()))


def _received(mailbox: Mailbox, standin: TelegramStandIn) -> Counter[tuple[str, str]]:
    """(address, council) for every message that arrived, counted."""
    got: Counter[tuple[str, str]] = Counter()
    for rcpts, message in mailbox.messages:
        got[(rcpts[0], message["Subject"].rsplit(": ", 1)[1])] += 1
    for sent in standin.sent:
        council = sent["text"].split("</b>", 1)[0].rsplit(": ", 1)[1]
        got[(str(sent["chat_id"]), council)] += 1
    return got


def _expected() -> Counter[tuple[str, str]]:
    return Counter(
        {(_address(i)[1], council): 1 for i in range(SUBSCRIBERS) for council in WANTS[i % 3]}
    )


def test_every_subscriber_gets_each_matching_event_once(
    tmp_path: Path, store: Store, mailbox: Mailbox, standin: TelegramStandIn
) -> None:
    settings = _settings(tmp_path, mailbox, standin)
    _populate(store)

    first = Dispatcher(settings, store, channels_for(settings)).run_once()
    second = Dispatcher(settings, store, channels_for(settings)).run_once()

    assert first.sent == sum(_expected().values()) == 84
    assert second.sent == 0
    assert _received(mailbox, standin) == _expected()
    message_ids = [message["Message-ID"] for _, message in mailbox.messages]
    assert len(message_ids) == len(set(message_ids))


def _dispatch(url: str, settings_json: str, results: list[str]) -> None:
    store = Store(url)
    settings = Settings.model_validate_json(settings_json)
    report = Dispatcher(settings, store, channels_for(settings)).run_once()
    results.append(report.line())
    store.close()


def test_two_dispatchers_at_once_on_postgresql(
    tmp_path: Path, postgres_url: str, mailbox: Mailbox, standin: TelegramStandIn
) -> None:
    store = Store(postgres_url)
    store.upgrade()
    settings = _settings(tmp_path, mailbox, standin)
    _populate(store)
    settings_json = settings.model_dump_json()
    # model_dump_json masks secrets; hand the token over in the clear for the child processes.
    settings_json = settings_json.replace('"**********"', f'"{TOKEN}"')

    context = multiprocessing.get_context("fork")
    with context.Manager() as manager:
        results = manager.list()
        workers = [
            context.Process(target=_dispatch, args=(postgres_url, settings_json, results))
            for _ in range(2)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
        assert [worker.exitcode for worker in workers] == [0, 0]
        lines = list(results)

    sent = sum(int(line.split("sent=")[1].split()[0]) for line in lines)
    assert sent == 84
    assert _received(mailbox, standin) == _expected()
    store.close()
