"""Signed webhooks: each alert is an HTTP POST of the event's JSON record (the same fields as
`/api/events`) to the subscriber's URL.

Headers a receiver relies on:

* `X-Sendwatch-Signature: sha256=<hex>`: HMAC-SHA256 of the exact body bytes, keyed by the
  subscription's secret (shown once at `sendwatch subscribe webhook`, kept sealed in the
  store): proof the body came from this sendwatch and was not altered;
* `X-Sendwatch-Delivery: <id>`: the outbox row, the same on every attempt, so a receiver
  drops a repeat (a crash between its 2xx and sendwatch recording it resends the event);
* `X-Sendwatch-Kind: alert` or `digest` (a digest's body is `{"digest": true, "events": […]}`).

A 2xx is sent. A 5xx, a 429 (after its Retry-After), a timeout (10 s) or a connection failure
is retried with the outbox's backoff; any other answer (a 4xx, a redirect) is permanent, and
`pause_after_failures` of them in a row (a 410 Gone, say) pause the subscription.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import hmac
import json
import re
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import Any

from alerts.channels import Done, Outgoing, Permanent, Result, Retry, Sent
from alerts.sealing import seal, service_label, unseal
from sendwatch import __version__
from sendwatch.errors import SendwatchError
from sendwatch.logs import describe_network_error
from sendwatch.masking import mask, mask_service_url, register_secrets, url_secrets
from storage import outbox
from storage.store import Store

TIMEOUT = 10.0
SIGNATURE_HEADER = "X-Sendwatch-Signature"
DELIVERY_HEADER = "X-Sendwatch-Delivery"
KIND_HEADER = "X-Sendwatch-Kind"
#: The longest URL a subscription's address column holds.
MAX_URL = 320


#: How a webhook is shown and looked up: "https://hooks.example.org#1f0c9a77d2" (its scheme and
#: host and a keyed fingerprint of the whole URL, whose path or query may hold a token).
_LABEL = re.compile(r"^https?://[^/?#\s]*#[0-9a-f]{10}$")


class BadWebhookUrl(SendwatchError):
    """Not an http(s) URL a webhook can be posted to."""


def check_url(url: str) -> str:
    """An http(s) URL with a host and no credentials (the signature authenticates sendwatch;
    a password in the URL would be shown wherever the address is), or BadWebhookUrl."""
    url = url.strip()
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise BadWebhookUrl("a webhook address is an http:// or https:// URL")
    if "@" in parsed.netloc:
        raise BadWebhookUrl(
            "put no user or password in a webhook URL: the receiver checks the"
            f" {SIGNATURE_HEADER} header instead"
        )
    if len(url) > MAX_URL or not url.isprintable() or " " in url:
        raise BadWebhookUrl(f"a webhook URL is one line of at most {MAX_URL} characters")
    return url


def new_secret() -> str:
    """A fresh signing secret for a subscription: 256 random bits, URL-safe."""
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, body: bytes) -> str:
    """The `X-Sendwatch-Signature` value of `body` under `secret`."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def body_of(outgoing: Outgoing) -> bytes:
    """The POST body: the event's record, or for a digest the day's records."""
    if outgoing.digest:
        document: Any = {"digest": True, "events": list(outgoing.records)}
    else:
        document = outgoing.records[0]
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as it is, never followed: a POST must not turn into a GET, nor
    go (signed) to a host the subscriber did not name."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """A Retry-After header in seconds (it is seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


def classify(status: int, reason: str, retry_after_header: str | None) -> Result:
    """2xx sent; 5xx and 429 retried (after Retry-After if given); any other answer permanent."""
    if 200 <= status < 300:
        return Sent()
    error = f"{status} {reason}".strip()
    if status == 429 or 500 <= status < 600:
        return Retry(error, retry_after(retry_after_header))
    return Permanent(error)


class WebhookChannel:
    name = "webhook"
    #: The dispatcher gives each message its events' `/api/events` records.
    wants_records = True

    def __init__(self, timeout: float = TIMEOUT) -> None:
        self.timeout = timeout

    def send(self, messages: Sequence[Outgoing], done: Done) -> None:
        for outgoing in messages:
            done(outgoing, self._send_one(outgoing))

    def request(self, outgoing: Outgoing) -> urllib.request.Request:
        """The signed POST for one message."""
        if not outgoing.secret:
            raise SendwatchError("the webhook subscription has no signing secret stored")
        body = body_of(outgoing)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": f"sendwatch/{__version__} (webhook)",
            SIGNATURE_HEADER: signature(outgoing.secret, body),
            DELIVERY_HEADER: str(outgoing.delivery_id),
            KIND_HEADER: "digest" if outgoing.digest else "alert",
        }
        return urllib.request.Request(outgoing.address, data=body, headers=headers, method="POST")

    def _send_one(self, outgoing: Outgoing) -> Result:
        try:
            request = self.request(outgoing)
        except (SendwatchError, ValueError) as exc:
            return Permanent(str(exc))
        try:
            with _opener.open(request, timeout=self.timeout) as response:
                response.read(65536)
                return classify(response.status, response.reason or "", None)
        except urllib.error.HTTPError as exc:
            with exc:
                return classify(exc.code, exc.reason or "", exc.headers.get("Retry-After"))
        except (OSError, urllib.error.URLError) as exc:  # refused, reset, DNS, timeout
            reason = getattr(exc, "reason", exc)
            text = describe_network_error(reason) if isinstance(reason, BaseException) else reason
            return Retry(mask(f"cannot reach {mask_service_url(outgoing.address)}: {text}"))

    def notify(self, address: str, subject: str, text: str) -> None:
        """Webhooks carry events, not the maintainer's alarms (`[alerts] maintainer_urls` do)."""
        raise SendwatchError("the maintainer is told through email, Telegram or Apprise URLs")


# -- the URL sealed, like an Apprise URL -----------------------------------------------------


def is_label(address: str) -> bool:
    return bool(_LABEL.match(address))


def shown_address(channel: str, address: str) -> str:
    """A subscription's address as commands print it: a webhook an older version stored with
    its URL in clear by scheme and host only, until a command that writes seals it."""
    if channel == "webhook" and not is_label(address):
        return f"{mask_service_url(address)}#…"
    return address


def seal_target(key: bytes, url: str, secret: str) -> str:
    """The URL and its signing secret, sealed together: what the store keeps of a webhook."""
    return seal(key, json.dumps({"url": url, "secret": secret}, separators=(",", ":")))


def open_target(key: bytes, address: str, sealed: str) -> tuple[str, str]:
    """(URL, signing secret) of a webhook subscription, registered as secrets at once so that
    no log line or stored error shows them. A subscription an older version stored (the URL in
    clear as its address, the secret alone sealed) reads too."""
    value = unseal(key, sealed)
    url, secret = address, value
    try:
        data = json.loads(value)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("url"), str):
        url, secret = data["url"], str(data.get("secret", ""))
    register_secrets([*url_secrets(url), secret])
    return url, secret


def reseal_legacy(store: Store, key: bytes) -> int:
    """Webhook subscriptions an older version stored with their URL in clear, sealed as they are
    now (the address becomes the label); their signing secret is kept. How many were."""
    resealed = 0
    for found in outbox.subscriptions(store):
        if found.channel != "webhook" or is_label(found.address) or found.secret is None:
            continue
        url, secret = open_target(key, found.address, found.secret)
        outbox.readdress(store, found.id, service_label(key, url), seal_target(key, url, secret))
        resealed += 1
    return resealed
