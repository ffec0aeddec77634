"""The README's backup of a SQLite store, taken while the store is open and being written
(`VACUUM INTO`, as the daemon keeps running), is a whole store that sendwatch reads back."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sendwatch.vocab import Kind
from storage.models import Event, Finding
from storage.store import FindingData, Store


def _finding(index: int) -> FindingData:
    return FindingData(
        source="govuk",
        identity=f"notice-{index}",
        url=f"https://www.gov.uk/government/publications/notice-{index}",
        title=f"Improvement notice issued to Wirral Council: {index}",
        kind=Kind.IMPROVEMENT_NOTICE,
        la_code="E08000015",
        happened_on=dt.date(2020, 1, 1) + dt.timedelta(days=40 * index),
        published_on=dt.date(2020, 1, 1) + dt.timedelta(days=40 * index),
    )


def test_vacuum_into_while_the_store_is_in_use_backs_it_up_whole(
    tmp_path: Path, database_url: str
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("a SQLite store's backup (PostgreSQL's is pg_dump)")
    store = Store(database_url)
    store.upgrade()
    for index in range(20):
        store.record(_finding(index))
    path = database_url.removeprefix("sqlite:///")
    backup = tmp_path / "backup" / "sendwatch.db"
    backup.parent.mkdir()
    with store.sessions() as reading:  # the daemon's own connection stays open meanwhile
        reading.execute(select(func.count(Event.id))).scalar_one()
        with sqlite3.connect(path) as connection:
            connection.execute("VACUUM INTO ?", (str(backup),))
        store.record(_finding(99))  # and writes go on
    store.close()

    restored = Store(f"sqlite:///{backup}")
    restored.upgrade()  # already at head: nothing to do
    with restored.sessions() as session:
        assert session.execute(select(func.count(Finding.id))).scalar_one() == 20
        assert session.execute(select(func.count(Event.id))).scalar_one() == 20
    restored.close()
