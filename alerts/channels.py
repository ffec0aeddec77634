"""What every delivery channel shares: the message to send and how a send went."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from alerts.summary import Summary
from sendwatch.config import Settings, where_to_set


@dataclass(frozen=True)
class Outgoing:
    """One delivery to make: who, what, and the stable id that makes a resend recognisable."""

    delivery_id: int
    address: str
    summaries: tuple[Summary, ...]
    unsubscribe_url: str
    digest: bool = False
    #: The subscription's unsealed secret (an Apprise URL, a webhook's signing secret), for
    #: the channels that have one; never logged or stored.
    secret: str | None = field(default=None, repr=False)
    #: Each event's `/api/events` record, in the order of `summaries`, for the channels that
    #: send data rather than prose (webhooks, see `Channel.wants_records`).
    records: tuple[dict[str, Any], ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class Sent:
    pass


@dataclass(frozen=True)
class Retry:
    """A passing failure; `after` seconds if the other side said how long to wait."""

    error: str
    after: float | None = None


@dataclass(frozen=True)
class Permanent:
    """The other side refused for good (bot blocked, mailbox rejected)."""

    error: str


Result = Sent | Retry | Permanent
#: Called with each message's result as soon as it is known, so it is recorded at once:
#: a crash then repeats at most the one message in flight.
Done = Callable[[Outgoing, Result], None]


class Channel(Protocol):
    name: str

    def send(self, messages: Sequence[Outgoing], done: Done) -> None:
        """Send a batch, reporting every message's result through `done`, in order."""
        ...

    def notify(self, address: str, subject: str, text: str) -> None:
        """A plain message to the maintainer; raises on failure."""
        ...


@dataclass(frozen=True)
class Missing:
    """A setting a channel cannot send without: what is missing, in words, and its key."""

    words: str
    key: str


SMTP_HOST = Missing("[smtp] host is not set", "smtp.host")
SMTP_FROM = Missing("[smtp] from_address is not set", "smtp.from_address")
TELEGRAM_ENABLED = Missing("[telegram] enabled is not true", "telegram.enabled")
TELEGRAM_TOKEN = Missing("SENDWATCH_TELEGRAM_TOKEN is not set", "telegram.token")
_KEYS = {
    missing.words: missing.key
    for missing in (SMTP_HOST, SMTP_FROM, TELEGRAM_ENABLED, TELEGRAM_TOKEN)
}


def channel_problems(settings: Settings) -> dict[str, str]:
    """Each channel that cannot send, and what in the configuration is missing.

    A subscription on such a channel still gets its deliveries queued (nothing is lost
    when the setting is added later); this is what lets every command say so plainly
    instead of leaving them waiting in silence.
    """
    problems: dict[str, str] = {}
    if not settings.smtp.host:
        problems["email"] = SMTP_HOST.words
    elif not settings.smtp.from_address:
        problems["email"] = SMTP_FROM.words
    if not settings.telegram.enabled:
        problems["telegram"] = TELEGRAM_ENABLED.words
    elif settings.telegram.token is None or not settings.telegram.token.get_secret_value():
        problems["telegram"] = TELEGRAM_TOKEN.words
    return problems


def with_remedy(problem: str) -> str:
    """A problem `channel_problems` names, with what to set and where, so that a warning is
    one step from its fix: "[smtp] host is not set (set it in sendwatch.toml or
    SENDWATCH_SMTP_HOST)"."""
    key = _KEYS.get(problem)
    return f"{problem} ({where_to_set(key)})" if key else problem


def unconfigured_warning(channel: str, problem: str) -> str:
    """The one sentence every command uses for a channel that cannot send."""
    return f"{channel} alerts are queued but {with_remedy(problem)}: nothing will be sent"
