"""The /feeds page: every feed and calendar there is, each with its address and what to do with
it, each council's under its region; reached from every page's navigation.

Against a real `sendwatch serve` on 127.0.0.1: every address it lists is fetched and parsed
(feedparser, icalendar); the navigation is followed in Debian's Chromium.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import feedparser
import httpx
import lxml.html
import pytest
from icalendar import Calendar

from sendwatch.vocab import Kind
from storage.las import register, slugify
from storage.store import Store
from tests.alerts.test_pages import CHROMIUM, _browser, seed
from tests.paths import served


@pytest.fixture
def server(tmp_path: Path, database_url: str, store: Store) -> Iterator[str]:
    seed(store)
    with served(tmp_path, database_url) as running:
        yield running


def every_address(base: str) -> set[str]:
    """Every feed and calendar the register and the kinds make, as the tests count them."""
    las = register()
    regions = [f"region/{slugify(region)}" for region in las.regions()]
    councils = [f"la/{la.slug}" for la in las]
    feeds = ["all", *regions, *councils, *(f"kind/{kind}" for kind in Kind)]
    calendars = ["all", *regions, *councils]
    return {f"{base}/feeds/{path}.{fmt}" for path in feeds for fmt in ("atom", "rss")} | {
        f"{base}/calendar/{path}.ics" for path in calendars
    }


def test_the_feeds_page_lists_every_feed_and_each_address_answers(server: str) -> None:
    answer = httpx.get(f"{server}/feeds")
    assert answer.status_code == 200
    tree = lxml.html.fromstring(answer.text)
    listed = {
        href for href in tree.xpath("//main//a/@href") if "/feeds/" in href or "/calendar/" in href
    }
    expected = every_address(server)
    assert len(expected) == 2 * (1 + 9 + 153 + len(Kind)) + (1 + 9 + 153)
    assert listed == expected
    text = " ".join(tree.text_content().split())
    assert "paste it where your reader says" in text  # what to do with a feed
    assert "add it as a calendar from the web" in text  # and with a calendar
    # The long list grouped: each council under its region's heading.
    london = tree.xpath("//section[h3[@id='region-london']]")[0]
    names = london.xpath(".//ul[@class='councils']/li/a[1]/text()")
    assert "Bexley" in names and "Wirral" not in names and len(names) == 33

    with httpx.Client(timeout=30) as client:
        for address in sorted(listed):
            fetched = client.get(address)
            assert fetched.status_code == 200, address
            if address.endswith(".ics"):
                assert Calendar.from_ical(fetched.content).get("X-WR-CALNAME"), address
                continue
            feed = feedparser.parse(fetched.content)
            assert feed.bozo == 0, address
            assert address in {link.href for link in feed.feed.links}, address  # its self link


def test_the_navigation_leads_to_the_feeds_page(server: str) -> None:
    with _browser() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page()
        for start in ("/", "/la/bexley", "/recent", "/data-quality"):
            page.goto(server + start)
            page.get_by_role("navigation", name="Main").get_by_role("link", name="Feeds").click()
            assert page.url == f"{server}/feeds", start
            assert page.locator("h1").inner_text() == "Feeds and calendars", start
        page.click("nav[aria-label='On this page'] >> text=London")
        assert page.url.endswith("/feeds#region-london")
        browser.close()
