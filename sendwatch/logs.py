"""Logging set-up shared by the CLI and the daemon: every line masked of secrets.

A last line of defence masks every configured secret in every log line (message,
traceback and all) and in uncaught exceptions (``sys.excepthook``,
``threading.excepthook``, unraisable exceptions; asyncio's go through logging), with
`sendwatch.masking.mask`, the one masking rule (which the store applies too, to every
string it sends to the database). A library that puts a bot token in a URL (httpx
does) or in an error message (python-telegram-bot's "The token `…` was rejected")
cannot leak it. `secret_values` names the configuration's secrets, registered here at
start-up.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
import traceback
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from sqlalchemy.engine import make_url

from sendwatch.config import Settings
from sendwatch.masking import mask, register_secrets, secret_list, url_secrets

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class SecretMask(logging.Filter):
    """Replaces secret values in a record's rendered message (kept for handlers of others;
    `MaskingFormatter` masks the whole formatted line, traceback included)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = secret_list(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message, self.secrets)
        if masked != message:
            record.msg, record.args = masked, None
        return True


class MaskingFormatter(logging.Formatter):
    """A formatter whose every line, traceback and stack included, has its secrets masked."""

    def format(self, record: logging.LogRecord) -> str:
        return mask(super().format(record))


def secret_values(settings: Settings) -> list[str]:
    """Every secret in the configuration, plus the database password if the URL has one."""
    values = [
        secret.get_secret_value()
        for secret in (settings.secret_key, settings.smtp.password, settings.telegram.token)
        if secret is not None
    ]
    for url in settings.alerts.maintainer_urls:  # Apprise URLs: their tokens, and whole
        values.extend(url_secrets(url.get_secret_value()))
    try:
        password = make_url(settings.effective_database_url).password
    except Exception:  # a malformed URL is reported elsewhere, by the store
        password = None
    if password:
        values.append(str(password))
    return values


#: Network failures by class name, wherever they come from (httpx, httpcore,
#: python-telegram-bot, Twisted, smtplib), so none of those has to be imported to know one.
_NETWORK_ERROR_NAMES = frozenset(
    {
        "NetworkError",  # python-telegram-bot (TimedOut is one), httpcore
        "TransportError",  # httpx: ConnectError, ReadTimeout, ...
        "TimeoutException",  # httpx
        "ConnectError",  # httpcore, Twisted
        "ConnectTimeout",
        "ReadTimeout",
        "DNSLookupError",  # Twisted
        "TCPTimedOutError",
        "ResponseNeverReceived",
        "ConnectingCancelledError",
        "SMTPConnectError",
        "SMTPServerDisconnected",
    }
)


def network_error(exc: BaseException | None) -> BaseException | None:
    """The network failure (DNS, refused, reset, timeout) behind `exc`, if that is what it is.

    Follows the chain of causes (`raise … from`), since libraries wrap one in their own
    (python-telegram-bot's NetworkError around httpx's ConnectError around an OSError). A file error is no network
    failure: only connection errors, timeouts and name lookups count among OSErrors.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ConnectionError | TimeoutError | socket.gaierror | socket.herror):
            return exc
        if any(cls.__name__ in _NETWORK_ERROR_NAMES for cls in type(exc).__mro__):
            return exc
        exc = exc.__cause__  # only what it was raised *from*: a bug while handling one is a bug
    return None


def describe_network_error(exc: BaseException) -> str:
    """A network failure in a few words: its message, or its class when it has none."""
    text = " ".join(str(exc).split())
    return mask(text or type(exc).__name__)


class NetworkErrorsOneLine(logging.Filter):
    """A network failure logged with its traceback (by a library, or by us) becomes one line,
    the message and the reason: a site or Telegram being unreachable is news, not a bug.
    Installed below DEBUG only; at DEBUG the tracebacks stay, for whoever needs them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.exc_info or record.exc_info[1] is None:
            return True
        failure = network_error(record.exc_info[1])
        if failure is None:
            return True
        reason, message = describe_network_error(failure), record.getMessage()
        record.msg = message if reason in message else f"{message.rstrip('. ')}: {reason}"
        record.args = None
        record.exc_info = None
        record.exc_text = None
        return True


def _write_masked(text: str) -> None:
    try:
        sys.stderr.write(mask(text))
        sys.stderr.flush()
    except Exception:  # stderr closed: nothing more can be said
        pass


def _excepthook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    _write_masked("".join(traceback.format_exception(kind, value, tb)))


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else threading.get_ident()
    _write_masked(
        f"Exception in thread {name}:\n"
        + "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
    )


def _unraisablehook(unraisable: Any) -> None:
    message = unraisable.err_msg or "Exception ignored in"
    text = f"{message}: {unraisable.object!r}\n"
    if unraisable.exc_type is not None:
        text += "".join(
            traceback.format_exception(
                unraisable.exc_type, unraisable.exc_value, unraisable.exc_traceback
            )
        )
    _write_masked(text)


def install_excepthooks() -> None:
    """Uncaught exceptions, in the main thread or any other, are printed with secrets masked."""
    sys.excepthook = _excepthook
    threading.excepthook = _thread_excepthook
    sys.unraisablehook = _unraisablehook


def setup_logging(level: str, settings: Settings | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(MaskingFormatter(FORMAT))
    handler.setLevel(level.upper())  # libraries that lower their own loggers' levels stay quiet
    if level.upper() != "DEBUG":
        handler.addFilter(NetworkErrorsOneLine())
    if settings is not None:
        register_secrets(secret_values(settings))
    install_excepthooks()
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request URL, and Telegram's carry the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # Alembic narrates its plugin set-up at INFO on every command; we log the upgrade ourselves.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if level.upper() != "DEBUG":
        # APScheduler narrates every job it adds, runs and finishes at INFO, each minute; the
        # daemon logs what the jobs did (crawl results, dispatch counts) itself.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
