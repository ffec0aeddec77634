"""Feeds fetched over HTTP from a real `sendwatch serve`, parsed by feedparser; the unsubscribe link end to end."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import feedparser
import httpx
import pytest

from alerts.dispatch import Dispatcher, channels_for
from storage import outbox
from storage.store import Store
from tests.alerts.conftest import Mailbox, alert_settings
from tests.alerts.test_email_dispatch import BEXLEY, KENT, WIRRAL, notice
from tests.paths import COMMAND, served

HOSTILE = '<script>alert("x")</script> Bexley & Co 🎒'


@pytest.fixture
def server(tmp_path: Path, database_url: str, store: Store) -> Iterator[str]:
    with served(tmp_path, database_url) as running:
        yield running


def _events(store: Store) -> None:
    store.record(notice(BEXLEY, "bexley", title=HOSTILE))
    store.record(notice(WIRRAL, "wirral"))
    store.record(notice(KENT, "kent-lifted", kind="notice_lifted"))  # type: ignore[arg-type]


def test_feeds_parse_and_filter(server: str, store: Store) -> None:
    _events(store)

    everything = feedparser.parse(httpx.get(f"{server}/feeds/all.atom").content)
    assert everything.bozo == 0
    assert len(everything.entries) == 3
    bexley = next(e for e in everything.entries if "Bexley" in e.title)
    assert bexley.title == "Improvement notice issued: Bexley"
    assert HOSTILE in bexley.summary  # the text survives, as text
    assert "<script>" not in bexley.content[0].value  # and the HTML is escaped
    assert bexley.link == "https://www.gov.uk/government/publications/bexley"
    assert bexley.id.startswith("tag:127.0.0.1,2024:event/")

    rss = feedparser.parse(httpx.get(f"{server}/feeds/all.rss").content)
    assert rss.bozo == 0 and len(rss.entries) == 3
    assert {e.id for e in rss.entries} == {e.id for e in everything.entries}

    for path, titles in {
        "la/bexley.atom": ["Improvement notice issued: Bexley"],
        "la/E08000015.atom": ["Improvement notice issued: Wirral"],
        "region/london.atom": ["Improvement notice issued: Bexley"],
        "kind/notice_lifted.atom": ["Improvement notice lifted: Kent"],
    }.items():
        feed = feedparser.parse(httpx.get(f"{server}/feeds/{path}").content)
        assert feed.bozo == 0, path
        assert [e.title for e in feed.entries] == titles, path

    for missing in ("la/atlantis.atom", "kind/gossip.atom", "all.json", "region/mars.rss"):
        assert httpx.get(f"{server}/feeds/{missing}").status_code == 404


def test_conditional_requests_get_304_until_an_event_changes(server: str, store: Store) -> None:
    _events(store)
    first = httpx.get(f"{server}/feeds/all.atom")
    etag, modified = first.headers["etag"], first.headers["last-modified"]

    assert httpx.get(f"{server}/feeds/all.atom", headers={"If-None-Match": etag}).status_code == 304
    assert (
        httpx.get(f"{server}/feeds/all.atom", headers={"If-Modified-Since": modified}).status_code
        == 304
    )

    entry_before = next(e for e in feedparser.parse(first.content).entries if "Wirral" in e.title)
    time.sleep(1.1)
    store.record(notice(WIRRAL, "wirral", summary="Edited: new deadline."))
    second = httpx.get(f"{server}/feeds/all.atom", headers={"If-None-Match": etag})
    assert second.status_code == 200
    entry_after = next(e for e in feedparser.parse(second.content).entries if "Wirral" in e.title)
    assert entry_after.id == entry_before.id
    assert entry_after.updated_parsed > entry_before.updated_parsed


def test_unsubscribe_link_works_end_to_end(
    tmp_path: Path, server: str, store: Store, mailbox: Mailbox
) -> None:
    settings = alert_settings(tmp_path, mailbox.port)
    settings = settings.model_copy(
        update={"alerts": settings.alerts.model_copy(update={"public_url": server})}
    )
    outbox.subscribe(store, "email", "parent@example.org")
    store.record(notice(BEXLEY, "bexley"))
    Dispatcher(settings, store, channels_for(settings)).run_once()
    (message,) = mailbox.to("parent@example.org")
    link = message["List-Unsubscribe"].strip().strip("<>")

    page = httpx.get(link)
    assert page.status_code == 200 and "<form method='post'" in page.text
    assert httpx.post(link[:-3] + "AAA", content=b"List-Unsubscribe=One-Click").status_code == 404
    one_click = httpx.post(
        link,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code == 200
    assert outbox.subscription(store, "email", "parent@example.org").state == "unsubscribed"  # type: ignore[union-attr]

    store.record(notice(WIRRAL, "wirral"))
    assert Dispatcher(settings, store, channels_for(settings)).run_once().sent == 0


def test_feeds_written_as_static_files(tmp_path: Path, database_url: str, store: Store) -> None:
    _events(store)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    env |= {"SENDWATCH_DATABASE_URL": database_url, "SENDWATCH_DATA_DIR": str(tmp_path / "data")}
    target = tmp_path / "www"
    result = subprocess.run(
        [*COMMAND, "feeds", "write", str(target)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("wrote ")
    feed = feedparser.parse((target / "all.atom").read_bytes())
    assert feed.bozo == 0 and len(feed.entries) == 3
    bexley = feedparser.parse((target / "la" / "bexley.atom").read_bytes())
    assert [e.title for e in bexley.entries] == ["Improvement notice issued: Bexley"]
    assert (target / "kind" / "statutory_direction.rss").exists()
