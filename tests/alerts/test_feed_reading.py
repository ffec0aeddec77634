"""Feeds people read: dates that mean something, links on the address the feed was reached at,
and a feed opened in a browser that reads as a page (XSLT) while feed readers see plain feeds.

Against a real `sendwatch serve` on 127.0.0.1, parsed by feedparser, shown in Debian's Chromium.
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
from lxml import etree

from sendwatch.vocab import Kind
from storage.store import Store
from tests.alerts.test_email_dispatch import BEXLEY, KENT, WIRRAL, notice
from tests.alerts.test_pages import CHROMIUM, _browser
from tests.paths import COMMAND, free_port, served, serving

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


@pytest.fixture
def unconfigured(tmp_path: Path, database_url: str, store: Store) -> Iterator[str]:
    """`sendwatch serve` with `[alerts] public_url` left at its default."""
    _events(store)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    env |= {"SENDWATCH_DATABASE_URL": database_url, "SENDWATCH_DATA_DIR": str(tmp_path / "data")}
    with serving(free_port(), env, tmp_path) as running:
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


def test_links_and_ids_follow_public_url(server: str) -> None:
    atom = feedparser.parse(
        httpx.get(f"{server}/feeds/la/bexley.atom", headers={"Host": "elsewhere.test"}).content
    )
    # public_url is set (to the server's address): the Host asked for changes nothing.
    assert atom.feed.links[0].href == f"{server}/feeds/la/bexley.atom"
    assert atom.feed.link == f"{server}/la/bexley"
    assert atom.entries[0].id.startswith("tag:127.0.0.1,2024:event/")


def test_without_public_url_links_follow_the_request(unconfigured: str) -> None:
    port = unconfigured.rsplit(":", 1)[1]
    for host in (f"localhost:{port}", "feeds.example.org"):
        body = httpx.get(f"{unconfigured}/feeds/all.atom", headers={"Host": host}).content
        atom = feedparser.parse(body)
        self_link = next(link.href for link in atom.feed.links if link.rel == "self")
        assert self_link == f"http://{host}/feeds/all.atom"
        hostname = host.split(":")[0]
        assert {entry.id.split(",")[0] for entry in atom.entries} == {f"tag:{hostname}"}
        rss = feedparser.parse(
            httpx.get(f"{unconfigured}/feeds/all.rss", headers={"Host": host}).content
        )
        assert {entry.id for entry in rss.entries} == {entry.id for entry in atom.entries}


def test_feed_names_its_stylesheet_and_readers_still_see_a_feed(server: str) -> None:
    for path, href in (("all.atom", "feed.xsl"), ("la/bexley.rss", "../feed.xsl")):
        answer = httpx.get(f"{server}/feeds/{path}")
        assert answer.headers["content-type"].startswith(
            "application/atom+xml" if path.endswith("atom") else "application/rss+xml"
        )
        assert f'<?xml-stylesheet type="text/xsl" href="{href}"?>'.encode() in answer.content
        assert feedparser.parse(answer.content).bozo == 0
        # The instruction resolves to the stylesheet, served as XSLT.
        xsl = httpx.get(httpx.URL(f"{server}/feeds/{path}").join(href))
        assert xsl.status_code == 200 and xsl.headers["content-type"].startswith("text/xsl")
        etree.XSLT(etree.fromstring(xsl.content))  # a valid XSLT 1.0 stylesheet

    browser = httpx.get(f"{server}/feeds/all.atom", headers={"Accept": BROWSER_ACCEPT})
    assert browser.headers["content-type"].startswith("application/xml")
    assert "accept" in browser.headers["vary"].lower()
    csp = browser.headers["content-security-policy"]
    assert "script-src-elem 'self'" in csp and "unsafe-inline" not in csp.split("style-src")[0]
    assert feedparser.parse(browser.content).bozo == 0


def test_stylesheet_renders_both_formats_as_text_only(server: str) -> None:
    """The same transform a browser runs (libxslt): entries as text, nothing scripted."""
    transform = etree.XSLT(etree.fromstring(httpx.get(f"{server}/feeds/feed.xsl").content))
    for fmt in ("atom", "rss"):
        feed = etree.fromstring(httpx.get(f"{server}/feeds/all.{fmt}").content)
        page = str(transform(feed))
        assert "Improvement notice issued: Bexley" in page, fmt
        assert "Improvement notice lifted: Kent" in page, fmt
        assert "<script" not in page.lower(), fmt
    atom_page = str(transform(etree.fromstring(httpx.get(f"{server}/feeds/all.atom").content)))
    assert "23 February 2024" in atom_page


def test_a_feed_opened_in_chromium_is_a_readable_page(server: str) -> None:
    with _browser() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page()
        blocked: list[str] = []
        page.on("console", lambda message: blocked.append(message.text))
        for path in ("/feeds/all.atom", "/feeds/all.rss", "/feeds/la/bexley.atom"):
            page.goto(server + path)
            heading = page.locator("h1")
            assert heading.is_visible(), path
            assert heading.inner_text().startswith("SEND notices and inspections"), path
            assert page.get_by_text("This is a feed.").is_visible(), path
            titles = page.locator("ol.entries h2").all_inner_texts()
            assert "Improvement notice issued: Bexley" in titles, path
        assert page.locator("ol.entries h2").all_inner_texts() == [
            "Improvement notice issued: Bexley"
        ]
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        browser.close()
    assert scroll_width > 0
    assert [text for text in blocked if "feed.xsl" in text] == []


def test_static_feeds_use_public_url_and_carry_the_stylesheet(
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
    assert b'href="../feed.xsl"' in (target / "la" / "bexley.atom").read_bytes()
    etree.XSLT(etree.parse(str(target / "feed.xsl")))
