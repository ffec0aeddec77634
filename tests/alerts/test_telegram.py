"""Telegram alerts and the two-way bot, against a local stand-in for the Bot API."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from alerts.dispatch import Dispatcher, channels_for
from sendwatch.config import Settings
from storage import outbox
from storage.store import Store
from tests.alerts.telegram_standin import TOKEN, TelegramStandIn, bot_process, running
from tests.alerts.test_email_dispatch import BEXLEY, KENT, WIRRAL, notice
from tests.paths import COMMAND

ADMIN = 999


@pytest.fixture
def standin() -> Iterator[TelegramStandIn]:
    with running() as server:
        yield server


def telegram_settings(tmp_path: Path, standin: TelegramStandIn, **alerts: object) -> Settings:
    return Settings.model_validate(
        {
            "data_dir": str(tmp_path / "data"),
            "telegram": {
                "enabled": True,
                "base_url": standin.base_url,
                "token": TOKEN,
                "admin_chat_ids": [ADMIN],
            },
            "alerts": {"retry_base_seconds": 0, **alerts},
        }
    )


def test_alerts_are_sent_as_escaped_html(
    tmp_path: Path, store: Store, standin: TelegramStandIn
) -> None:
    settings = telegram_settings(tmp_path, standin)
    outbox.subscribe(store, "telegram", "101", la_codes=[BEXLEY])
    outbox.subscribe(store, "telegram", "102")
    store.record(
        notice(BEXLEY, "bexley", title='<b>Bexley</b> & "friends" 🎒', summary="x " * 6000)
    )
    store.record(notice(WIRRAL, "wirral"))

    report = Dispatcher(settings, store, channels_for(settings)).run_once()

    assert report.sent == 3
    (bexley,) = standin.to(101)
    assert bexley.startswith(
        "<b>Improvement notice issued: Bexley</b>\n&lt;b&gt;Bexley&lt;/b&gt; &amp; &quot;friends&quot; 🎒"
    )
    assert len(bexley) <= 4096
    assert (
        '<a href="https://www.gov.uk/government/publications/bexley">GOV.UK (Department for Education)</a>'
        in bexley
    )
    everything = standin.to(102)
    assert len(everything) == 2 and bexley in everything
    assert any(m.startswith("<b>Improvement notice issued: Wirral</b>") for m in everything)
    assert all(m["parse_mode"] == "HTML" for m in standin.sent)
    assert Dispatcher(settings, store, channels_for(settings)).run_once().sent == 0


def test_429_waits_retry_after_then_sends(
    tmp_path: Path, store: Store, standin: TelegramStandIn
) -> None:
    settings = telegram_settings(tmp_path, standin)
    standin.refuse[101] = [429]
    outbox.subscribe(store, "telegram", "101")
    store.record(notice(KENT, "kent"))

    first = Dispatcher(settings, store, channels_for(settings)).run_once()
    assert (first.sent, first.retried) == (0, 1)
    assert (
        Dispatcher(settings, store, channels_for(settings)).run_once().sent == 0
    )  # not before retry_after
    time.sleep(1.1)
    assert Dispatcher(settings, store, channels_for(settings)).run_once().sent == 1
    assert len(standin.to(101)) == 1


def test_blocked_bot_fails_and_pauses(
    tmp_path: Path, store: Store, standin: TelegramStandIn
) -> None:
    settings = telegram_settings(tmp_path, standin, pause_after_failures=2)
    standin.blocked.add(103)
    outbox.subscribe(store, "telegram", "103")
    for la_code in (BEXLEY, WIRRAL):
        store.record(notice(la_code, la_code))

    report = Dispatcher(settings, store, channels_for(settings)).run_once()

    assert (report.sent, report.failed, report.paused) == (0, 2, 1)
    assert outbox.subscription(store, "telegram", "103").state == "paused"  # type: ignore[union-attr]


def test_maintainer_alarm_reaches_the_admin_chat(
    tmp_path: Path, store: Store, standin: TelegramStandIn
) -> None:
    from storage.store import RunReport

    settings = telegram_settings(tmp_path, standin, maintainer_telegram_chat_id=ADMIN)
    for _ in range(3):
        store.record_run(RunReport("lgl", "failed", 0, "listing failed (500)"), alarm_after=3)
    assert Dispatcher(settings, store, channels_for(settings)).run_once().alarms == 1
    (message,) = standin.to(ADMIN)
    assert message.startswith("<b>[sendwatch] alarm: lgl</b>")


@pytest.fixture
def bot(
    tmp_path: Path, database_url: str, store: Store, standin: TelegramStandIn
) -> Iterator[TelegramStandIn]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    env |= {
        "SENDWATCH_DATABASE_URL": database_url,
        "SENDWATCH_DATA_DIR": str(tmp_path / "data"),
        "SENDWATCH_TELEGRAM_ADMIN_CHAT_IDS": str(ADMIN),
        "SENDWATCH_LOG_LEVEL": "DEBUG",
    }
    log = tmp_path / "bot.log"
    with bot_process(standin, env, tmp_path, log):
        yield standin
    assert TOKEN not in log.read_text()  # the token never reaches the logs


def test_bot_commands_drive_subscriptions(bot: TelegramStandIn, store: Store) -> None:
    from storage.store import RunReport
    from tests.alerts.test_threads import FOLLOWS, INSPECTED, _inspection, _paper

    store.record(_inspection(BEXLEY, INSPECTED))
    store.record(_paper(BEXLEY, dt.date(2024, 3, 12)))
    store.record(notice(BEXLEY, "bexley"))
    store.record_run(RunReport("govuk", "ok", 5), alarm_after=3)
    chat = 201
    bot.say(chat, "/start")
    assert "Welcome to sendwatch" in bot.wait_for(chat, 1)[0]
    bot.say(chat, "/subscribe Bexly")
    assert "Did you mean <b>Bexley</b>?" in bot.wait_for(chat, 2)[1]
    bot.say(chat, "/subscribe Bexley")
    assert bot.wait_for(chat, 3)[2].startswith("Subscribed: Bexley.")
    bot.say(chat, "/subscribe London")
    bot.wait_for(chat, 4)
    bot.say(chat, "/list")
    assert bot.wait_for(chat, 5)[4] == "You follow: Bexley; London"
    bot.say(chat, "/latest")
    latest = bot.wait_for(chat, 6)[5]
    assert latest.startswith("<b>Improvement notice issued: Bexley</b>")
    assert FOLLOWS in latest  # the paper, as its alert reads
    bot.say(chat, "/status")
    assert bot.wait_for(chat, 7)[6] == "Sorry, /status is for the maintainers."
    subscription = outbox.subscription(store, "telegram", str(chat))
    assert (
        subscription is not None
        and subscription.la_codes == [BEXLEY]
        and subscription.regions == ["London"]
    )

    bot.say(chat, "/unsubscribe")
    assert bot.wait_for(chat, 8)[7] == "Unsubscribed. No more alerts."
    assert outbox.subscription(store, "telegram", str(chat)).state == "unsubscribed"  # type: ignore[union-attr]

    bot.say(ADMIN, "/status")
    assert bot.wait_for(ADMIN, 1)[0].splitlines()[0] == "govuk: ok, 0 failures in a row, 1 findings"


def test_bot_by_webhook(
    tmp_path: Path, database_url: str, store: Store, standin: TelegramStandIn
) -> None:
    import httpx

    from tests.alerts.conftest import free_port

    port = free_port()
    hook = f"http://127.0.0.1:{port}/telegram"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    env |= {
        "SENDWATCH_DATABASE_URL": database_url,
        "SENDWATCH_DATA_DIR": str(tmp_path / "data"),
        "SENDWATCH_TELEGRAM_ENABLED": "true",
        "SENDWATCH_TELEGRAM_BASE_URL": standin.base_url,
        "SENDWATCH_TELEGRAM_TOKEN": TOKEN,
        "SENDWATCH_TELEGRAM_WEBHOOK_URL": hook,
        "SENDWATCH_TELEGRAM_WEBHOOK_PORT": str(port),
    }
    process = subprocess.Popen([*COMMAND, "bot"], env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 30
        while "setWebhook" not in standin.last and time.monotonic() < deadline:
            time.sleep(0.1)
        registered = standin.last["setWebhook"]
        assert registered["url"] == hook and registered["secret_token"]
        standin.say(301, "/subscribe Wirral")
        update = standin.updates[-1]
        for _ in range(50):  # the server may still be binding its port
            try:
                forged = httpx.post(hook, json=update)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert forged.status_code == 403  # no secret header: not from Telegram
        genuine = httpx.post(
            hook,
            json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": registered["secret_token"]},
        )
        assert genuine.status_code == 200
        assert standin.wait_for(301, 1)[0].startswith("Subscribed: Wirral.")
        assert "getUpdates" not in standin.calls  # no polling alongside the webhook
    finally:
        process.terminate()
        process.wait(timeout=15)
