"""Apprise: one channel for Slack, Microsoft Teams, Discord, ntfy, Matrix, mailto and about a
hundred more, each reached by its Apprise URL (https://github.com/caronc/apprise).

The URL is the address, and it holds the service's token, so it is a secret: the store keeps
it sealed (`alerts.sealing`), and the subscription's `address` is only its label,
"scheme://host#id" (`alerts.sealing.service_label`), which is what `sendwatch subscribers`, `outbox` and
the logs show. Its parts are registered for masking the moment it is read.

Each message is rendered in the body format the service reads (Apprise's default for it:
Markdown for Slack, HTML for email, text for ntfy and JSON) and within its title and body
limits (`alerts.render.render_apprise`): a long summary is shortened, never split.

Apprise tells only whether a send worked, not why it did not, so a failure is a passing
one: retried with the outbox's backoff until `max_attempts`. A URL Apprise cannot read is
permanent. Like Telegram, a crash between sending and recording can repeat one message.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from alerts.channels import Done, Outgoing, Permanent, Result, Retry, Sent
from alerts.render import (
    HTML,
    MARKDOWN,
    TEXT,
    Message,
    render_apprise,
    render_apprise_digest,
)
from sendwatch.errors import SendwatchError
from sendwatch.masking import mask, mask_service_url, register_secrets, url_secrets

log = logging.getLogger(__name__)


class BadAppriseUrl(SendwatchError):
    """Not a URL any Apprise service reads."""


def service(url: str) -> Any:
    """The Apprise service for `url` (its parts registered as secrets first), or BadAppriseUrl;
    the message names the URL by scheme and host only."""
    import apprise  # here, not at the top: loading its hundred plugins costs the daemon ~15 MB

    register_secrets(url_secrets(url))
    plugin = apprise.Apprise.instantiate(url.strip()) if "://" in url else None
    if plugin is None:
        raise BadAppriseUrl(f"not an Apprise URL Apprise can use: {mask_service_url(url)}")
    return plugin


def body_format(plugin: Any) -> str:
    """The format the service reads: Apprise's default for it (its first declared format)."""
    resolve = getattr(plugin, "resolve_format", None)
    declared = resolve() if callable(resolve) else plugin.notify_format
    if isinstance(declared, list | tuple):
        declared = declared[0]
    value = str(getattr(declared, "value", declared)).lower()
    return value if value in (TEXT, MARKDOWN, HTML) else TEXT


def render_for(plugin: Any, outgoing: Outgoing) -> Message:
    """The alert (or digest) for this service: its format, its title and body limits."""
    fmt = body_format(plugin)
    title_limit, body_limit = int(plugin.title_maxlen), int(plugin.body_maxlen)
    if outgoing.digest:
        return render_apprise_digest(
            outgoing.summaries, fmt, title_limit, body_limit, outgoing.unsubscribe_url
        )
    return render_apprise(
        outgoing.summaries[0], fmt, title_limit, body_limit, outgoing.unsubscribe_url
    )


def _notify(plugin: Any, message: Message, fmt: str) -> str | None:
    """Send through Apprise; None when it went, else why not (from Apprise's log, masked)."""
    import apprise

    notifier = apprise.Apprise()
    notifier.add(plugin)
    capture = apprise.LogCapture(level=logging.WARNING, fmt="%(message)s")  # type: ignore[no-untyped-call]
    with capture as captured:
        ok = notifier.notify(body=message.body, title=message.title, body_format=fmt)
        said = captured.getvalue()
    if ok:
        return None
    reason = " ".join(str(said).split()) or "the service did not accept the notification"
    return mask(reason)


class AppriseChannel:
    name = "apprise"

    def send(self, messages: Sequence[Outgoing], done: Done) -> None:
        for outgoing in messages:
            done(outgoing, self._send_one(outgoing))

    def _send_one(self, outgoing: Outgoing) -> Result:
        if not outgoing.secret:
            return Permanent("the subscription has no Apprise URL stored; subscribe it again")
        try:
            plugin = service(outgoing.secret)
        except BadAppriseUrl as exc:
            return Permanent(str(exc))
        failure = _notify(plugin, render_for(plugin, outgoing), body_format(plugin))
        if failure is None:
            return Sent()
        return Retry(f"{mask_service_url(outgoing.secret)}: {failure}")

    def notify(self, address: str, subject: str, text: str) -> None:
        """A plain message to the maintainer at the Apprise URL `address`."""
        plugin = service(address)
        limit = max(1, int(plugin.body_maxlen) - len(subject) - 2)
        body = text if len(text) <= limit else text[: limit - 1] + "…"
        title = subject if int(plugin.title_maxlen) > 0 else ""
        if not title:
            body = f"{subject}\n{body}"[: int(plugin.body_maxlen)]
        failure = _notify(plugin, Message(title, body), TEXT)
        if failure is not None:
            raise SendwatchError(f"{mask_service_url(address)}: {failure}")
