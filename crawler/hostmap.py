"""Re-pointing real hosts at a mirror or a test server, below everything else in the crawler.

With the default (empty) `[crawler] host_map`, every link is fetched at the host it
names. A mapping such as ``{"files.ofsted.gov.uk" = "http://127.0.0.1:8001"}`` sends
that host's requests to the given server instead, the way ``curl --connect-to`` does:
the request keeps its real URL and its ``Host`` header, and the response comes back
under the real URL. So the spiders, robots.txt, the HTTP cache, retries and the
canonical URLs recorded in the store never see the mapped address, and a test that
maps hosts runs exactly the code production runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from scrapy import Request
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.crawler import Crawler
from scrapy.http import Response

HOST_MAP_SETTING = "SENDWATCH_HOST_MAP"


def mapped_url(url: str, host_map: Mapping[str, str]) -> str | None:
    """Where `url` is really fetched under `host_map`, or None when its host is not mapped."""
    parts = urlsplit(url)
    target = host_map.get((parts.hostname or "").lower())
    if target is None:
        return None
    base = urlsplit(target)
    path = base.path.rstrip("/") + (parts.path or "/")
    return urlunsplit((base.scheme, base.netloc, path, parts.query, ""))


class HostMapDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 handler, connecting to the mapped server for mapped hosts."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        raw = crawler.settings.getdict(HOST_MAP_SETTING)
        self.host_map = {str(host).lower(): str(target) for host, target in raw.items()}

    async def download_request(self, request: Request) -> Response:
        target = mapped_url(request.url, self.host_map)
        if target is None:
            return await super().download_request(request)
        # A mapped host is reached directly: no proxy in between, whatever the environment says.
        meta = {k: v for k, v in request.meta.items() if k not in ("proxy", "_auth_proxy")}
        headers = request.headers.copy()
        headers.pop(b"Proxy-Authorization", None)
        headers[b"Host"] = urlsplit(request.url).netloc.encode("ascii")
        mapped = request.replace(url=target, meta=meta, headers=headers)
        response = await super().download_request(mapped)
        if "download_latency" in mapped.meta:  # AutoThrottle paces on it
            request.meta["download_latency"] = mapped.meta["download_latency"]
        return response.replace(url=request.url)
