"""Signed, unguessable unsubscribe links: HMAC-SHA256 of the subscription id with the secret key.

The key comes from SENDWATCH_SECRET_KEY. Without one, a random key is made once and
kept in the data directory (readable by its owner only), so links keep working
across restarts; set the variable to share one key between servers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
import time
from pathlib import Path

from sendwatch.config import Settings
from sendwatch.errors import SendwatchError

log = logging.getLogger(__name__)
KEY_FILE = "secret.key"


def secret_key(settings: Settings) -> bytes:
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode("utf-8")
    path = Path(settings.data_dir) / KEY_FILE
    if not path.exists():
        _create_key(path)
    return path.read_text().strip().encode("utf-8")


def _create_key(path: Path) -> None:
    """Write the key whole, then link it into place: two processes starting at once agree on one.

    The file is readable by its owner only (0600), in a data directory created 0700.
    """
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        draft = path.with_name(f".{KEY_FILE}.{os.getpid()}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        raise SendwatchError(
            f"cannot create the secret key file {path}: {exc.strerror or exc}"
            " (or set SENDWATCH_SECRET_KEY)"
        ) from None
    os.fchmod(descriptor, 0o600)  # a draft left over by a dead process keeps its own mode
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_urlsafe(32))
    try:
        os.link(draft, path)
        log.warning("no SENDWATCH_SECRET_KEY set: made one in %s", path)
    except FileExistsError:
        pass  # another process made it first: use theirs
    finally:
        draft.unlink()


def _signature(key: bytes, purpose: str, subscription_id: int) -> str:
    digest = hmac.new(key, f"{purpose}:{subscription_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode("ascii")


def unsubscribe_token(key: bytes, subscription_id: int, purpose: str = "unsubscribe") -> str:
    return f"{subscription_id}.{_signature(key, purpose, subscription_id)}"


def verify_token(key: bytes, token: str, purpose: str = "unsubscribe") -> int | None:
    """The subscription id the token was made for, or None if it was not made with this key
    for this purpose (an unsubscribe token cannot confirm a sign-up, nor the reverse)."""
    number, _, signature = token.partition(".")
    # ASCII digits only ("²".isdigit() is true), and within the database's integers.
    if not (number.isascii() and number.isdigit() and len(number) <= 19) or int(number) >= 2**63:
        return None
    if not _same(signature, _signature(key, purpose, int(number))):
        return None
    return int(number)


def unsubscribe_url(settings: Settings, key: bytes, subscription_id: int) -> str:
    """The link in every alert, on sendwatch's own address (`Settings.own_url`): an email is
    sent by the dispatcher, which listens on nothing, so `[web] host` and `port` stand in for
    the web server's address when `[alerts] public_url` is not set."""
    return f"{settings.own_url()}/unsubscribe/{unsubscribe_token(key, subscription_id)}"


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison that also takes non-ASCII input (which compare_digest refuses on str)."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("ascii"))


def _mac(key: bytes, purpose: str, text: str) -> str:
    digest = hmac.new(key, f"{purpose}:{text}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode("ascii")


def sign_text(key: bytes, purpose: str, text: str) -> str:
    """`text` and its signature for `purpose`, as one URL-safe token (readable, not secret)."""
    body = base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")
    return f"{body}.{_mac(key, purpose, body)}"


def signed_text(key: bytes, purpose: str, token: str) -> str | None:
    """The text `sign_text` put in the token, or None if it was not signed with this key for this
    purpose."""
    body, _, signature = token.partition(".")
    if not body or len(token) > 2000 or not _same(signature, _mac(key, purpose, body)):
        return None
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("utf-8")
    except ValueError:
        return None


def csrf_token(key: bytes, session: str, now: float | None = None) -> str:
    """A form token bound to the session cookie and to the time it was made (`csrf_ok` checks both)."""
    issued = int(time.time() if now is None else now)
    return f"{issued}.{_mac(key, 'csrf', f'{session}:{issued}')}"


def csrf_ok(key: bytes, session: str, token: str, max_age: float = 2 * 86400) -> bool:
    """Whether `token` was made by `csrf_token` for this very session, less than `max_age` ago."""
    issued, _, signature = token.partition(".")
    if not session or not (issued.isascii() and issued.isdigit() and len(issued) <= 12):
        return False
    age = time.time() - int(issued)
    expected = _mac(key, "csrf", f"{session}:{issued}")
    return -300 <= age <= max_age and _same(signature, expected)
