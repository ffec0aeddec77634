"""Schema migrations, applied by `sendwatch db upgrade` and on daemon start.

Alembic runs from code with the migrations shipped inside the package, so an
installed sendwatch needs no alembic.ini and no source checkout to upgrade.
"""

from __future__ import annotations

import logging
from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

log = logging.getLogger(__name__)


def alembic_config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("storage") / "migrations"))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    before = current_revision(engine)
    command.upgrade(alembic_config(engine), revision)
    after = current_revision(engine)
    if after != before:
        log.info("database schema upgraded from %s to %s", before or "empty", after)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
