"""Middleware: retries that back off, so a struggling site is not hammered; parser errors counted."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from email.utils import parsedate_to_datetime

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Response
from scrapy.settings import BaseSettings

from crawler.spiders.base import DOC_NOUN, SourceSpider

log = logging.getLogger(__name__)

BACKOFF_META = "sendwatch_backoff"
MAX_BACKOFF_SECONDS = 300.0


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retry (5xx, 429, timeouts; never other 4xx) with exponential backoff.

    Retry n waits `RETRY_BACKOFF_SECONDS * 2**(n-1)`, or what a 429/503 asks for in
    Retry-After (seconds or an HTTP date), capped at five minutes.
    """

    def __init__(self, settings: BaseSettings) -> None:
        super().__init__(settings)
        self.backoff = settings.getfloat("RETRY_BACKOFF_SECONDS", 2.0)

    async def process_request(self, request: Request) -> None:
        delay = request.meta.pop(BACKOFF_META, 0.0)
        if delay:
            await asyncio.sleep(delay)

    def process_response(self, request: Request, response: Response) -> Request | Response:  # type: ignore[override]
        result = super().process_response(request, response)
        if isinstance(result, Request):
            after = _retry_after(response)
            if after is not None:
                result.meta[BACKOFF_META] = min(after, MAX_BACKOFF_SECONDS)
        return result

    def _retry(self, request: Request, reason: str | Exception | type[Exception]) -> Request | None:
        retry = super()._retry(request, reason)
        if retry is not None:
            attempt = retry.meta.get("retry_times", 1)
            retry.meta[BACKOFF_META] = min(self.backoff * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)
        return retry


def _retry_after(response: Response) -> float | None:
    value = response.headers.get(b"Retry-After")
    if not value:
        return None
    text = value.decode("ascii", "replace").strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:  # or an HTTP date: wait until then
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None  # unreadable: the exponential backoff applies instead
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


class DocumentErrorsMiddleware:
    """A parser that raises on a document counts that document as failed.

    A crawl whose parser breaks on every report PDF read none of them: it must end
    `failed`, like one whose PDFs could not be fetched, not `ok` with a traceback in the log.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DocumentErrorsMiddleware:
        return cls(crawler)

    def process_spider_exception(self, response: Response, exception: Exception) -> None:
        spider = self.crawler.spider
        noun = response.request.meta.get(DOC_NOUN) if response.request is not None else None
        if noun and isinstance(spider, SourceSpider):
            spider.document_failed(
                response.url, "parser error", repr(exception), noun, count_error=False
            )
        # None: Scrapy goes on to log the traceback and count the spider exception.
