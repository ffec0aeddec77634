"""Local Government Lawyer: education news about SEND notices, directions and inspections.

A Joomla site. The listing is read from its RSS form first and from the HTML
page when the feed is unavailable or empty::

    /education-law/394-education-news?format=feed&type=rss
      <item><title>…</title><link>…/57253-council-hit-with-…</link>
            <description>standfirst</description><pubDate>Mon, 17 Nov 2025 09:00:00 +0000</pubDate></item>

    /education-law/394-education-news   (cards: a title link, a date such as
      "Nov 17, 2025", a standfirst; pages via ?start=N)
      <div class="…"><h2><a href="/education-law/394-education-news/57253-council-hit-…">Title</a></h2>
        <span>Nov 17, 2025</span><p>Standfirst…</p></div>

An article is keyed on its numeric id: the same article is served under www.,
no www, mail., j5. and older /education/… paths. Only articles whose title or
standfirst is about SEND notices, directions or inspections are fetched; the
rest are remembered as handled from the listing alone. Article pages are read
with Joomla's defaults (``[itemprop=articleBody]``, ``time[datetime]``), with the
site's "SPOTLIGHT" box and banners removed.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from parsel import Selector
from scrapy import Request
from scrapy.http import Response

from crawler.dates import parse_date
from crawler.extract import classify
from crawler.items import MarkItem, SourceItem
from crawler.spiders.base import SourceSpider, html_text, text_of

CANONICAL_HOST = "https://www.localgovernmentlawyer.co.uk"
LISTING_PATH = "/education-law/394-education-news"
ARTICLE = re.compile(r"/(?P<id>\d{3,})-[\w-]+/?$")
#: Worth opening the article: the listing says notice, direction, inspection or SEND.
PROMISING = re.compile(
    r"improvement notice|\bdirection|inspection|ofsted|written statement of action|\bSEND\b"
    r"|special educational needs|\bEHC",
)
MAX_PAGES = 5
BOILERPLATE = (
    "script, style, noscript, nav, aside, form, .spotlight, .banner, .advert, .adsbygoogle,"
    " .social-share, .share, .related, .newsletter, .breadcrumb, .pagenav"
)


class LglSpider(SourceSpider):
    name = "lgl"
    document_noun = "articles"

    async def start(self) -> AsyncIterator[Request]:
        yield self.listing_request(
            self.url(f"{LISTING_PATH}?format=feed&type=rss"), self.parse_feed, self.feed_failed
        )

    def _html_listing(self, page: int = 0, start: str | None = None) -> Request:
        url = self.url(LISTING_PATH) if start is None else self.url(start)
        return self.listing_request(url, self.parse_listing, page=page)

    def feed_failed(self, _failure: Any) -> Iterator[Request]:
        yield self._html_listing()

    def parse_feed(self, response: Response) -> Iterator[Any]:
        selector = Selector(text=response.text, type="xml")
        entries = []
        for item in selector.xpath("//item"):
            published = item.xpath("pubDate/text()").get()
            entries.append(
                (
                    item.xpath("link/text()").get(default="").strip(),
                    item.xpath("title/text()").get(default=""),
                    html_text(item.xpath("description/text()").get(default="")),
                    _rfc822_date(published) if published else None,
                )
            )
        if not entries:
            yield self._html_listing()  # no feed here: read the page
            return
        self.count_listing(len(entries))
        for entry in entries:
            yield from self._consider(*entry)

    def parse_listing(self, response: Response, page: int) -> Iterator[Any]:
        cards = {}
        for link in response.css("a[href]"):
            href = response.urljoin(link.attrib["href"])
            match = ARTICLE.search(urlsplit(href).path)
            title = " ".join(" ".join(link.css("::text").getall()).split())
            if match and title and match["id"] not in cards and "/education" in href:
                card = _card_of(link)
                cards[match["id"]] = (
                    href,
                    title,
                    _standfirst(card, title),
                    parse_date(text_of(card)),
                )
        self.count_listing(len(cards))
        unhandled = 0
        for entry in cards.values():
            for result in self._consider(*entry):
                unhandled += isinstance(result, Request)
                yield result
        next_page = response.css(
            "a[rel=next]::attr(href), li.pagination-next a::attr(href), a[title=Next]::attr(href)"
        ).get()
        if next_page and cards and page + 1 < MAX_PAGES and (unhandled or not self.marks):
            yield self._html_listing(page + 1, next_page)

    def _consider(
        self, href: str, title: str, standfirst: str, published: Any
    ) -> Iterator[Request | MarkItem]:
        match = ARTICLE.search(urlsplit(href).path)
        if not match:
            return
        article_id = match["id"]
        if self.is_handled(article_id, "1"):
            return
        listing_text = f"{title} {standfirst}"
        if not PROMISING.search(listing_text) and classify(title, standfirst) is None:
            yield MarkItem(article_id, "1")  # not about SEND: never fetched
            return
        yield self.detail_request(
            href, self.parse_article, article_id=article_id, listed=(title, standfirst, published)
        )

    def parse_article(
        self, response: Response, article_id: str, listed: tuple[str, str, Any]
    ) -> Iterator[SourceItem]:
        if not hasattr(response, "css"):
            self.item_error(response.url, "not an HTML page")
            return
        title = (
            text_of(response.css("h1[itemprop=headline], [itemprop=headline]"))
            or text_of(response.css(".page-header h1, .page-header h2, h1"))
            or response.css("meta[property='og:title']::attr(content)").get(default="")
            or listed[0]
        )
        published = (
            parse_date(response.css("time[itemprop=datePublished]::attr(datetime)").get())
            or parse_date(response.css("time[datetime]::attr(datetime)").get())
            or parse_date(
                response.css("meta[property='article:published_time']::attr(content)").get()
            )
            or parse_date(text_of(response.css("dd.published, .published, .article-date")))
            or listed[2]
        )
        body = response.css("[itemprop=articleBody]") or response.css(".item-page, article")
        text = _text_without(body[0]) if body else ""
        if not text:
            self.item_error(response.url, "no article text found")
            return
        path = urlsplit(response.url).path
        yield SourceItem(
            source=self.name,
            identity=article_id,
            url=CANONICAL_HOST + path,
            title=title,
            text=f"{listed[1]}\n{text}" if listed[1] and listed[1] not in text else text,
            published_on=published,
            extra={"article_id": article_id},
            mark=(article_id, "1"),
        )


def _card_of(link: Selector) -> Selector:
    """The smallest ancestor of an article link that holds no other article link: its card."""
    card = link
    for ancestor in reversed(link.xpath("ancestor::*")):
        links = {
            href
            for href in ancestor.css("a::attr(href)").getall()
            if ARTICLE.search(urlsplit(href).path)
        }
        if len(links) > 1 or ancestor.root.tag in ("body", "html"):
            break
        card = ancestor
    return card


def _standfirst(card: Selector, title: str) -> str:
    paragraphs = [text_of(p) for p in card.css("p, .standfirst, .intro")]
    text = " ".join(p for p in paragraphs if p and p != title)
    return text or text_of(card).replace(title, "").strip()


def _text_without(body: Selector) -> str:
    """The article's words, without the site's boxes and banners."""
    for junk in body.css(BOILERPLATE):
        parent = junk.root.getparent()
        if parent is not None:
            parent.remove(junk.root)
    paragraphs = [text_of(p) for p in body.css("p, li, h2, h3, blockquote")]
    text = "\n".join(p for p in paragraphs if p)
    return text or text_of(body)


def _rfc822_date(value: str) -> Any:
    try:
        return parsedate_to_datetime(value).date()
    except (TypeError, ValueError):
        return parse_date(value)
