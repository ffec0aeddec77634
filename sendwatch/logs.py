"""Logging set-up shared by the CLI and the daemon, and the one place secrets are masked.

A last line of defence masks every configured secret in every log line (message,
traceback and all), in uncaught exceptions (``sys.excepthook``,
``threading.excepthook``, unraisable exceptions; asyncio's go through logging), and
in whatever is written to the store (`storage.db` applies `mask_secrets` to every
string it sends to the database). A library that puts a bot token in a URL (httpx
does) or in an error message (python-telegram-bot's "The token `…` was rejected")
cannot leak it.

`mask_secrets(text)` is for anyone who writes text somewhere people read: it replaces
the registered secrets, and anything shaped like a Telegram bot token, with `MASK`.
"""

from __future__ import annotations

import logging
import re
import socket
import sys
import threading
import traceback
from collections.abc import Iterable
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote

from sqlalchemy.engine import make_url

from sendwatch.config import MASK, Settings

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Shorter values are not treated as secrets: masking them would mangle ordinary text.
MIN_SECRET_LENGTH = 4

#: Shorter secrets are masked in logs but not in what is written to the store, where a
#: short value could collide with ordinary scraped text and mangle it.
MIN_STORED_SECRET_LENGTH = 8

#: Every secret registered so far, longest first (a secret containing another is masked whole).
_secrets: list[str] = []
_stored_secrets: tuple[str, ...] = ()
_lock = threading.Lock()

#: What a Telegram bot token looks like, wherever it appears: in a Bot API URL
#: (`/bot<token>/`), in python-telegram-bot's "The token `<token>` was rejected", or bare.
_TOKEN_SHAPES = (
    re.compile(r"(?<=/bot)\d+:[^/\s?#]+(?=/)"),
    re.compile(r"(?<=[Tt]oken `)[^`]+(?=`)"),
    re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{30,}"),
)


def register_secrets(values: Iterable[str | None]) -> None:
    """Remember secret values so that `mask_secrets` (and so logs and the store) hide them."""
    global _secrets, _stored_secrets
    with _lock:
        known = set(_secrets) | {v for v in values if v and len(v) >= MIN_SECRET_LENGTH}
        _secrets = sorted(known, key=len, reverse=True)
        _stored_secrets = tuple(s for s in _secrets if len(s) >= MIN_STORED_SECRET_LENGTH)


def stored_secrets() -> tuple[str, ...]:
    """The registered secrets long enough to be masked in text written to the store."""
    return _stored_secrets


def mask_secrets(text: str, extra: Iterable[str] = ()) -> str:
    """`text` with every registered secret (and `extra` ones) and token-shaped string masked."""
    if not text:
        return text
    for secret in (*sorted((s for s in extra if s), key=len, reverse=True), *_secrets):
        if secret in text:
            text = text.replace(secret, MASK)
    for shape in _TOKEN_SHAPES:
        text = shape.sub(MASK, text)
    return text


class SecretMask(logging.Filter):
    """Replaces secret values in a record's rendered message (kept for handlers of others;
    `MaskingFormatter` masks the whole formatted line, traceback included)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted(
            {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True
        )

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_secrets(message, self.secrets)
        if masked != message:
            record.msg, record.args = masked, None
        return True


class MaskingFormatter(logging.Formatter):
    """A formatter whose every line, traceback and stack included, has its secrets masked."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_secrets(super().format(record))


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
    return mask_secrets(text or type(exc).__name__)


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
        sys.stderr.write(mask_secrets(text))
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


def mask_address(address: str) -> str:
    """A subscriber's address fit for a log line: enough to recognise, not to harvest.

    "parent@example.org" becomes "p*****@example.org", a chat id "12*****89". Logs travel
    (journald, log shippers); `sendwatch outbox` is where the maintainer sees addresses whole.
    """
    local, at, domain = address.partition("@")
    if at:
        return f"{local[:1]}*****@{domain}"
    if len(address) <= 4:
        return "*****"
    return f"{address[:2]}*****{address[-2:]}"


#: Query parameters of Apprise URLs that set options, never credentials: their values are not
#: treated as secrets (masking "markdown" or "private" everywhere would mangle ordinary text).
_OPTION_KEYS = frozenset(
    {
        "format",
        "overflow",
        "priority",
        "mode",
        "method",
        "image",
        "verify",
        "retry",
        "wait",
        "optional",
        "tags",
        "emojis",
        "footer",
        "avatar",
        "batch",
        "tts",
        "rto",
        "cto",
        "tz",
        "auth",
        "cache",
        "click",
        "delay",
        "attach",
        "filename",
        "version",
        "msgtype",
        "discovery",
        "hsreq",
        "timestamp",
        "blocks",
        "preview",
        "silent",
        "detect",
        "content",
    }
)
#: Path segments and query values shorter than this are words, not tokens.
MIN_URL_PART_LENGTH = 6
_HOSTNAME = re.compile(
    r"^(localhost|[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}|[0-9.]+|\[[0-9A-Fa-f:.]+\])(:\d+)?$"
)


def _url_parts(url: str) -> tuple[str, str, str, str, str]:
    """(scheme, userinfo, host[:port], path, query) of `url`, read by hand: Apprise URLs put
    tokens where a port would be (`tgram://123:ABC/…`), which `urllib.parse` refuses."""
    scheme, _, rest = url.strip().partition("://")
    rest = rest.partition("#")[0]
    rest, _, query = rest.partition("?")
    netloc, slash, path = rest.partition("/")
    userinfo, at, host = netloc.rpartition("@")
    return scheme.lower(), userinfo if at else "", host, slash + path, query


def mask_service_url(url: str) -> str:
    """An Apprise or webhook URL fit to print: its scheme and host only ("ntfy://ntfy.sh").

    The host too is left out ("tgram://…") when it is not a host name, since some services
    put their token there (a Telegram bot token, a Discord webhook id)."""
    scheme, _, host, _, _ = _url_parts(url)
    if not scheme.isascii() or not scheme.replace("+", "").isalnum():
        return MASK
    return f"{scheme}://{host if _HOSTNAME.match(host) else '…'}"


def url_secrets(url: str) -> list[str]:
    """The parts of an Apprise URL that may be secrets, to register for masking: the whole URL,
    its user and password, a host that is no host name, each path segment (a ntfy topic, a
    webhook token, a Slack token) and the fragment and query values that are not options."""
    _scheme, userinfo, host, path, query = _url_parts(url)
    found = [url.strip(), url.strip().partition("://")[2]]
    found += [unquote(part) for part in userinfo.split(":")] + userinfo.split(":")
    if not _HOSTNAME.match(host):
        found.append(host)
    # Shorter path segments and values are words ("hook", "api"), masked nowhere.
    parts = [piece for segment in path.split("/") for piece in (segment, unquote(segment))]
    parts += [value for key, value in parse_qsl(query) if key.lower() not in _OPTION_KEYS]
    found += [part for part in parts if len(part) >= MIN_URL_PART_LENGTH]
    return [value for value in dict.fromkeys(found) if len(value) >= MIN_SECRET_LENGTH]
