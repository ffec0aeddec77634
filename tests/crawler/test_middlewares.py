"""Retries back off exponentially, obey Retry-After, and never retry other 4xx."""

from __future__ import annotations

import datetime as dt
from email.utils import format_datetime

from scrapy import Request, Spider
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from crawler.middlewares import BACKOFF_META, BackoffRetryMiddleware, DocumentErrorsMiddleware
from crawler.report import CrawlReport
from crawler.spiders.ofsted import OfstedSpider
from crawler.verdict import LISTING_ITEMS


def _middleware() -> BackoffRetryMiddleware:
    crawler = get_crawler(
        Spider,
        {"RETRY_TIMES": 3, "RETRY_BACKOFF_SECONDS": 2.0, "RETRY_HTTP_CODES": [500, 503, 429]},
    )
    crawler.spider = Spider.from_crawler(crawler, name="test")
    return BackoffRetryMiddleware.from_crawler(crawler)


def test_delays_double_with_each_retry() -> None:
    middleware = _middleware()
    request = Request("http://127.0.0.1/x")
    delays = []
    for _ in range(3):
        retry = middleware.process_response(request, Response(request.url, status=500))
        assert isinstance(retry, Request)
        delays.append(retry.meta[BACKOFF_META])
        request = retry
    assert delays == [2.0, 4.0, 8.0]
    gave_up = middleware.process_response(request, Response(request.url, status=500))
    assert isinstance(gave_up, Response)


def test_retry_after_is_obeyed() -> None:
    middleware = _middleware()
    request = Request("http://127.0.0.1/x")
    response = Response(request.url, status=429, headers={"Retry-After": "30"})
    retry = middleware.process_response(request, response)
    assert isinstance(retry, Request)
    assert retry.meta[BACKOFF_META] == 30.0


def test_retry_after_as_an_http_date_is_obeyed() -> None:
    middleware = _middleware()
    request = Request("http://127.0.0.1/x")
    when = format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=90), usegmt=True)
    response = Response(request.url, status=429, headers={"Retry-After": when})
    retry = middleware.process_response(request, response)
    assert isinstance(retry, Request)
    assert 85.0 <= retry.meta[BACKOFF_META] <= 90.0


def test_client_errors_are_not_retried() -> None:
    middleware = _middleware()
    request = Request("http://127.0.0.1/x")
    for status in (400, 403, 404, 410):
        assert isinstance(
            middleware.process_response(request, Response(request.url, status=status)), Response
        )


def test_a_parser_that_raises_on_every_document_fails_the_run() -> None:
    crawler = get_crawler(OfstedSpider)
    spider = OfstedSpider.from_crawler(crawler, base_url="https://reports.ofsted.gov.uk")
    crawler.spider = spider
    assert crawler.stats is not None
    crawler.stats.open_spider()
    middleware = DocumentErrorsMiddleware.from_crawler(crawler)
    for file_id in ("1", "2", "3"):
        request = spider.detail_request(
            f"https://files.ofsted.gov.uk/v1/file/{file_id}", spider.parse
        )
        response = Response(request.url, status=200, request=request)
        assert middleware.process_spider_exception(response, ValueError("bad")) is None
    stats = crawler.stats.get_stats() | {"finish_reason": "finished", LISTING_ITEMS: 3}
    report = CrawlReport.from_stats("ofsted", stats)
    assert (report.result, report.reason) == (
        "failed",
        "3 of 3 report PDFs failed (parser error), e.g. https://files.ofsted.gov.uk/v1/file/1",
    )
