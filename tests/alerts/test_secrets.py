"""No secret leaks: a token Telegram rejects is one clear line, masked everywhere, never stored.

Against the local Bot API stand-in, which answers Telegram's real 401 to any other token;
python-telegram-bot then raises InvalidToken with the token in its message.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from sqlalchemy import select

from alerts.dispatch import Dispatcher, channels_for
from alerts.telegram import TOKEN_REJECTED
from sendwatch.config import Settings
from sendwatch.errors import EXIT_FATAL_CONFIG
from sendwatch.masking import MASK, mask, register_secrets
from storage import outbox
from storage.models import Delivery
from storage.store import Store
from tests.alerts.telegram_standin import TelegramStandIn
from tests.alerts.test_email_dispatch import BEXLEY, notice
from tests.alerts.test_telegram import standin as standin
from tests.paths import COMMAND

#: A token the stand-in rejects, shaped like a real one.
WRONG = "7000000001:AAHwrongTokenForTestsOnly_abcdefghijklm"


def test_rejected_token_is_one_clear_line_and_a_fatal_exit(
    tmp_path: Path, standin: TelegramStandIn
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    env |= {
        "SENDWATCH_DATA_DIR": str(tmp_path / "data"),
        "SENDWATCH_TELEGRAM_ENABLED": "true",
        "SENDWATCH_TELEGRAM_BASE_URL": standin.base_url,
        "SENDWATCH_TELEGRAM_TOKEN": WRONG,
        "SENDWATCH_LOG_LEVEL": "DEBUG",
    }
    done = subprocess.run(
        [*COMMAND, "bot"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    output = done.stdout + done.stderr
    assert WRONG not in output and "AAHwrong" not in output
    assert "Traceback" not in output
    assert f"sendwatch: error: {TOKEN_REJECTED}" in done.stderr.splitlines()
    assert done.returncode == EXIT_FATAL_CONFIG


def test_rejected_token_is_never_stored(
    tmp_path: Path, store: Store, standin: TelegramStandIn
) -> None:
    settings = Settings.model_validate(
        {
            "data_dir": str(tmp_path / "data"),
            "telegram": {"enabled": True, "base_url": standin.base_url, "token": WRONG},
            "alerts": {"retry_base_seconds": 0},
        }
    )
    outbox.subscribe(store, "telegram", "101")
    store.record(notice(BEXLEY, "bexley"))

    report = Dispatcher(settings, store, channels_for(settings)).run_once()

    assert report.sent == 0
    with store.sessions() as session:
        errors = list(session.scalars(select(Delivery.last_error)))
    assert errors == [TOKEN_REJECTED]


def test_tracebacks_and_uncaught_exceptions_are_masked(tmp_path: Path) -> None:
    """Log records with tracebacks, asyncio's unretrieved exceptions, a thread's and the
    main thread's uncaught exceptions: all carry the token in clear without the mask."""
    script = textwrap.dedent(
        f"""
        import asyncio, gc, logging, threading
        from sendwatch.config import Settings
        from sendwatch.logs import setup_logging

        token = {WRONG!r}
        settings = Settings.model_validate({{"telegram": {{"token": token}}}})
        setup_logging("INFO", settings)
        try:
            raise RuntimeError(f"The token `{{token}}` was rejected by the server.")
        except RuntimeError:
            logging.getLogger("test").exception("it failed")

        async def fails():
            raise RuntimeError("bad " + token)

        async def main():
            asyncio.ensure_future(fails())
            await asyncio.sleep(0.05)

        asyncio.run(main())
        gc.collect()

        def fails_in_a_thread():
            raise ValueError(token)

        thread = threading.Thread(target=fails_in_a_thread)
        thread.start()
        thread.join()
        raise RuntimeError("uncaught " + token)
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "uncaught" in done.stderr and "ValueError" in done.stderr
    assert "it failed" in done.stderr and "never retrieved" in done.stderr
    assert WRONG not in done.stderr and "AAHwrong" not in done.stderr
    assert done.stderr.count(MASK) >= 4


def test_mask_hides_registered_secrets_and_token_shapes() -> None:
    register_secrets(["s3cret-value-for-tests"])
    assert mask("password s3cret-value-for-tests!") == f"password {MASK}!"
    assert WRONG not in mask(f"https://api.telegram.org/bot{WRONG}/getMe")
    assert mask("The token `1:x` was rejected") == f"The token `{MASK}` was rejected"
    assert mask(f"bare {WRONG}") == f"bare {MASK}"
    assert mask("https://www.gov.uk/bottles/x") == "https://www.gov.uk/bottles/x"


def test_nothing_written_to_the_store_holds_a_registered_secret(store: Store) -> None:
    secret = "another-s3cret-for-the-store"
    register_secrets([secret])
    store.raise_alarm("telegram", "test", f"failed with {secret} in it")
    (alarm,) = [a for a in store.open_alarms() if a.kind == "test"]
    assert alarm.message == f"failed with {MASK} in it"


def test_the_store_masks_only_longer_secrets_and_no_shapes() -> None:
    """What the store keeps is scraped text as often as not: a short secret or a token-shaped
    string there is left alone; logs mask both."""
    shaped = "7000000002:AAHneverRegisteredTokenShape_abcdefghi"
    register_secrets(["s3ct", "a-longer-s3cret-value"])
    text = f"s3ct, a-longer-s3cret-value and bare {shaped}"
    assert mask(text, stored=True) == f"s3ct, {MASK} and bare {shaped}"
    assert mask(text) == f"{MASK}, {MASK} and bare {MASK}"
    assert mask("one extra value", ["extra"]) == f"one {MASK} value"
    plain = "nothing secret here"
    assert mask(plain, stored=True) is plain
