"""What every delivery channel shares: the message to send and how a send went."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from alerts.summary import Summary


@dataclass(frozen=True)
class Outgoing:
    """One delivery to make: who, what, and the stable id that makes a resend recognisable."""

    delivery_id: int
    address: str
    summaries: tuple[Summary, ...]
    unsubscribe_url: str
    digest: bool = False


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
