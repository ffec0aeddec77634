"""A local SMTP server that keeps what it is sent: where `sendwatch demo` delivers its alert.

The demo must never mail a real subscriber about a fictional notice, so it runs its
own mail server on 127.0.0.1 (aiosmtpd) and shows what arrived instead.
"""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Sink:
    """The messages received, and the port to send them to."""

    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        if isinstance(message, EmailMessage):
            self.messages.append(message)
        return "250 Message accepted"


@contextmanager
def smtp_sink() -> Iterator[Sink]:
    """An SMTP server on a free loopback port for the duration of the block."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    sink = Sink(port=port)
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()
