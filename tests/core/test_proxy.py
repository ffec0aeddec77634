"""The intercepting proxy plays real hosts with local servers, for httpx and for Scrapy itself."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.proxy import InterceptingProxy, running_proxy


class _Backend(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, body: bytes) -> None:
        self.body = body
        #: (path, Host header) of every request, to show what the real host would have seen.
        self.requests: list[tuple[str, str | None]] = []
        super().__init__(("127.0.0.1", 0), _BackendHandler)


class _BackendHandler(BaseHTTPRequestHandler):
    server: _Backend

    def do_GET(self) -> None:
        self.server.requests.append((self.path, self.headers["Host"]))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(self.server.body)))
        self.end_headers()
        self.wfile.write(self.server.body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def _backend(body: bytes) -> Iterator[_Backend]:
    server = _Backend(body)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def sites() -> Iterator[tuple[InterceptingProxy, _Backend, _Backend]]:
    """A proxy whose reports.ofsted.gov.uk and files.ofsted.gov.uk are local servers."""
    with _backend(b"reports") as reports, _backend(b"files") as files:
        routes = {
            "reports.ofsted.gov.uk": f"http://127.0.0.1:{reports.server_address[1]}",
            "files.ofsted.gov.uk": f"http://127.0.0.1:{files.server_address[1]}",
        }
        with running_proxy(routes) as proxy:
            yield proxy, reports, files


def test_https_urls_reach_the_server_playing_their_host(
    sites: tuple[InterceptingProxy, _Backend, _Backend],
) -> None:
    proxy, reports, files = sites
    with httpx.Client(proxy=proxy.url, verify=False, trust_env=False) as client:
        file = client.get("https://files.ofsted.gov.uk/v1/file/1")
        report = client.get("https://reports.ofsted.gov.uk/provider/44/80512?x=1")
    assert (file.status_code, file.content) == (200, b"files")
    assert (report.status_code, report.content) == (200, b"reports")
    assert files.requests == [("/v1/file/1", "files.ofsted.gov.uk")]
    assert reports.requests == [("/provider/44/80512?x=1", "reports.ofsted.gov.uk")]
    assert ("CONNECT", "files.ofsted.gov.uk", 443) in proxy.seen
    assert ("GET", "files.ofsted.gov.uk", 443) in proxy.seen
    assert ("CONNECT", "reports.ofsted.gov.uk", 443) in proxy.seen


def test_plain_http_urls_are_routed_by_host(
    sites: tuple[InterceptingProxy, _Backend, _Backend],
) -> None:
    proxy, reports, _ = sites
    with httpx.Client(proxy=proxy.url, trust_env=False) as client:
        response = client.get("http://reports.ofsted.gov.uk/a?b=c")
    assert (response.status_code, response.content) == (200, b"reports")
    assert reports.requests == [("/a?b=c", "reports.ofsted.gov.uk")]
    assert proxy.seen == [("GET", "reports.ofsted.gov.uk", 80)]


def test_unknown_hosts_get_bad_gateway(
    sites: tuple[InterceptingProxy, _Backend, _Backend],
) -> None:
    proxy, _, _ = sites
    with httpx.Client(proxy=proxy.url, verify=False, trust_env=False) as client:
        with pytest.raises(httpx.ProxyError, match="502"):
            client.get("https://www.example.com/")
        assert client.get("http://www.example.com/").status_code == 502
    assert proxy.seen == [("CONNECT", "www.example.com", 443), ("GET", "www.example.com", 80)]


def test_a_failed_handshake_leaves_the_proxy_serving(
    sites: tuple[InterceptingProxy, _Backend, _Backend],
) -> None:
    proxy, _, _ = sites
    port = int(proxy.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"CONNECT files.ofsted.gov.uk:443 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 200 Connection established\r\n\r\n")
        sock.sendall(b"GET / HTTP/1.1\r\n\r\n")  # Plain text where TLS was due.
    with httpx.Client(proxy=proxy.url, verify=False, trust_env=False) as client:
        assert client.get("https://files.ofsted.gov.uk/").content == b"files"


SPIDER = textwrap.dedent(
    """
    import scrapy
    from scrapy.crawler import CrawlerProcess

    class Probe(scrapy.Spider):
        name = "probe"

        async def start(self):
            yield scrapy.Request("https://files.ofsted.gov.uk/x")
            yield scrapy.Request("http://reports.ofsted.gov.uk/y")

        def parse(self, response):
            print(response.url, response.status, response.text, flush=True)

    process = CrawlerProcess(
        {"ROBOTSTXT_OBEY": False, "LOG_LEVEL": "ERROR", "TELNETCONSOLE_ENABLED": False}
    )
    process.crawl(Probe)
    process.start()
    """
)


def test_scrapy_crawls_production_urls_through_the_proxy(
    sites: tuple[InterceptingProxy, _Backend, _Backend], tmp_path: Path
) -> None:
    """The crawler needs nothing but the environment a proxy is given by in production."""
    proxy, reports, files = sites
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env |= {"https_proxy": proxy.url, "http_proxy": proxy.url}
    result = subprocess.run(
        [sys.executable, "-c", SPIDER],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.splitlines()) == [
        "http://reports.ofsted.gov.uk/y 200 reports",
        "https://files.ofsted.gov.uk/x 200 files",
    ], result.stderr
    assert files.requests == [("/x", "files.ofsted.gov.uk")]
    assert reports.requests == [("/y", "reports.ofsted.gov.uk")]
    assert {
        ("CONNECT", "files.ofsted.gov.uk", 443),
        ("GET", "files.ofsted.gov.uk", 443),
        ("GET", "reports.ofsted.gov.uk", 80),
    } <= set(proxy.seen)
