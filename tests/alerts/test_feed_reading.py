"""Feeds people read: dates that mean something, entries in the order the pages list events,
and plain feeds (no XSLT: the /feeds page is where a browser reads about them).

Against a real `sendwatch serve` on 127.0.0.1, parsed by feedparser.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import feedparser
import httpx
import pytest

from sendwatch.vocab import Kind
from storage.store import Store
from tests.alerts.test_email_dispatch import BEXLEY, KENT, WIRRAL, notice
from tests.paths import COMMAND, served

#: What a browser sends when it opens a link (Chromium's navigation Accept header).
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
HAPPENED = dt.date(2024, 2, 23)
PUBLISHED = dt.date(2024, 3, 1)


def _events(store: Store) -> None:
    store.record(notice(BEXLEY, "bexley", happened_on=HAPPENED, published_on=PUBLISHED))
    store.record(notice(WIRRAL, "wirral", happened_on=None, published_on=PUBLISHED))
    store.record(notice(KENT, "kent-lifted", kind=Kind.NOTICE_LIFTED, title="Kent's notice lifted"))


@pytest.fixture
def server(tmp_path: Path, database_url: str, store: Store) -> Iterator[str]:
    _events(store)
    with served(tmp_path, database_url) as running:
        yield running


def _day(parsed: object) -> dt.date:
    return dt.date(*parsed[:3])  # type: ignore[index]


def test_published_is_when_it_happened_and_updated_when_sendwatch_changed_it(
    server: str,
) -> None:
    for fmt in ("atom", "rss"):
        feed = feedparser.parse(httpx.get(f"{server}/feeds/all.{fmt}").content)
        assert feed.bozo == 0, fmt
        entries = {entry.title.split(": ")[1]: entry for entry in feed.entries}
        assert _day(entries["Bexley"].published_parsed) == HAPPENED, fmt
        # No date of its own: the source's publication date.
        assert _day(entries["Wirral"].published_parsed) == PUBLISHED, fmt
    atom = feedparser.parse(httpx.get(f"{server}/feeds/all.atom").content)
    today = dt.datetime.now(dt.UTC).date()
    assert all(_day(entry.updated_parsed) == today for entry in atom.entries)


def test_entries_run_newest_happened_first_as_the_api_lists_events(
    server: str, store: Store
) -> None:
    # Recorded in another order than they happened: the feed follows the day each happened.
    store.record(notice(KENT, "kent-2023", happened_on=dt.date(2023, 5, 2)))
    store.record(notice(BEXLEY, "bexley-2022", happened_on=dt.date(2022, 1, 10)))
    api = httpx.get(f"{server}/api/events").json()["events"]
    expected = [str(event["id"]) for event in api]
    for path in ("all.atom", "all.rss", "region/london.atom", "kind/improvement_notice.rss"):
        feed = feedparser.parse(httpx.get(f"{server}/feeds/{path}").content)
        ids = [entry.id.rsplit("/", 1)[1] for entry in feed.entries]
        assert ids == [i for i in expected if i in ids], path
        days = [_day(entry.published_parsed) for entry in feed.entries]
        assert days == sorted(days, reverse=True), path
        if path == "all.atom":  # recorded last, happened first: last
            assert days[-1] == dt.date(2022, 1, 10) and ids[-1] == max(ids, key=int)


def test_no_feed_names_a_stylesheet(server: str) -> None:
    """Browsers are dropping XSLT: a feed is a feed, and /feeds is the page about them."""
    for path in ("all.atom", "all.rss", "la/bexley.atom", "region/london.rss", "kind/news.atom"):
        answer = httpx.get(f"{server}/feeds/{path}", headers={"Accept": BROWSER_ACCEPT})
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith(
            "application/atom+xml" if path.endswith("atom") else "application/rss+xml"
        )
        assert b"xml-stylesheet" not in answer.content, path
        assert feedparser.parse(answer.content).bozo == 0, path
    assert httpx.get(f"{server}/feeds/feed.xsl").status_code == 404


def test_static_feeds_use_public_url_and_name_no_stylesheet(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    _events(store)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    env |= {
        "SENDWATCH_DATABASE_URL": database_url,
        "SENDWATCH_DATA_DIR": str(tmp_path / "data"),
        "SENDWATCH_ALERTS_PUBLIC_URL": "https://sendwatch.example.org",
    }
    target = tmp_path / "www"
    result = subprocess.run(
        [*COMMAND, "feeds", "write", str(target)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    atom = feedparser.parse((target / "la" / "bexley.atom").read_bytes())
    assert atom.bozo == 0
    assert atom.feed.links[0].href == "https://sendwatch.example.org/feeds/la/bexley.atom"
    assert atom.entries[0].id.startswith("tag:sendwatch.example.org,2024:event/")
    written = [path for path in target.rglob("*") if path.is_file()]
    assert not [path for path in written if b"xml-stylesheet" in path.read_bytes()]
    assert not (target / "feed.xsl").exists()
