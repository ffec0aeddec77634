"""Engines and sessions: SQLite by default, PostgreSQL by URL.

SQLite is tuned for one daemon plus the odd CLI call at once: WAL so readers never
block the writer, a busy timeout instead of instant "database is locked", foreign
keys on, and write transactions that can take the write lock up front
(``BEGIN IMMEDIATE``) so a read-then-write transaction cannot deadlock another.

The SQLite file is created readable by its owner only (0600; SQLite gives its WAL
and shared-memory files the same mode), in a data directory created 0700. Every
string written to the database is masked first (`sendwatch.masking.mask`, by its rule for
the store), so an error message quoting a token is never stored in clear.
`DaemonLock` keeps a second daemon off a store that one already runs on.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from sendwatch.errors import StoreError
from sendwatch.masking import mask, mask_url, stored_secrets

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
            _create_sqlite_file(Path(database).expanduser())
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
    event.listen(engine, "before_cursor_execute", _mask_parameters, retval=True)
    return engine


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names (None for another database, or SQLite in memory): where a
    command that only reads looks before opening, since opening creates it."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        return None
    return Path(database).expanduser()


def _create_sqlite_file(path: Path) -> None:
    """The data directory (0700 when created here) and an empty database file, owner-only."""
    directory = path.parent
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create the data directory {directory}: {exc.strerror or exc}"
        ) from None
    if path.exists():
        return
    try:
        # An empty file is a valid SQLite database; SQLite would create it with the umask's mode.
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass  # another process created it first
    except OSError as exc:
        raise StoreError(f"cannot create the database file {path}: {exc.strerror or exc}") from None


def _mask_value(value: Any) -> Any:
    return mask(value, stored=True) if isinstance(value, str) else value


def _mask_row(row: Any) -> Any:
    """The row's parameters masked; the row itself when none held a secret (the common case)."""
    if isinstance(row, dict):
        masked = {key: _mask_value(value) for key, value in row.items()}
        if any(masked[key] is not value for key, value in row.items()):
            return masked
    elif isinstance(row, tuple | list):
        values = [_mask_value(value) for value in row]
        if any(new is not old for new, old in zip(values, row, strict=True)):
            return type(row)(values)
    return row


def _mask_parameters(
    _connection: Any,
    _cursor: Any,
    statement: str,
    parameters: Any,
    _context: Any,
    executemany: bool,
) -> tuple[str, Any]:
    """No registered secret is ever written to (or looked up in) the database in clear."""
    if not stored_secrets() or not parameters:
        return statement, parameters
    if executemany:
        return statement, [_mask_row(row) for row in parameters]
    return statement, _mask_row(parameters)


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


#: The first key of the daemon's PostgreSQL session advisory lock (two-key form, a key space
#: apart from the store's one-key transaction locks); the second is the schema's hash.
DAEMON_LOCK_KEY = 0x5E4D


class DaemonLock:
    """Held for a daemon's life, so a second `sendwatch run` on the same store refuses to start.

    SQLite: an exclusive `flock` on `<database>.lock` next to the database file (released by
    the kernel when the process ends, however it ends). PostgreSQL: a session advisory lock
    on a connection kept open, keyed on the database's current schema. In-memory SQLite
    databases cannot be shared and take no lock.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._fd: int | None = None
        self._connection: Connection | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None or self._connection is not None

    def acquire(self) -> None:
        if self.engine.dialect.name == "sqlite":
            database = self.engine.url.database
            if database and database != ":memory:" and not database.startswith("file:"):
                self._lock_file(Path(database).expanduser().resolve())
        elif self.engine.dialect.name == "postgresql":
            self._lock_postgres()

    def _lock_file(self, database: Path) -> None:
        path = database.with_name(database.name + ".lock")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreError(f"cannot create the lock file {path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            raise StoreError(
                f"another sendwatch daemon{f' (pid {holder})' if holder.isdigit() else ''}"
                f" is already running on this store ({path} is locked)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._fd = fd

    def _lock_postgres(self) -> None:
        connection = self.engine.connect()
        try:
            got = connection.execute(
                text("SELECT pg_try_advisory_lock(:key, hashtext(current_schema()))"),
                {"key": DAEMON_LOCK_KEY},
            ).scalar_one()
            connection.commit()  # a session lock: it outlives the transaction
        except Exception:
            connection.invalidate()
            connection.close()
            raise
        if not got:
            connection.close()
            raise StoreError(
                "another sendwatch daemon is already running on this store"
                f" ({mask_url(self.engine.url.render_as_string(hide_password=False))},"
                " PostgreSQL advisory lock held)"
            )
        self._connection = connection

    def release(self) -> None:
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None
        if self._connection is not None:
            connection, self._connection = self._connection, None
            try:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:key, hashtext(current_schema()))"),
                    {"key": DAEMON_LOCK_KEY},
                )
                connection.commit()
            except Exception:
                connection.invalidate()  # closing the session releases the lock anyway
            finally:
                connection.close()
