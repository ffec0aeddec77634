"""What every sendwatch spider shares: where the source lives, what is already handled, error counts."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit, urlunsplit

import scrapy
from bs4 import BeautifulSoup
from scrapy import Request
from scrapy.http import Response
from twisted.python.failure import Failure

log = logging.getLogger(__name__)

#: Listings are always revalidated: the HTTP cache adds If-None-Match/If-Modified-Since, and an
#: unchanged listing costs a 304. (Without this, Scrapy's RFC 2616 policy may guess a page
#: with an old Last-Modified is fresh for days, and serve it without asking.)
REVALIDATE = {"Cache-Control": "max-age=0"}

LISTING_ITEMS = "sendwatch/listing_items"
LISTING_ERRORS = "sendwatch/listing_errors"
ITEM_ERRORS = "sendwatch/item_errors"


class SourceSpider(scrapy.Spider):
    """A spider for one source, pointed at `base_url` (the real site, a mirror, or a test server).

    `marks` maps the source's document keys to the version already handled; a spider
    asks `is_handled` before fetching a detail page or PDF, and stops paging at the
    first listing page whose items are all handled.
    """

    name = ""
    #: The real site's hosts; links to them are rewritten onto `base_url` (tests, mirrors).
    real_hosts: ClassVar[tuple[str, ...]] = ()
    #: The source publishes the notices and reports themselves (not news about them).
    official: ClassVar[bool] = False

    def __init__(
        self,
        base_url: str,
        marks: Mapping[str, str] | None = None,
        baseline: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")
        self.marks: Mapping[str, str] = marks or {}
        #: A first crawl: what it finds is recorded as history and alerts nobody.
        self.baseline = baseline

    def is_handled(self, key: str, version: str) -> bool:
        return self.marks.get(key) == version

    def listing_request(
        self,
        url: str,
        callback: Callable[..., Any],
        errback: Callable[[Failure], Any] | None = None,
        **cb_kwargs: Any,
    ) -> Request:
        """A page polled every run: cached on disk and revalidated each time."""
        return Request(
            self.localise(url),
            callback=callback,
            errback=errback or self.listing_failed,
            headers=REVALIDATE,
            cb_kwargs=cb_kwargs,
        )

    def detail_request(
        self,
        url: str,
        callback: Callable[..., Any],
        errback: Callable[[Failure], Any] | None = None,
        **cb_kwargs: Any,
    ) -> Request:
        """A document fetched once: not cached on disk, since the marks remember it instead."""
        return Request(
            self.localise(url),
            callback=callback,
            errback=errback or self.item_failed,
            meta={"dont_cache": True},
            cb_kwargs=cb_kwargs,
        )

    def url(self, path: str) -> str:
        """An absolute URL on the configured site."""
        return urljoin(self.base_url + "/", path.lstrip("/"))

    def localise(self, url: str) -> str:
        """A link to the real site (any of its hosts), re-pointed at the configured base URL."""
        parts = urlsplit(url)
        if parts.netloc.lower() not in self.real_hosts:
            return url
        base = urlsplit(self.base_url)
        return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, ""))

    def count_listing(self, items: int) -> None:
        self._inc(LISTING_ITEMS, items)

    def listing_failed(self, failure: Failure) -> None:
        """A listing that cannot be fetched fails the run: the maintainer may have to act."""
        self.listing_error(_failed_url(failure), failure.getErrorMessage())

    def item_failed(self, failure: Failure) -> None:
        """A detail page or PDF that cannot be fetched: logged, counted, the rest go on."""
        self.item_error(_failed_url(failure), failure.getErrorMessage())

    def listing_error(self, url: str, reason: str) -> None:
        self._count(LISTING_ERRORS, url, reason)

    def item_error(self, url: str, reason: str) -> None:
        self._count(ITEM_ERRORS, url, reason)

    def _count(self, stat: str, url: str, reason: str) -> None:
        self._inc(stat)
        log.error("%s: %s failed: %s", self.name, url, reason)

    def _inc(self, stat: str, count: int = 1) -> None:
        # No crawler when `sendwatch extract` borrows a spider's parser for one file.
        crawler = getattr(self, "crawler", None)
        if crawler is not None and crawler.stats is not None:
            crawler.stats.inc_value(stat, count)

    def parse(self, response: Response, **kwargs: Any) -> Any:
        raise NotImplementedError


def text_of(selection: Any) -> str:
    """The words of selected elements, one space apart."""
    return " ".join(" ".join(selection.css("::text").getall()).split())


def html_text(html: Any) -> str:
    """The words of an HTML fragment (a JSON field, an RSS description), one space apart."""
    if not html or not isinstance(html, str):
        return ""
    return " ".join(BeautifulSoup(html, "lxml").get_text(" ").split())


def _failed_url(failure: Failure) -> str:
    request = getattr(failure, "request", None)
    return request.url if request is not None else "?"
