"""Any text a source may publish, however broken, keeps every channel valid.

A property test: arbitrary Unicode (control characters, lone surrogates, U+FFFF,
markup, `javascript:` links) goes through extraction, the store, the summary, and
every renderer: the Atom and RSS feeds must parse as XML, the email must build and
serialise, Telegram's HTML must be well formed and within its limit, and no link
is ever anything but http(s).
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from email import message_from_bytes, policy

import feedparser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from alerts.channels import Outgoing
from alerts.email import SmtpChannel
from alerts.feeds import ALL, render_feed
from alerts.render import TELEGRAM_LIMIT, render_telegram
from alerts.summary import summarise
from crawler.extract import Document, extract
from sendwatch.config import Settings, SmtpConfig
from sendwatch.vocab import Kind
from storage import outbox
from storage.store import FindingData, Store

#: Every code point, surrogates and noncharacters included: what a broken PDF can yield.
ANY_TEXT = st.text(st.characters(codec=None, categories=None), max_size=300)
URLS = st.one_of(
    ANY_TEXT.map(lambda tail: "https://www.gov.uk/" + tail),
    st.sampled_from(
        [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(document.cookie)",
            "data:text/html,<script>alert(1)</script>",
            "//evil.example/x",
            "https://evil.example/\u0000\u202e",
            'https://x.example/"><script>alert(1)</script>',
        ]
    ),
)
_ids = itertools.count()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(title=ANY_TEXT, text=ANY_TEXT, url=URLS)
def test_any_text_keeps_every_channel_valid(store: Store, title: str, text: str, url: str) -> None:
    full_title = f"Improvement notice issued to London Borough of Bexley {title}"
    extraction = extract(Document(title=full_title, text=text, url=url))
    finding = FindingData(
        source="lgl",
        identity=f"hostile-{next(_ids)}",
        url=url,
        title=full_title,
        kind=extraction.kind or Kind.NEWS,
        la_code=extraction.local_authority.ons_code if extraction.local_authority else None,
        summary=text,
        fields={"note": text, "nested": [title, {"k": text}]},
    )
    store.record(finding)
    event = outbox.events(store, limit=1)[0]
    summary = summarise(event)

    configured = Settings(alerts={"public_url": "https://sendwatch.example"})  # type: ignore[arg-type]
    atom = render_feed(configured, store, ALL, "atom")
    rss = render_feed(configured, store, ALL, "rss")
    for body in (atom, rss):
        etree.fromstring(body)  # strict XML: raises on anything illegal
        feed = feedparser.parse(body)
        assert feed.bozo == 0
        for entry in feed.entries:
            assert all(_web(link.href) for link in entry.get("links", []))
            for content in entry.get("content", []):
                assert all(_web(a.get("href")) for a in etree.HTML(content.value).iter("a"))

    message = SmtpChannel(
        SmtpConfig(host="127.0.0.1", from_address="alerts@sendwatch.example")
    ).build(Outgoing(1, "a@example.org", (summary,), "https://sendwatch.example/u/1"))
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    html_part = parsed.get_body(("html",))
    assert html_part is not None
    assert all(_web(a.get("href")) for a in etree.HTML(html_part.get_content()).iter("a"))

    telegram = render_telegram(summary)
    assert len(telegram) <= TELEGRAM_LIMIT
    tree = ET.fromstring(f"<m>{telegram}</m>")  # escaped, tags balanced
    assert all(_web(a.get("href")) for a in tree.iter("a"))


def _web(href: str | None) -> bool:
    return bool(href) and str(href).lower().startswith(("http://", "https://"))


def test_a_control_character_from_a_broken_pdf_no_longer_breaks_the_feeds(store: Store) -> None:
    store.record(
        FindingData(
            source="ofsted",
            identity="file-1",
            url="https://files.ofsted.gov.uk/v1/file/1",
            title="Bexley: Area SEND full inspection\x00\x0b\ufffe",
            kind=Kind.INSPECTION_REPORT,
            la_code="E09000004",
            summary="Widespread \x01failings\udc80",
        )
    )
    (event,) = outbox.events(store, limit=5)
    assert event.title == "Bexley: Area SEND full inspection"  # cleaned as it entered the store
    assert event.summary == "Widespread failings"
    configured = Settings()
    for fmt in ("atom", "rss"):
        etree.fromstring(render_feed(configured, store, ALL, fmt))


def test_only_web_links_are_links() -> None:
    from sendwatch.text import web_url

    assert web_url("https://www.gov.uk/x?y=1") == "https://www.gov.uk/x?y=1"
    assert web_url("HTTP://files.ofsted.gov.uk/v1/file/1") == "HTTP://files.ofsted.gov.uk/v1/file/1"
    for bad in (
        "javascript:alert(1)",
        "data:text/html,x",
        "//evil.example/",
        "https://",
        "ftp://x.example/",
        "https://x.example/a b",
    ):
        assert web_url(bad) is None
