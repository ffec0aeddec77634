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

The feed holds the site's whole archive (thousands of items), so it is read
from a watermark: the mark ``feed:newest`` is the publication time of the
newest entry handled, and a crawl looks only at entries newer than that (and a
week older, since Joomla dates an entry by its "publish up" time, which an
editor may set before the day it goes live: those are skipped by their article
marks at no cost). The first crawl reaches back ``backfill_days`` (730) before
the newest entry (or now, if earlier) and no further. The watermark is written
once every article asked for has been read or has failed, and never past an
article that failed, which the next crawl then tries again. An unchanged feed
(a 304, served from the HTTP cache) costs that one request, and writes nothing.

An article is keyed on its numeric id: the same article is served under www.,
no www, mail., www.j5. and older /education/… paths, and fetched at the host
its link names. Only articles whose listing `worth_reading` judges may be
about a SEND notice, direction or inspection are fetched (and marked "<id>" ->
"1"); the rest are covered by the watermark.

An article page reads, on the stored real pages, banner, SPOTLIGHT box, headline,
body, author; the markup is Joomla's defaults (unconfirmed)::

    <div class="mod-banners …">GLD Vacancies …</div>        a site banner: not the article
    <div …><h3>SPOTLIGHT</h3><p><a …>…</a></p></div>         a sponsored box: not the article
    <div class="item-page" itemscope itemtype="https://schema.org/Article">
      <div class="page-header"><h1 itemprop="headline">Council hit with …</h1></div>
      <div itemprop="articleBody"><p>…</p><p>…</p></div>
      <dd class="createdby" itemprop="author">Author Name</dd>     the author's name, last
    </div>

and no date: no visible date line, no time element, no published meta. So an article
is dated by the entry that linked it (the feed's pubDate, the listing card's date),
and only a page read without one (`sendwatch extract`) is dated by Joomla's date
elements, should it have any. The title is the headline; the text is the body's
alone, less any SPOTLIGHT box or banner it might hold, which are never the article's.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator, Iterator, Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from parsel import Selector
from scrapy import Request
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.dates import parse_date
from crawler.extract import worth_reading
from crawler.items import MarkItem, SourceItem
from crawler.spiders.base import (
    Found,
    Row,
    SourceSpider,
    Watermark,
    card_of,
    count,
    html_text,
    read_row,
    text_of,
)
from crawler.verdict import DOCS, LISTING_ITEMS

CANONICAL_HOST = "https://www.localgovernmentlawyer.co.uk"
LISTING_PATH = "/education-law/394-education-news"
ARTICLE = re.compile(r"/(?P<id>\d{3,})-[\w-]+/?$")
#: The mark holding the publication time (ISO 8601, UTC) of the newest feed entry handled.
WATERMARK = "feed:newest"
#: Entries this much older than the watermark are looked at again (see above).
OVERLAP = dt.timedelta(days=7)
BACKFILL_DAYS = 730
MAX_PAGES = 5
BOILERPLATE = (
    "script, style, noscript, nav, aside, form, .spotlight, .banner, .advert, .adsbygoogle,"
    " .social-share, .share, .related, .newsletter, .breadcrumb, .pagenav"
)


#: A listing entry: link, title, standfirst, publication date, publication time (UTC).
Entry = tuple[str, str, str, dt.date | None, dt.datetime | None]


class LglSpider(SourceSpider):
    name = "lgl"
    document_noun = "articles"

    def __init__(
        self,
        base_url: str,
        marks: Mapping[str, str] | None = None,
        baseline: bool = False,
        backfill_days: int = BACKFILL_DAYS,
        now: dt.datetime | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(base_url, marks, baseline, **kwargs)
        self.backfill_days = int(backfill_days)
        self.now = now or dt.datetime.now(dt.UTC)
        #: Where the feed was read to; written once every article asked for has answered.
        self.reached = Watermark(self.watermark, dt.timedelta(seconds=1))

    def self_check(self, stats: Mapping[str, Any], found: Found) -> list[Row]:
        """The feed's entries, those about SEND notices or inspections, and one article read."""
        entries = count(stats, LISTING_ITEMS)
        relevant = count(stats, f"{DOCS}{self.document_noun}/requested")
        return [
            Row("feed", entries > 0, f"{entries} entries"),
            Row("relevant entries", relevant > 0, f"{relevant} about SEND notices or inspections"),
            read_row("article", found, "date"),
        ]

    @property
    def watermark(self) -> dt.datetime | None:
        """The publication time of the newest feed entry handled by earlier crawls."""
        return self.stamp_mark(WATERMARK, lambda value: _utc(dt.datetime.fromisoformat(value)))

    def since(self, newest: dt.datetime | None = None) -> dt.datetime:
        """Entries published before this are not looked at: those older than the watermark,
        or on a first crawl, those published `backfill_days` before the newest entry (or
        now, whichever is earlier: the feed's own present, so a mirror reads the same any day)."""
        watermark = self.watermark
        if watermark is not None:
            return watermark - OVERLAP
        present = min(self.now, newest) if newest is not None else self.now
        return present - dt.timedelta(days=self.backfill_days)

    @staticmethod
    def _too_old(published: dt.date | None, stamp: dt.datetime | None, since: dt.datetime) -> bool:
        if stamp is None and published is not None:
            stamp = dt.datetime(published.year, published.month, published.day, tzinfo=dt.UTC)
        return stamp is not None and stamp < since

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
        """The entries newer than the watermark (or the backfill), their articles if worth it."""
        selector = Selector(text=response.text, type="xml")
        entries: list[Entry] = []
        for item in selector.xpath("//item"):
            published, stamp = _rfc822(item.xpath("pubDate/text()").get(default=""))
            entries.append(
                (
                    item.xpath("link/text()").get(default="").strip(),
                    " ".join(item.xpath("title/text()").get(default="").split()),
                    html_text(item.xpath("description/text()").get(default="")),
                    published,
                    stamp,
                )
            )
        if not entries:
            yield self._html_listing()  # no feed here: read the page
            return
        self.count_listing(len(entries))
        stamps = [entry[4] for entry in entries if entry[4] is not None]
        # Never past now: one entry misdated into the future must not hide the news to come.
        if stamps:
            self.reached.saw(min(max(stamps), self.now))
        since = self.since(self.reached.newest)
        wanted: dict[str, Entry] = {}
        for entry in entries:
            article_id = self._wanted(*entry, since)
            if article_id and article_id not in wanted:  # one article, whatever its host
                wanted[article_id] = entry
        self.reached.pending = len(wanted)
        for article_id, (href, title, standfirst, published, stamp) in wanted.items():
            yield self.detail_request(
                href,
                self.parse_entry,
                self.entry_failed,
                article_id=article_id,
                listed=(title, standfirst, published),
                stamp=stamp,
            )
        if not wanted:
            yield from self._watermark_item()

    def parse_entry(
        self,
        response: Response,
        article_id: str,
        listed: tuple[str, str, Any],
        stamp: dt.datetime | None,
    ) -> Iterator[SourceItem | MarkItem]:
        """A feed entry's article; the last one answered writes the watermark."""
        items = list(self.parse_article(response, article_id, listed))
        if not items:  # unreadable (counted as failed): try it again next time
            self.reached.failed(stamp)
        yield from items
        yield from self._answered()

    def entry_failed(self, failure: Failure) -> Iterator[MarkItem]:
        self.item_failed(failure)
        request = getattr(failure, "request", None)
        self.reached.failed(request.cb_kwargs.get("stamp") if request is not None else None)
        yield from self._answered()

    def _answered(self) -> Iterator[MarkItem]:
        if self.reached.answered():
            yield from self._watermark_item()

    def _watermark_item(self) -> Iterator[MarkItem]:
        """The new watermark: the newest entry's time, never past an article that failed."""
        value = self.reached.moved()
        if value is not None:
            yield MarkItem(WATERMARK, value.isoformat())

    def parse_listing(self, response: Response, page: int) -> Iterator[Any]:
        cards = {}
        for link in response.css("a[href]"):
            href = response.urljoin(link.attrib["href"])
            match = ARTICLE.search(urlsplit(href).path)
            title = " ".join(" ".join(link.css("::text").getall()).split())
            if match and title and match["id"] not in cards and "/education" in href:
                card = card_of(link, _is_article)
                cards[match["id"]] = (
                    href,
                    title,
                    _standfirst(card, title),
                    parse_date(text_of(card)),
                )
        self.count_listing(len(cards))
        since = self.since()
        unhandled = 0
        for href, title, standfirst, published in cards.values():
            article_id = self._wanted(href, title, standfirst, published, None, since)
            if article_id:
                unhandled += 1
                yield self.detail_request(
                    href,
                    self.parse_article,
                    article_id=article_id,
                    listed=(title, standfirst, published),
                )
        next_page = response.css(
            "a[rel=next]::attr(href), li.pagination-next a::attr(href), a[title=Next]::attr(href)"
        ).get()
        older = any(self._too_old(card[3], None, since) for card in cards.values())
        if (
            next_page
            and cards
            and not older
            and page + 1 < MAX_PAGES
            and (unhandled or self.first_run)
        ):
            yield self._html_listing(page + 1, next_page)

    def _wanted(
        self,
        href: str,
        title: str,
        standfirst: str,
        published: dt.date | None,
        stamp: dt.datetime | None,
        since: dt.datetime,
    ) -> str | None:
        """The article id of a listing entry whose article should be fetched, else None."""
        match = ARTICLE.search(urlsplit(href).path)
        if not match or self._too_old(published, stamp, since):
            return None
        article_id = match["id"]
        if self.is_handled(article_id, "1") or not worth_reading(title, standfirst):
            return None
        return article_id

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
        # The real pages show no date: the listing's is the article's. A page's own date is
        # read only when there is no listing entry; it might be a sidebar's or a box's.
        published = listed[2] or _page_date(response)
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


def _page_date(response: Response) -> dt.date | None:
    """The date an article page gives itself, in Joomla's default elements, if any."""
    return (
        parse_date(response.css("time[itemprop=datePublished]::attr(datetime)").get())
        or parse_date(response.css("time[datetime]::attr(datetime)").get())
        or parse_date(response.css("meta[property='article:published_time']::attr(content)").get())
        or parse_date(text_of(response.css("dd.published, .published, .article-date")))
    )


def _is_article(href: str) -> bool:
    return bool(ARTICLE.search(urlsplit(href).path))


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


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _rfc822(value: str) -> tuple[dt.date | None, dt.datetime | None]:
    """An RSS pubDate: the date as the site wrote it, and the moment in UTC."""
    value = value.strip()
    if not value:
        return None, None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        date = parse_date(value)
        return date, None
    return moment.date(), _utc(moment)
