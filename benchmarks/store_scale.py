"""Store scale: recording 10,000 new findings into an empty store vs one holding 1,000,000.

    python benchmarks/store_scale.py [--rows 1000000]

SQLite always; PostgreSQL too when one answers at SENDWATCH_TEST_POSTGRES_URL
(default postgresql+psycopg://postgres@127.0.0.1:5432/test). The big store is filled
by SQL on the server side (a recursive CTE / generate_series), then 10,000 findings
go through `Store.record_many`, the same dedup-and-link path as a crawl's.
Targets: ratio (big / empty time) <= 2; >= 2,000 findings/s on SQLite.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import tempfile
import time
import uuid
from pathlib import Path

from _common import final
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from sendwatch.vocab import Kind
from storage.las import register
from storage.store import FindingData, Store

NEW = 10_000
KINDS = [str(kind) for kind in Kind]


def findings(prefix: str) -> list[FindingData]:
    random.seed(7)
    codes = [la.ons_code for la in register()]
    start = dt.date(2000, 1, 1)
    return [
        FindingData(
            source="bench",
            identity=f"{prefix}-{index}",
            url=f"https://example.org/{prefix}/{index}",
            title=f"Benchmark finding {index}",
            kind=Kind(random.choice(KINDS)),
            la_code=random.choice(codes),
            happened_on=start + dt.timedelta(days=random.randint(0, 9000)),
        )
        for index in range(NEW)
    ]


def fill(store: Store, rows: int) -> None:
    """`rows` events and findings, written by the database itself."""
    codes = [la.ons_code for la in register()]
    dialect = store.engine.dialect.name
    series = (
        f"WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < {rows}) SELECT x FROM n"
        if dialect == "sqlite"
        else f"SELECT generate_series(1, {rows}) AS x"
    )
    day = (
        "date('2000-01-01', '+' || (x % 9000) || ' days')"
        if dialect == "sqlite"
        else "DATE '2000-01-01' + (x % 9000)"
    )
    now = "CURRENT_TIMESTAMP"
    kind = "CASE x % 7 " + " ".join(f"WHEN {i} THEN '{k}'" for i, k in enumerate(KINDS)) + " END"
    la = "CASE x % 153 " + " ".join(f"WHEN {i} THEN '{c}'" for i, c in enumerate(codes)) + " END"
    with store.engine.begin() as connection:
        connection.execute(
            text(
                f"INSERT INTO events (id, kind, la_code, happened_on, title, summary, created_at, updated_at, alert_state) "
                f"SELECT x, {kind}, {la}, {day}, 'Old event ' || x, '', {now}, {now}, 'baseline' FROM ({series}) AS s"
            )
        )
        connection.execute(
            text(
                f"INSERT INTO findings (source, identity, url, title, kind, la_code, happened_on, summary, fields, content_hash, fetched_at, first_seen_at, updated_at, event_id) "
                f"SELECT 'bench', 'old-' || x, 'https://example.org/' || x, 'Old ' || x, {kind}, {la}, {day}, '', '{{}}', 'h', {now}, {now}, {now}, x FROM ({series}) AS s"
            )
        )
        if dialect == "postgresql":
            connection.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('events', 'id'), (SELECT max(id) FROM events))"
                )
            )
            connection.execute(text("ANALYZE"))


def measure(url: str, rows: int) -> tuple[float, float]:
    """(seconds into an empty store, seconds into a store of `rows`)."""
    timings = []
    for size in (0, rows):
        store = Store(url() if callable(url) else url)
        store.upgrade()
        if size:
            started = time.perf_counter()
            fill(store, size)
            print(f"  filled {size:,} findings in {time.perf_counter() - started:.0f} s")
        batch = findings(f"new{size}")
        started = time.perf_counter()
        store.record_many(batch, alert=False)
        timings.append(time.perf_counter() - started)
        print(
            f"  {NEW:,} new findings into {size:,}: {timings[-1]:.2f} s ({NEW / timings[-1]:.0f}/s)"
        )
        store.close()
    return timings[0], timings[1]


def postgres_url(base: str) -> str | None:
    try:
        engine = create_engine(base)
        with engine.begin() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return base
    except OperationalError:
        return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    rows = parser.parse_args().rows
    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as scratch:
        counter = iter(range(10))
        print("SQLite")
        empty, big = measure(
            lambda: f"sqlite:///{Path(scratch) / f'store{next(counter)}.db'}", rows
        )  # type: ignore[arg-type]
        figures |= {
            "sqlite_empty_per_s": NEW / empty,
            "sqlite_big_per_s": NEW / big,
            "sqlite_ratio": big / empty,
        }
    base = postgres_url(
        os.environ.get(
            "SENDWATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        )
    )
    if base:
        print("PostgreSQL")
        schemas = []

        def fresh() -> str:
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            engine = create_engine(base)
            with engine.begin() as connection:
                connection.execute(text(f"CREATE SCHEMA {schema}"))
            engine.dispose()
            schemas.append(schema)
            return f"{base}?options=-csearch_path%3D{schema}"

        try:
            empty, big = measure(fresh, rows)  # type: ignore[arg-type]
            figures |= {
                "pg_empty_per_s": NEW / empty,
                "pg_big_per_s": NEW / big,
                "pg_ratio": big / empty,
            }
        finally:
            engine = create_engine(base)
            with engine.begin() as connection:
                for schema in schemas:
                    connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            engine.dispose()
    final(rows=rows, new=NEW, **figures)


if __name__ == "__main__":
    main()
