"""Logging set-up shared by the CLI and the daemon.

A last line of defence masks every configured secret in every log record, so a
library that logs a URL with a bot token in it (httpx does) cannot leak it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

from sqlalchemy.engine import make_url

from sendwatch.config import MASK, Settings

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class SecretMask(logging.Filter):
    """Replaces secret values in a record's rendered message."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        masked = message
        for secret in self.secrets:
            masked = masked.replace(secret, MASK)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def secret_values(settings: Settings) -> list[str]:
    """Every secret in the configuration, plus the database password if the URL has one."""
    values = [
        secret.get_secret_value()
        for secret in (settings.secret_key, settings.smtp.password, settings.telegram.token)
        if secret is not None
    ]
    try:
        password = make_url(settings.effective_database_url).password
    except Exception:  # a malformed URL is reported elsewhere, by the store
        password = None
    if password:
        values.append(str(password))
    return values


def setup_logging(level: str, settings: Settings | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.setLevel(level.upper())  # libraries that lower their own loggers' levels stay quiet
    if settings is not None:
        handler.addFilter(SecretMask(secret_values(settings)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request URL, and Telegram's carry the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # Alembic narrates its plugin set-up at INFO on every command; we log the upgrade ourselves.
    logging.getLogger("alembic").setLevel(logging.WARNING)
