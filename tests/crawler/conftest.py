"""Helpers for spider tests: saved fixtures as Scrapy responses, spiders without a crawl."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from scrapy.http import HtmlResponse, Request, Response, TextResponse, XmlResponse

from tests.paths import fixture


def file_response(relative: str, url: str, **cb_kwargs: object) -> Response:
    """The fixture or sample at <relative> (`tests.paths.fixture`) as the response Scrapy would
    give for `url`."""
    body = fixture(relative).read_bytes()
    request = Request(url=url, cb_kwargs=dict(cb_kwargs))
    if relative.endswith((".html", ".htm")):
        return HtmlResponse(url=url, body=body, encoding="utf-8", request=request)
    if relative.endswith(".xml"):
        return XmlResponse(url=url, body=body, encoding="utf-8", request=request)
    if relative.endswith(".json"):
        return TextResponse(url=url, body=body, encoding="utf-8", request=request)
    return Response(url=url, body=body, request=request)


@pytest.fixture
def fixture_response() -> Callable[..., Response]:
    return file_response
