"""Secrets a subscription needs at send time, sealed in the store with the app's secret key.

An Apprise URL holds the service's token (a Slack webhook, a ntfy topic, a Matrix password)
and a webhook subscription has its signing secret: both must be readable by the dispatcher,
so they cannot be hashed, but a copy of the database (a backup, a PostgreSQL dump, a support
bundle) must not hand them out. They are encrypted (Fernet: AES-128-CBC and HMAC-SHA256)
with a key derived from the secret key (`SENDWATCH_SECRET_KEY`, else `data/secret.key`),
which never goes in the database.

The cost: a changed secret key makes the sealed secrets unreadable; those subscriptions fail
with a sentence saying so, and are subscribed again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken

from sendwatch.errors import SendwatchError
from sendwatch.masking import mask_service_url

#: Sets the derived key apart from the other uses of the secret key (signed links).
_PURPOSE = b"sendwatch subscription secrets v1:"


class Unreadable(SendwatchError):
    """A sealed secret that this secret key did not seal."""


def _fernet(key: bytes) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(_PURPOSE + key).digest()))


def seal(key: bytes, secret: str) -> str:
    """`secret` encrypted and authenticated with (a key derived from) the secret key."""
    return _fernet(key).encrypt(secret.encode("utf-8")).decode("ascii")


def unseal(key: bytes, sealed: str) -> str:
    """The secret `seal` sealed, or Unreadable when another key sealed it (or it was altered)."""
    try:
        return _fernet(key).decrypt(sealed.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError):
        raise Unreadable(
            "the subscription's stored secret cannot be read: the secret key changed since it"
            " subscribed (SENDWATCH_SECRET_KEY or secret.key in the data directory);"
            " subscribe it again"
        ) from None


def fingerprint(key: bytes, text: str, length: int = 10) -> str:
    """A short keyed digest of `text`: tells two URLs apart without revealing either (an
    unkeyed hash of a guessable ntfy topic could be reversed by trying topics)."""
    digest = hmac.new(key, b"fingerprint:" + text.encode("utf-8"), hashlib.sha256)
    return digest.hexdigest()[:length]


def service_label(key: bytes, url: str) -> str:
    """What stands for a URL that holds a token (an Apprise URL, a webhook's) wherever it is
    stored in clear, shown or looked up: "ntfy://ntfy.sh#1f0c9a77d2", its scheme and host and
    a keyed fingerprint of the whole (two topics on one server differ)."""
    return f"{mask_service_url(url)}#{fingerprint(key, url.strip())}"
