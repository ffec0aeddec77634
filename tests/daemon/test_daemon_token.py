"""`sendwatch run` with a bot token Telegram rejects: one clear line, no token anywhere, the
bot left down instead of restarted every 15 s, and one maintainer alarm."""

from __future__ import annotations

import signal
from pathlib import Path

from alerts.telegram import TOKEN_REJECTED
from storage.store import Store
from tests.alerts.conftest import Mailbox
from tests.alerts.conftest import mailbox as mailbox
from tests.alerts.telegram_standin import TelegramStandIn
from tests.daemon.test_daemon import DISPATCHED, SOURCES, Daemon, until
from tests.daemon.test_daemon import daemon_env as daemon_env
from tests.daemon.test_daemon import standin as standin

WRONG = "7000000001:AAHwrongTokenForTestsOnly_abcdefghijklm"


def test_rejected_bot_token_stops_the_bot_and_alarms_once(
    tmp_path: Path, mailbox: Mailbox, standin: TelegramStandIn, daemon_env: dict[str, str]
) -> None:
    for source in SOURCES:
        daemon_env[f"SENDWATCH_SOURCES_{source}_ENABLED"] = "false"
    daemon_env |= {"SENDWATCH_TELEGRAM_BOT": "true", "SENDWATCH_TELEGRAM_TOKEN": WRONG}
    daemon = Daemon(tmp_path, daemon_env).start()
    try:
        until(lambda: mailbox.to("ops@example.org"), 30, "the maintainer alarm")
        daemon.await_more(DISPATCHED, 2, 30)  # more dispatch passes: no second alarm
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(timeout=15) == 0
    finally:
        daemon.kill()
    (alarm,) = mailbox.to("ops@example.org")
    assert alarm["Subject"] == "[sendwatch] alarm: telegram"
    body = alarm.get_body(("plain",))
    assert body is not None and TOKEN_REJECTED in body.get_content()
    log = daemon.log.read_text()
    assert WRONG not in log and "AAHwrong" not in log
    assert "Traceback" not in log
    assert log.count(f"sendwatch: error: {TOKEN_REJECTED}") == 1
    assert log.count("telegram bot started") == 1
    assert "not restarting it" in log
    store = Store(f"sqlite:///{tmp_path / 'data' / 'sendwatch.db'}")
    try:
        (open_alarm,) = store.open_alarms()
        assert (open_alarm.source, open_alarm.message) == ("telegram", TOKEN_REJECTED)
    finally:
        store.close()
