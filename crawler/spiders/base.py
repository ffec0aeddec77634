"""What every sendwatch spider shares: where the source lives, what is already handled, error counts."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar
from urllib.parse import urljoin, urlsplit

import scrapy
from bs4 import BeautifulSoup
from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
)
from scrapy.http import Response
from scrapy.statscollectors import StatsCollector
from twisted.internet.error import DNSLookupError, TCPTimedOutError, TimeoutError
from twisted.python.failure import Failure

from crawler.bounded import BoundedParser, Limits, limits_of
from crawler.extract import Extraction
from crawler.items import SourceItem
from crawler.verdict import (
    DOCS,
    ITEM_ERRORS,
    LAYOUT_CHANGED,
    LISTING_ERRORS,
    LISTING_FAILED,
    LISTING_ITEMS,
    NETWORK_FAILURES,
    Verdict,
)
from sendwatch.case import REPORT_KINDS
from sendwatch.sources import find
from sendwatch.text import quoted
from sendwatch.vocab import Outcome, outcome_read

log = logging.getLogger(__name__)

_FAILURE_WORDS: tuple[tuple[type[BaseException], str], ...] = (
    (CannotResolveHostError, "DNS lookup failed"),
    (DNSLookupError, "DNS lookup failed"),
    (DownloadConnectionRefusedError, "connection refused"),
    (DownloadTimeoutError, "timeout"),
    (TimeoutError, "timeout"),
    (TCPTimedOutError, "timeout"),
    (DownloadCancelledError, "too large"),
    (IgnoreRequest, "disallowed by robots.txt"),
)

#: Listings are always revalidated: the HTTP cache adds If-None-Match/If-Modified-Since, and an
#: unchanged listing costs a 304. (Without this, Scrapy's RFC 2616 policy may guess a page
#: with an old Last-Modified is fresh for days, and serve it without asking.)
REVALIDATE = {"Cache-Control": "max-age=0"}

#: A request's meta key naming the kind of document it fetches ("report PDFs").
DOC_NOUN = "sendwatch_noun"
#: What a check read: each sampled item with its extraction, in the order they came.
Found = Sequence[tuple[SourceItem, Extraction]]


#: A date or a time: what a watermark holds.
Stamp = TypeVar("Stamp", dt.date, dt.datetime)


@dataclass(frozen=True)
class Row:
    """One thing a crawl relies on, as `sendwatch check` shows it, and whether it was found."""

    name: str
    ok: bool
    detail: str
    url: str = ""


class SourceSpider(scrapy.Spider):
    """A spider for one source, starting at `base_url` (the real site unless configured).

    A spider records facts in the crawl's stats (what the listings named, which listing or
    document failed and why, a layout that no longer parses); `crawler.verdict.decide` alone
    decides from them what the run came to.

    Links are followed to whatever host they name (re-pointing hosts at a mirror or a
    test server is the crawler's `host_map`, below the spider). `marks` maps the
    source's document keys to the version already handled; a spider asks `is_handled`
    before fetching a detail page or PDF, and stops paging at the first listing page
    whose items are all handled.
    """

    name = ""
    #: What the run's detail documents are called in its report ("report PDFs").
    document_noun: ClassVar[str] = "documents"
    #: How many documents of a kind (by noun) `sendwatch check` fetches; other kinds: one.
    check_sample: ClassVar[Mapping[str, int]] = {}

    def __init__(
        self,
        base_url: str,
        marks: Mapping[str, str] | None = None,
        baseline: bool = False,
        check: bool = False,
        parse_limits: Limits | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")
        self.marks: Mapping[str, str] = marks or {}
        #: A first crawl: what it finds is recorded as history and alerts nobody.
        self.baseline = baseline
        #: `sendwatch check`: a sample of each step, not the whole archive.
        self.check = check
        #: What one untrusted document may cost to parse (`[crawler] parse_memory_mb`, …).
        self.parse_limits = parse_limits or limits_of()
        self._parser: BoundedParser | None = None
        #: Hosts that have answered this run (any HTTP response, robots.txt's included): a
        #: network failure there is the page's own, said with its URL.
        self.answered: set[str] = set()
        #: Hosts never answered whose network failure has been said once: a site that is
        #: down (or a machine that is offline) is one line, not one per page.
        self.said_down: set[str] = set()

    @property
    def parser(self) -> BoundedParser:
        """The worker that parses this crawl's documents within `parse_limits`, started when
        the first document comes and ended with the crawl."""
        if self._parser is None:
            self._parser = BoundedParser(self.parse_limits)
        return self._parser

    def closed(self, reason: str) -> None:
        """The crawl is over: its parsing worker goes with it."""
        if self._parser is not None:
            self._parser.close()

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> SourceSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.response_received, signal=signals.response_received)
        return spider

    def response_received(self, response: Response, **_kwargs: Any) -> None:
        """The response's host is up: its failures from now on are each said."""
        host = urlsplit(response.url).hostname
        if host:
            self.answered.add(host)

    def failure_level(self, url: str, why: str) -> int:
        """How loudly a failed page is logged: ERROR, once per host while the host has never
        answered and the failure is the network's (the rest of that host's pages at DEBUG),
        always when the host is up or the page itself failed (a 404, unreadable); DEBUG in
        `sendwatch check`, whose rows say it all."""
        if self.check:
            return logging.DEBUG
        host = urlsplit(url).hostname or url
        if why not in NETWORK_FAILURES or host in self.answered:
            return logging.ERROR
        if host in self.said_down:
            return logging.DEBUG
        self.said_down.add(host)
        return logging.ERROR

    @property
    def official(self) -> bool:
        """The source publishes the notices and reports themselves (its registry entry says)."""
        source = find(self.name)
        return source is not None and source.official

    @property
    def first_run(self) -> bool:
        """Nothing handled yet: listings are followed back page by page (not in a check)."""
        return not self.marks and not self.check

    def is_handled(self, key: str, version: str) -> bool:
        return self.marks.get(key) == version

    def listing_request(
        self,
        url: str,
        callback: Callable[..., Any],
        errback: Callable[[Failure], Any] | None = None,
        noun: str = "",
        **cb_kwargs: Any,
    ) -> Request:
        """A page polled every run: cached on disk and revalidated each time.

        With a `noun`, the page is also one of the run's documents (an Ofsted provider
        page): its failures count towards the run's failed share, not the listing's.
        """
        meta = {}
        if noun:
            meta[DOC_NOUN] = noun
            self._inc(f"{DOCS}{noun}/requested")
        return Request(
            url,
            callback=callback,
            errback=errback or self.listing_failed,
            headers=REVALIDATE,
            meta=meta,
            cb_kwargs=cb_kwargs,
        )

    def detail_request(
        self,
        url: str,
        callback: Callable[..., Any],
        errback: Callable[[Failure], Any] | None = None,
        noun: str = "",
        **cb_kwargs: Any,
    ) -> Request:
        """A document fetched once: not cached on disk, since the marks remember it instead."""
        noun = noun or self.document_noun
        self._inc(f"{DOCS}{noun}/requested")
        return Request(
            url,
            callback=callback,
            errback=errback or self.item_failed,
            meta={"dont_cache": True, DOC_NOUN: noun},
            cb_kwargs=cb_kwargs,
        )

    def url(self, path: str) -> str:
        """An absolute URL on the source's site."""
        return urljoin(self.base_url + "/", path.lstrip("/"))

    def count_listing(self, items: int) -> None:
        self._inc(LISTING_ITEMS, items)

    def listing_failed(self, failure: Failure) -> None:
        """A listing that cannot be fetched fails the run: the maintainer may have to act."""
        self.listing_error(_failed_url(failure), failure_reason(failure), failure.getErrorMessage())

    @classmethod
    def reread_keys(cls, identity: str, fields: Mapping[str, Any]) -> tuple[str, ...]:
        """The marks to forget so that a document recorded with an outcome no rule read (by an
        older sendwatch's rules) is fetched and read again: none, unless the spider says."""
        return ()

    def self_check(self, stats: Mapping[str, Any], found: Found) -> list[Row]:
        """What `sendwatch check` shows of this source beyond its listing and its documents:
        each thing the crawl relies on, read from the spider's own tallies, the stats and the
        sampled documents (`found`). None by default."""
        return []

    def cannot_reach(self, verdict: Verdict) -> str:
        """The one line `sendwatch check` prints when the verdict says the site never answered."""
        return f"{self.name}: cannot reach {verdict.url} ({verdict.why})"

    def item_failed(self, failure: Failure) -> None:
        """A detail page or PDF that cannot be fetched: logged, counted, the rest go on."""
        request = getattr(failure, "request", None)
        noun = request.meta.get(DOC_NOUN, "") if request is not None else ""
        self.document_failed(
            _failed_url(failure), failure_reason(failure), failure.getErrorMessage(), noun
        )

    def listing_error(self, url: str, why: str, message: str = "") -> None:
        """A listing could not be fetched or read (`why`: its HTTP status, or a word): an error,
        counted and logged with its URL."""
        self.listing_counted(url, why)
        log.log(self.failure_level(url, why), "%s: %s failed: %s", self.name, url, message or why)

    def listing_counted(self, url: str, why: str) -> None:
        """A listing error's facts, for a spider that says it in words of its own."""
        self.listing_failed_at(url, why)
        self._inc(LISTING_ERRORS)

    def listing_failed_at(self, url: str, why: str) -> None:
        """The fact alone that a listing failed so (the first URL of each `why` is kept)."""
        self._first(f"{LISTING_FAILED}{why}", url)

    def document_failed(
        self, url: str, why: str, message: str = "", noun: str = "", count_error: bool = True
    ) -> None:
        """One of the run's documents could not be fetched or read (`why`: a status or a word).

        `count_error` False: the error is counted already (a spider exception Scrapy counts).
        """
        noun = noun or self.document_noun
        if count_error:
            self._inc(ITEM_ERRORS)
        self._inc(f"{DOCS}{noun}/failed")
        self._inc(f"{DOCS}{noun}/status/{why}")
        self._first(f"{DOCS}{noun}/example", url)
        log.log(self.failure_level(url, why), "%s: %s failed: %s", self.name, url, message or why)

    def item_error(self, url: str, reason: str) -> None:
        """A document that was fetched but cannot be read (not a PDF, no text where expected)."""
        self.document_failed(url, "unreadable", reason)

    def layout_changed(self, reason: str) -> None:
        """Pages were read but what the crawl relies on was in none of them: fail the run."""
        self._first(LAYOUT_CHANGED, reason)
        log.log(logging.DEBUG if self.check else logging.ERROR, "%s: %s", self.name, reason)

    @property
    def stats(self) -> StatsCollector | None:
        """The crawl's stats; None when there is no crawl (`sendwatch extract` borrows a
        spider's parser for one file, and tests call a spider's callbacks directly)."""
        crawler = getattr(self, "crawler", None)
        return crawler.stats if crawler is not None else None

    def stamp_mark(self, key: str, parse: Callable[[str], Stamp]) -> Stamp | None:
        """The date or time a mark holds (a watermark); None when unset, and when unreadable
        (said, and read as a first crawl's)."""
        value = self.marks.get(key)
        if not value:
            return None
        try:
            return parse(value)
        except ValueError:
            log.warning("%s: ignoring an unreadable %s mark: %r", self.name, key, value)
            return None

    def _first(self, stat: str, value: Any) -> None:
        """Keep the first value only (the first failing URL is the example)."""
        stats = self.stats
        if stats is not None and stats.get_value(stat) is None:
            stats.set_value(stat, value)

    def _inc(self, stat: str, count: int = 1) -> None:
        if self.stats is not None:
            self.stats.inc_value(stat, count)

    def parse(self, response: Response, **kwargs: Any) -> Any:
        raise NotImplementedError


@dataclass
class Watermark(Generic[Stamp]):
    """Where a listing read newest first got to: the newest thing handled, kept as a mark so
    the next crawl reads only what is newer (LGL's feed, the Ombudsman's decisions).

    The rule, once: the new mark is the newest seen, but never past a document that failed
    (it is read again next time), and it is written only once every document asked for has
    answered; a listing that failed leaves it where it was."""

    #: The mark earlier crawls left (None: a first crawl).
    current: Stamp | None
    #: The smallest step below a stamp: "just before the one that failed".
    step: dt.timedelta
    newest: Stamp | None = None
    #: Requests asked for and not yet answered.
    pending: int = 0
    oldest_failed: Stamp | None = None
    listing_broken: bool = False

    def saw(self, newest: Stamp) -> None:
        self.newest = newest if self.newest is None else max(self.newest, newest)

    def failed(self, stamp: Stamp | None) -> None:
        """A document of `stamp` failed: the mark stays below it."""
        if stamp is not None and (self.oldest_failed is None or stamp < self.oldest_failed):
            self.oldest_failed = stamp

    def answered(self) -> bool:
        """One request answered; True when it was the last one."""
        self.pending -= 1
        return self.pending == 0

    def moved(self) -> Stamp | None:
        """The new mark, when it differs from the current one; else None."""
        if self.listing_broken:
            return None
        value = max((s for s in (self.newest, self.current) if s is not None), default=None)
        if self.oldest_failed is not None:
            below = self.oldest_failed - self.step
            value = below if value is None else min(value, below)
        return value if value is not None and value != self.current else None


def count(stats: Mapping[str, Any], key: str) -> int:
    """A counting stat, 0 when the run never counted it."""
    return int(stats.get(key, 0) or 0)


def read_row(noun: str, found: Found, what: str) -> Row:
    """The sampled document, read: its kind, council, date (and, `what` "outcome", outcome)."""
    if not found:
        return Row(f"{noun} read", False, "none was read")
    item, extraction = found[0]
    la = extraction.local_authority
    parts = [
        f"kind {extraction.kind or 'not relevant'}",
        f"council {la.name if la else 'not found'}",
        f"date {_iso(extraction.happened_on or extraction.published_on)}",
    ]
    if what == "outcome":
        parts.append(f"outcome {extraction.outcome or 'not found'}")
    ok = la is not None and (extraction.happened_on or extraction.published_on) is not None
    if what == "outcome" and extraction.outcome == Outcome.UNRECOGNISED:
        parts.append(f"not read: {quoted(str(extraction.fields().get('outcome_unread')), 240)}")
    if what == "outcome" and extraction.kind in REPORT_KINDS:
        ok = ok and outcome_read(extraction.outcome)  # a report always states its result
    return Row(f"{noun} read", ok, f"{item.title}: " + ", ".join(parts), item.url)


def _iso(day: dt.date | None) -> str:
    return day.isoformat() if day else "not found"


def card_of(link: Any, is_item: Callable[[str], bool]) -> Any:
    """The smallest ancestor of an item's link (a selector) that holds no other item's link:
    the listing's card for that item, whatever the markup around it (`is_item` tells an
    item's address from the site's other links)."""
    card = link
    for ancestor in reversed(link.xpath("ancestor::*")):
        links = {href for href in ancestor.css("a::attr(href)").getall() if is_item(href)}
        if len(links) > 1 or ancestor.root.tag in ("body", "html"):
            break
        card = ancestor
    return card


def text_of(selection: Any) -> str:
    """The words of selected elements, one space apart."""
    return " ".join(" ".join(selection.css("::text").getall()).split())


def json_object(response: Response) -> dict[str, Any] | None:
    """The response's JSON object, or None for anything else (truncated, HTML, a list)."""
    try:
        data = json.loads(response.body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def dicts_in(container: Any, key: str) -> list[dict[str, Any]]:
    """The objects listed under `key` of a JSON object; [] where either is something else."""
    if not isinstance(container, dict):
        return []
    value = container.get(key)
    return [entry for entry in value if isinstance(entry, dict)] if isinstance(value, list) else []


def html_text(html: Any) -> str:
    """The words of an HTML fragment (a JSON field, an RSS description), one space apart."""
    if not html or not isinstance(html, str):
        return ""
    return " ".join(BeautifulSoup(html, "lxml").get_text(" ").split())


def _failed_url(failure: Failure) -> str:
    request = getattr(failure, "request", None)
    return request.url if request is not None else "?"


def failure_reason(failure: Failure) -> str:
    """Why a request failed, in a word a maintainer can act on: the HTTP status, or what broke."""
    return exception_reason(failure.value)


def exception_reason(error: BaseException | None) -> str:
    """`failure_reason` of an exception itself (as Scrapy's retry middleware logs it)."""
    response = getattr(error, "response", None)
    if response is not None and getattr(response, "status", None):
        return str(response.status)
    for kind, word in _FAILURE_WORDS:
        if isinstance(error, kind):
            return word
    return type(error).__name__
