"""Real servers on loopback for the alert tests: an SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import email
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from sendwatch.config import Settings
from tests.paths import free_port as free_port


@dataclass
class Mailbox:
    """What the SMTP server received; addresses in `reject` get a 550 at RCPT."""

    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    reject: set[str] = field(default_factory=set)
    port: int = 0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.reject:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted"

    def slow(self, seconds: float) -> None:
        """Take `seconds` over each message from now on, as a struggling mail server does."""
        original = self.handle_DATA

        async def slow_data(server: Any, session: Any, envelope: Any) -> str:
            await asyncio.sleep(seconds)
            return await original(server, session, envelope)

        self.handle_DATA = slow_data  # type: ignore[method-assign]

    def to(self, address: str) -> list[EmailMessage]:
        return [message for rcpts, message in self.messages if address in rcpts]


def _running_mailbox() -> Iterator[Mailbox]:
    box = Mailbox(port=free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    yield from _running_mailbox()


@pytest.fixture(scope="module")
def module_mailbox() -> Iterator[Mailbox]:
    """One SMTP server for a whole module."""
    yield from _running_mailbox()


def alert_settings(tmp_path: Path, smtp_port: int, **alerts: Any) -> Settings:
    return Settings.model_validate(
        {
            "data_dir": str(tmp_path / "data"),
            "smtp": {
                "host": "127.0.0.1",
                "port": smtp_port,
                "security": "none",
                "from_address": "alerts@sendwatch.test",
            },
            "alerts": {"public_url": "http://127.0.0.1:8080", "retry_base_seconds": 0, **alerts},
        }
    )
