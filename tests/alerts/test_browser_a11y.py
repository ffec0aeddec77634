"""Every page on a 390 px wide phone, and axe-core (WCAG 2.2 AA) on them, in Debian's Chromium.

The pages must fit without sideways scrolling, and axe-core (bundled by the PyPI package
axe-playwright-python, so nothing is fetched at test time) must find no serious or critical
violation on the home, council, recent, sign-up and data-quality pages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from storage.store import Store
from tests.alerts.conftest import Mailbox
from tests.alerts.test_pages import CHROMIUM, _browser, seed
from tests.alerts.test_reconcile import seeded as seeded
from tests.paths import served

PHONE = {"width": 390, "height": 844}
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@pytest.fixture
def server(tmp_path: Path, database_url: str, store: Store, mailbox: Mailbox) -> Iterator[str]:
    seed(store)
    with served(tmp_path, database_url, mailbox.port) as running:
        yield running


@pytest.fixture
def page(server: str) -> Iterator[Any]:
    """A Chromium tab as wide as a phone."""
    with _browser() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        yield browser.new_page(viewport=PHONE)
        browser.close()


def overflow(page: Any) -> int:
    """How far the page scrolls sideways at this width (0 when it fits)."""
    width: int = page.evaluate("document.documentElement.scrollWidth")
    return width - PHONE["width"]


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical WCAG 2.2 AA violations on the page, one line each."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_22_AA}})
    return [
        f"{violation['id']} ({violation['impact']}): "
        + ", ".join(str(node["target"]) for node in violation["nodes"][:5])
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


#: The words of the page's table headings that the browser split across lines (none should be:
#: "Counci|l"), each word's pieces told apart by the lines their boxes sit on.
SPLIT_HEADING_WORDS = """() => {
  const split = [];
  for (const th of document.querySelectorAll('th')) {
    const texts = document.createTreeWalker(th, NodeFilter.SHOW_TEXT);
    for (let node = texts.nextNode(); node; node = texts.nextNode()) {
      for (const word of node.textContent.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(node, word.index);
        range.setEnd(node, word.index + word[0].length);
        const lines = new Set([...range.getClientRects()].filter(r => r.width > 0)
          .map(r => Math.round(r.top)));
        if (lines.size > 1) split.push(word[0]);
      }
    }
  }
  return split;
}"""
#: Each text of the chart as it is shown, in CSS pixels: its font size scaled as the SVG is.
CHART_TEXT_SIZES = """() => [...document.querySelectorAll('figure.chart svg text')]
  .filter(text => text.textContent.trim())
  .map(text => [text.textContent,
    parseFloat(getComputedStyle(text).fontSize) * text.getScreenCTM().a])"""
#: Each table that scrolls in its own box: whether it is wider than its box, and whether its
#: hint says so.
SCROLL_BOXES = """() => [...document.querySelectorAll('.scroll')].map(box => [
  box.scrollWidth > box.clientWidth,
  box.querySelector('.scroll-hint') !== null && box.querySelector('.scroll-hint').checkVisibility(),
])"""


def check(page: Any, label: str, axe: bool = True) -> None:
    assert overflow(page) <= 0, f"{label} scrolls sideways by {overflow(page)} px"
    if axe:
        assert serious_violations(page) == [], label


def test_every_page_fits_a_phone_and_passes_axe(page: Any, server: str, mailbox: Mailbox) -> None:
    page.goto(server + "/")
    assert page.locator("figure.chart svg[role=img]").get_attribute("aria-label")
    check(page, "home")
    page.goto(server + "/?region=london&sort=outcome&dir=desc")
    check(page, "home, filtered", axe=False)
    page.goto(server + "/recent")
    check(page, "recent")
    page.goto(server + "/la/atlantis")
    assert page.locator("h1").inner_text() == "Council not found"
    check(page, "council not found")

    page.goto(server + "/la/bexley")
    check(page, "council")
    page.fill("#email", "not an address")
    page.click("button:has-text('Get email alerts for Bexley')")
    assert page.locator("h1").inner_text() == "Check your email address"
    check(page, "sign-up, address refused")
    page.fill("#email", "phone@example.org")
    page.click("button:has-text('Get email alerts for Bexley')")
    assert page.locator("h1").inner_text() == "Check your email"
    check(page, "sign-up, email sent")

    (email,) = mailbox.to("phone@example.org")
    link = re.search(r"http://\S+/confirm/\S+", email.get_body(("plain",)).get_content())
    assert link
    page.goto(link.group(0))
    assert page.locator("h1").inner_text() == "Confirm your email alerts"
    check(page, "confirm")
    page.click("button:has-text('Confirm my subscription')")
    assert page.locator("h1").inner_text() == "Subscription confirmed"
    check(page, "confirmed")

    page.goto(server + "/feeds")
    assert page.locator("h1").inner_text() == "Feeds and calendars"
    check(page, "feeds")


def test_the_chart_table_has_the_charts_numbers(page: Any, server: str) -> None:
    page.goto(server + "/")
    table = page.locator("table.numbers")
    assert table.locator("caption").inner_text().startswith("Events per month by kind")
    headers = table.locator("thead th").all_inner_texts()
    assert headers[0] == "Month" and headers[-1] == "All"
    kinds = headers[1:-1]
    # Only the kinds that occur, in the table and in the chart's legend alike.
    assert sorted(kinds) == ["Area SEND inspection report", "Improvement notice issued"]
    legend = page.locator("figure.chart svg .legends .legend text").all_text_contents()
    assert sorted(legend) == sorted(kinds)
    totals = [int(n) for n in table.locator("tbody tr td:last-child").all_inner_texts()]
    assert sum(totals) == 4  # the seeded events, all within the last three years
    # Whole numbers on the axis.
    ticks = page.locator("figure.chart svg .axis.y .guides text").all_text_contents()
    assert ticks and all(re.fullmatch(r"\d+", tick) for tick in ticks), ticks
    # Every label inside the drawing: none cut off at its edges.
    cut = page.evaluate(
        """() => {
          const svg = document.querySelector('figure.chart svg');
          const box = svg.getBoundingClientRect();
          return [...svg.querySelectorAll('text')].filter(t => t.textContent.trim()).filter(t => {
            const r = t.getBoundingClientRect();
            return r.left < box.left - 0.5 || r.top < box.top - 0.5
              || r.right > box.right + 0.5 || r.bottom > box.bottom + 0.5;
          }).map(t => t.textContent);
        }"""
    )
    assert cut == []
    font = page.evaluate(
        "getComputedStyle(document.querySelector('figure.chart svg .legends text')).fontFamily"
    )
    assert font.startswith("Arial")


def test_a_council_found_the_way_las_finds_it(page: Any, server: str) -> None:
    for key, slug in {
        "hull": "kingston-upon-hull",
        "Hull%20City%20Council": "kingston-upon-hull",
        "Bexley": "bexley",
        "810": "kingston-upon-hull",  # the DfE code renders at once, as the ONS code does
    }.items():
        answer = httpx.get(f"{server}/la/{key}")
        if answer.status_code == 200:
            assert key.isdigit() and "<h1>Kingston upon Hull</h1>" in answer.text
        else:
            assert (answer.status_code, answer.headers["location"]) == (308, f"/la/{slug}"), key
    missing = httpx.get(f"{server}/la/atlantis")
    assert missing.status_code == 404 and 'href="/la/' in missing.text
    page.goto(server + "/la/hull")
    assert page.url.endswith("/la/kingston-upon-hull")
    assert page.locator("h1").inner_text() == "Kingston upon Hull"
    page.goto(server + "/la/kingston")
    suggestions = page.locator("ul.suggestions a").all_inner_texts()
    assert suggestions == ["Kingston upon Hull", "Kingston upon Thames"]
    page.goto(server + "/la/bexly")
    assert page.locator("ul.suggestions a").all_inner_texts()[0] == "Bexley"
    page.click("ul.suggestions a >> nth=0")
    assert page.locator("h1").inner_text() == "Bexley"


def test_the_data_quality_table_fits_a_phone_and_passes_axe(
    tmp_path: Path, database_url: str, seeded: Store
) -> None:
    """Its table of discrepancies scrolls in its own box, whole words kept; the page does not."""
    with served(tmp_path, database_url) as base, _browser() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport=PHONE)
        page.goto(base + "/data-quality")
        assert page.locator("tbody tr").count() == 2
        check(page, "data quality")
        browser.close()


def test_on_a_phone_headings_keep_whole_words_and_the_chart_is_readable(
    page: Any, server: str
) -> None:
    for path in ("/", "/?sort=due&dir=desc", "/?sort=outcome&dir=desc", "/recent"):
        page.goto(server + path)
        assert page.evaluate(SPLIT_HEADING_WORDS) == [], path
        check(page, path, axe=False)
    page.goto(server + "/")
    sizes = page.evaluate(CHART_TEXT_SIZES)
    assert {text for text, _ in sizes} >= {"Improvement notice issued", "0", "1"}
    assert [(text, size) for text, size in sizes if size < 12] == []


def test_a_table_that_scrolls_says_so(tmp_path: Path, database_url: str, seeded: Store) -> None:
    """On a phone the discrepancies' table is wider than the page and scrolls in its own box:
    a visible hint says so. A table that fits (the chart's numbers; every table at 1280 px)
    says nothing of the kind."""
    from playwright.sync_api import expect

    with served(tmp_path, database_url) as base, _browser() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport=PHONE)
        page.goto(base + "/data-quality")
        hint = page.locator(".scroll .scroll-hint")
        expect(hint).to_be_visible()
        assert hint.inner_text() == "Scroll sideways to see every column."
        assert page.evaluate(SCROLL_BOXES) == [[True, True]]
        assert page.evaluate(SPLIT_HEADING_WORDS) == []
        page.goto(base + "/")
        assert page.evaluate(SCROLL_BOXES) == [[False, False]]
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(base + "/data-quality")
        expect(hint).to_be_hidden()
        assert page.evaluate(SCROLL_BOXES) == [[False, False]]
        browser.close()
