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
from pathlib import Path

from sendwatch.config import Settings

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
    """Write the key whole, then link it into place: two processes starting at once agree on one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{KEY_FILE}.{os.getpid()}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
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
    if not number.isdigit():
        return None
    if not hmac.compare_digest(signature, _signature(key, purpose, int(number))):
        return None
    return int(number)


def unsubscribe_url(settings: Settings, key: bytes, subscription_id: int) -> str:
    base = settings.alerts.public_url.rstrip("/")
    return f"{base}/unsubscribe/{unsubscribe_token(key, subscription_id)}"
