"""Shared fixtures: a fresh, migrated store per test, on SQLite or on a real PostgreSQL.

SENDWATCH_TEST_DATABASE_URL picks the backend for the whole run (CI runs the
storage tests once on SQLite and once on PostgreSQL). On PostgreSQL each test gets
a schema of its own, so runs never see each other's rows.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from app.demo.site import FixtureSite, serve
from storage.store import Store
from tests.fixtures.statistics.make_ods import write_spreadsheets
from tests.paths import ROOTS

POSTGRES_URL = os.environ.get(
    "SENDWATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
ROOT = Path(__file__).resolve().parent.parent


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """Two workers per CPU (at most 8): most tests wait on a child process or a socket (a
    crawl, a daemon, a browser), so a 2-core machine runs four at once to good effect.
    SENDWATCH_TEST_WORKERS overrides it."""
    wanted = os.environ.get("SENDWATCH_TEST_WORKERS", "")
    if wanted.isdigit():
        return int(wanted)
    return min(8, 2 * (os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's own SENDWATCH_* settings."""
    for name in list(os.environ):
        if name.startswith("SENDWATCH_") and not name.startswith("SENDWATCH_TEST_"):
            monkeypatch.delenv(name)


def _postgres_schema_url(base_url: str) -> Iterator[str]:
    """A URL whose connections work in a new, empty schema; the schema is dropped afterwards."""
    schema = f"sw_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        admin.dispose()
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {base_url}: {exc.orig}")
    url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """The database for one test: SQLite in tmp_path unless the run asks for PostgreSQL."""
    configured = os.environ.get("SENDWATCH_TEST_DATABASE_URL", "")
    if configured.startswith("postgresql"):
        yield from _postgres_schema_url(configured)
    else:
        yield f"sqlite:///{tmp_path / 'sendwatch.db'}"


@pytest.fixture(scope="module")
def module_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One database for a whole module whose tests only read what its fixtures recorded."""
    configured = os.environ.get("SENDWATCH_TEST_DATABASE_URL", "")
    if configured.startswith("postgresql"):
        yield from _postgres_schema_url(configured)
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('store') / 'sendwatch.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL, whatever the run's backend, for tests only PostgreSQL can answer."""
    yield from _postgres_schema_url(POSTGRES_URL)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store(database_url)
    opened.upgrade()
    yield opened
    opened.close()


def serve_fixtures(root: Path) -> contextlib.AbstractContextManager[FixtureSite]:
    """Serve the tests' fixtures and the package's samples, under `root`, a folder of the test's
    own that comes first (what a test publishes or breaks, `FixtureSite.edit`, is written
    there): each real host by a server of its own."""
    write_spreadsheets(root / "statistics" / "files")  # Ofsted's statistics, made here
    return serve(FixtureSite(roots=(root, *ROOTS)))


@pytest.fixture
def site(tmp_path: Path) -> Iterator[FixtureSite]:
    """The fixture site, over a folder of the test's own it may edit (publish to)."""
    with serve_fixtures(tmp_path / "site") as running:
        yield running


@pytest.fixture(scope="module")
def module_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FixtureSite]:
    """One fixture site for a whole module whose tests only read what it serves."""
    with serve_fixtures(tmp_path_factory.mktemp("site") / "site") as running:
        yield running
