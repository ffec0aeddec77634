"""The one place secrets are masked: `MASK`, the registry of secrets, and `mask`.

Whatever people read (log lines, tracebacks, `sendwatch config`, error messages) and whatever
the store keeps goes through `mask`, so there is one rule for what a secret looks like and
how it is hidden: a registered value is replaced by `MASK` wherever it appears, and so is
anything shaped like a Telegram bot token (a library may quote one we never registered).
Text written to the store is masked of the longer registered secrets only (`stored=True`):
a short one could collide with scraped text and mangle it.

Below it, the helpers that show an address or a URL without its secret part (a database URL,
a subscriber's address, an Apprise or webhook URL), and `url_secrets`, which names the parts
of an Apprise URL to register.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote

from sqlalchemy.engine import make_url

MASK = "********"
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


def secret_list(values: Iterable[str | None]) -> list[str]:
    """The values long enough to be secrets, each once, longest first (so that a secret
    containing another is masked whole)."""
    return sorted({v for v in values if v and len(v) >= MIN_SECRET_LENGTH}, key=len, reverse=True)


def register_secrets(values: Iterable[str | None]) -> None:
    """Remember secret values so that `mask` (and so logs and the store) hides them."""
    global _secrets, _stored_secrets
    with _lock:
        _secrets = secret_list([*_secrets, *values])
        _stored_secrets = tuple(s for s in _secrets if len(s) >= MIN_STORED_SECRET_LENGTH)


def stored_secrets() -> tuple[str, ...]:
    """The registered secrets long enough to be masked in text written to the store."""
    return _stored_secrets


def mask(text: str, extra: Iterable[str] = (), *, stored: bool = False) -> str:
    """`text` with each of `extra` and every registered secret replaced by `MASK`, and anything
    shaped like a Telegram bot token too.

    `stored`: the rule for text written to the store, which is scraped text as often as not:
    only the registered secrets of `MIN_STORED_SECRET_LENGTH` or more, and no token shapes.
    Text with nothing to mask is returned as it came (the same object).
    """
    if not text:
        return text
    registered = _stored_secrets if stored else _secrets
    for secret in (*sorted((s for s in extra if s), key=len, reverse=True), *registered):
        if secret in text:
            text = text.replace(secret, MASK)
    if not stored:
        for shape in _TOKEN_SHAPES:
            text = shape.sub(MASK, text)
    return text


def mask_url(url: str) -> str:
    """A database URL fit to print: any password replaced."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparseable URL may still hold a secret; show none of it
        return MASK


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
