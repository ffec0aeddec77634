"""Engines and sessions: SQLite by default, PostgreSQL by URL.

SQLite is tuned for one daemon plus the odd CLI call at once: WAL so readers never
block the writer, a busy timeout instead of instant "database is locked", foreign
keys on, and write transactions that can take the write lock up front
(``BEGIN IMMEDIATE``) so a read-then-write transaction cannot deadlock another.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from sendwatch.config import mask_url
from sendwatch.errors import StoreError

SQLITE_BUSY_TIMEOUT_MS = 30_000
#: Execution option naming the SQLite BEGIN mode ("DEFERRED" or "IMMEDIATE").
SQLITE_BEGIN = "sqlite_begin"


def make_engine(url: str) -> Engine:
    """An engine for `url`, creating the SQLite file's directory on first use."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"not a database URL: {mask_url(url)}") from None
    options: dict[str, Any] = {"future": True}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        options["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    elif parsed.get_backend_name() == "postgresql":
        options["pool_pre_ping"] = True
        options["connect_args"] = {"connect_timeout": 10}
    try:
        engine = create_engine(parsed, **options)
    except (ArgumentError, ImportError) as exc:
        raise StoreError(f"cannot use database URL {mask_url(url)}: {exc}") from None
    if engine.dialect.name == "sqlite":
        _tune_sqlite(engine)
    return engine


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB: a large store stays fast
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def check_connection(engine: Engine) -> None:
    """Fail with one readable line when the database cannot be reached."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise StoreError(
            f"cannot connect to database {mask_url(engine.url.render_as_string())}: {reason}"
        ) from None


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """A session whose transaction holds the write lock from its start on SQLite.

    On PostgreSQL this is a plain READ COMMITTED transaction; concurrent writers
    are kept apart there by constraints and row or advisory locks instead.
    """
    connection = engine.connect().execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
    with connection, Session(bind=connection, expire_on_commit=False) as session:
        yield session
