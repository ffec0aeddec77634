"""Alembic environment: runs on the engine sendwatch hands it, or on sqlalchemy.url for authors."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from sqlalchemy import create_engine

from storage.models import Base, UTCDateTime


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Write UTCDateTime as a plain timezone-aware DateTime, so migrations never import models."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


config = context.config
engine = config.attributes.get("engine") or create_engine(
    config.get_main_option("sqlalchemy.url", "")
)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
