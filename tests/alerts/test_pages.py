"""The public pages, in a real headless Chromium (Playwright), against `sendwatch serve` on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from pathlib import Path

import feedparser
import httpx
import pytest

from alerts.signing import csrf_token
from sendwatch.vocab import Kind, Outcome
from storage import outbox
from storage.store import Store
from tests.alerts.conftest import Mailbox
from tests.alerts.test_email_dispatch import BEXLEY, KENT, WIRRAL, notice
from tests.paths import served

CHROMIUM = "/usr/bin/chromium"
HOSTILE = '<script>alert("pwned")</script> & <img src=x onerror=alert(1)>'


def seed(store: Store) -> None:
    store.record(notice(BEXLEY, "bexley-notice"))
    store.record(
        notice(
            BEXLEY,
            "bexley-report",
            source="ofsted",
            kind=Kind.INSPECTION_REPORT,
            outcome=Outcome.SIGNIFICANT_CONCERNS,
            title="Bexley: Area SEND full inspection",
            happened_on=dt.date(2024, 2, 23),
        )
    )
    store.record(
        notice(
            WIRRAL,
            "wirral-report",
            source="ofsted",
            kind=Kind.INSPECTION_REPORT,
            outcome=Outcome.POSITIVE,
        )
    )
    store.record(notice(KENT, "kent-hostile", title=HOSTILE, summary=HOSTILE))


@pytest.fixture
def server(tmp_path: Path, database_url: str, store: Store, mailbox: Mailbox) -> Iterator[str]:
    seed(store)
    with served(tmp_path, database_url, mailbox.port) as running:
        yield running


def _browser():  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            raise AssertionError(f"{CHROMIUM} missing: .ci/run installs Debian's chromium")
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    return sync_playwright()


def test_browse_filter_follow_feed_and_sign_up(
    tmp_path: Path, server: str, store: Store, mailbox: Mailbox
) -> None:
    with _browser() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page()
        page.goto(server + "/")
        assert page.title() == "SEND in England's councils \u2013 sendwatch"
        assert (
            page.locator("link[rel=alternate][type='application/atom+xml']").get_attribute("href")
            == "/feeds/all.atom"
        )
        assert page.locator("caption", has_text="councils").inner_text() == "153 of 153 councils"

        page.select_option("#region", "london")
        page.click("text=Show councils")
        assert page.locator("caption", has_text="councils").inner_text() == "33 of 153 councils"
        bexley_row = page.locator("tr", has=page.locator("a", has_text="Bexley"))
        assert "Widespread and/or systemic failings" in bexley_row.inner_text()
        assert page.locator("a", has_text="Wirral").count() == 0

        page.click("a:text-is('Bexley')")
        assert page.locator("h1").inner_text() == "Bexley"
        feed_href = page.locator("a", has_text="Atom").get_attribute("href")
        assert feed_href == "/feeds/la/bexley.atom"
        feed = feedparser.parse(page.request.get(server + feed_href).body())
        assert feed.bozo == 0 and len(feed.entries) == 2

        page.fill("#email", "parent@example.org")
        page.click("button:has-text('Get email alerts for Bexley')")
        assert page.locator("h1").inner_text() == "Check your email"
        (email,) = mailbox.to("parent@example.org")
        assert email["Subject"] == "[sendwatch] Confirm your email alerts"
        link = re.search(r"http://\S+/confirm/\S+", email.get_body(("plain",)).get_content())
        assert link
        # Nothing is stored before the address confirms: the link carries the request.
        assert outbox.subscription(store, "email", "parent@example.org") is None

        page.goto(link.group(0))
        page.click("button:has-text('Confirm my subscription')")
        assert page.locator("h1").inner_text() == "Subscription confirmed"
        page.screenshot(path=str(tmp_path / "confirmed.png"), full_page=True)
        browser.close()

    subscription = outbox.subscription(store, "email", "parent@example.org")
    assert subscription is not None and (subscription.state, subscription.la_codes) == (
        "active",
        [BEXLEY],
    )
    assert (tmp_path / "confirmed.png").stat().st_size > 1000


def test_hostile_text_is_escaped_on_every_page(server: str) -> None:
    for path in ("/", "/la/kent", "/recent", "/?q=kent"):
        body = httpx.get(server + path).text
        assert "<script>alert" not in body and "<img src=x" not in body, path
    assert (
        "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in httpx.get(server + "/la/kent").text
    )


def test_sign_up_is_csrf_protected_validated_and_idempotent(
    server: str, store: Store, mailbox: Mailbox
) -> None:
    assert (
        httpx.post(server + "/subscribe", data={"email": "a@example.org", "csrf": "x"}).status_code
        == 403
    )
    with httpx.Client(base_url=server) as client:
        form = client.get("/la/bexley").text
        token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
        bad = client.post(
            "/subscribe", data={"email": "not an address", "csrf": token, "la": "bexley"}
        )
        assert bad.status_code == 400 and "Enter an email address" in bad.text
        answers = [
            client.post(
                "/subscribe", data={"email": "twice@example.org", "csrf": token, "la": "bexley"}
            ).status_code
            for _ in range(2)
        ]
        assert answers == [200, 429]  # one confirmation email per address per 10 minutes
        link = re.search(
            r"http://\S+/confirm/\S+",
            mailbox.to("twice@example.org")[0].get_body(("plain",)).get_content(),  # type: ignore[union-attr]
        ).group(0)  # type: ignore[union-attr]
        assert (
            outbox.subscription(store, "email", "twice@example.org") is None
        )  # asking confirms nothing
        answers = []
        for _ in range(2):  # a link works once: confirming twice makes one subscription
            page = client.get(link).text
            csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
            answers.append(client.post(link, data={"csrf": csrf}).status_code)
        assert answers == [200, 409]
    assert [s.address for s in outbox.subscriptions(store)].count("twice@example.org") == 1
    twice = outbox.subscription(store, "email", "twice@example.org")
    assert twice is not None and (twice.state, twice.la_codes) == ("active", [BEXLEY])
    assert len(mailbox.to("twice@example.org")) == 1
    assert httpx.get(server + "/confirm/1.forged").status_code == 404


def test_unknown_council_and_pages(server: str) -> None:
    assert httpx.get(server + "/la/atlantis").status_code == 404
    assert httpx.get(server + "/la/E09000004").status_code == 200
    recent = httpx.get(server + "/recent?page=abc")
    assert recent.status_code == 400 and "page: a whole number" in recent.text
    assert "Page 1 of 1" in httpx.get(server + "/recent").text


def test_without_email_a_council_page_says_why_and_what_to_do_instead(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    """No SMTP server configured: the page says why there is no sign-up (as `channel_problems`
    words it) and offers the council's feed and calendar, whose addresses answer."""
    seed(store)
    with served(tmp_path, database_url) as server, httpx.Client(base_url=server) as client:
        page = client.get("/la/bexley")
        words = " ".join(re.sub(r"<[^>]+>", " ", page.text).split())
        assert (
            "Email sign-up is not available on this server: it cannot send email yet"
            " ([smtp] host is not set)." in words
        )
        assert "Follow Bexley instead in a feed reader" in words
        offered = re.findall(r'class="address" href="([^"]+)"', page.text)
        assert offered == [f"{server}/feeds/la/bexley.atom", f"{server}/calendar/la/bexley.ics"]
        assert [client.get(address).status_code for address in offered] == [200, 200]
        assert 'href="/feeds"' in page.text
        assert 'name="email"' not in page.text

        # A form from before (a token this server made for this session): the same answer.
        key = (tmp_path / "data" / "secret.key").read_text().strip().encode()
        token = csrf_token(key, client.cookies["sw_session"])
        form = {"email": "a@example.org", "la": "bexley", "csrf": token}
        refused = client.post("/subscribe", data=form)
        assert refused.status_code == 503
        assert "([smtp] host is not set)" in refused.text
        assert f'href="{server}/feeds/la/bexley.atom"' in refused.text
