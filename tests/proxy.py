"""An intercepting HTTP(S) proxy on 127.0.0.1, so tests can crawl production URLs offline.

The crawler is pointed at it only through `https_proxy` / `http_proxy`, as it would be
in production behind a proxy, so the code under test keeps its real URLs
(https://files.ofsted.gov.uk/..., https://www.gov.uk/...). Each real host is played by
a local plain-HTTP server: for `CONNECT host:443` the proxy answers 200, speaks TLS
itself with a throwaway certificate for that host (Scrapy does not verify
certificates), and forwards the requests read from the tunnel to the host's server.
Absolute-form requests (`GET http://host/path`) are forwarded the same way. A host
without a route gets 502 Bad Gateway, as from a proxy that cannot resolve it, so no
test can reach the real internet through it.

Requests are relayed at the HTTP level (parsed, sent on with http.client, the whole
answer read and written back), not piped as bytes: one thread per connection then
owns its TLS socket, and the backend may close, chunk or keep alive as it likes.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler
from socketserver import ThreadingTCPServer
from typing import Any
from urllib.parse import urlsplit

import trustme

#: Headers about one connection, which a proxy must not pass on (RFC 9110, section 7.6.1).
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)

Seen = tuple[str, str, int]


class _Server(ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, proxy: InterceptingProxy) -> None:
        self.proxy = proxy
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    """One client connection: proxy requests, and after a CONNECT the requests in the tunnel."""

    protocol_version = "HTTP/1.1"
    #: Seconds a connection may sit idle (or a handshake stall) before its thread gives up.
    timeout = 10
    server: _Server
    #: The host a TLS tunnel was opened to; requests inside it come in origin form.
    tunnel_host: str | None = None

    def setup(self) -> None:
        super().setup()
        self.server.proxy._opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.proxy._closed(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test output is no place for an access log."""

    def do_CONNECT(self) -> None:
        host, _, port = self.path.rpartition(":")
        host = host.strip("[]").lower()
        proxy = self.server.proxy
        proxy.seen.append(("CONNECT", host, int(port) if port.isdigit() else 0))
        self.close_connection = True
        if host not in proxy.routes:
            self.send_error(502, f"no route to {host}")
            return
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        try:
            tls = proxy.tls.wrap_socket(self.connection, server_side=True)
        except OSError:
            return  # The client gave up or disliked the certificate; only this tunnel ends.
        try:
            _TunnelHandler(tls, self.client_address, self.server, host)
        finally:
            tls.close()  # The plain socket was detached into `tls`, so closing it is ours.

    def forward(self) -> None:
        """Send this request on to the local server for its host, and relay the answer."""
        url = urlsplit(self.path)
        if url.scheme:
            host = (url.hostname or "").lower()
            port = url.port or (443 if url.scheme == "https" else 80)
            path = url.path or "/"
            if url.query:
                path += "?" + url.query
        elif self.tunnel_host is not None:
            host, port, path = self.tunnel_host, 443, self.path
        else:
            self.send_error(400, "a proxy request needs an absolute URL")
            return
        proxy = self.server.proxy
        proxy.seen.append((self.command, host, port))
        backend = proxy.routes.get(host)
        if backend is None:
            self.send_error(502, f"no route to {host}")
            return
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.send_error(501, "chunked request bodies are not supported")
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers.setdefault("Host", host)  # Kept as sent, so the backend sees the real name.
        target = urlsplit(backend)
        connection = http.client.HTTPConnection(target.hostname or "", target.port, timeout=10)
        try:
            connection.request(self.command, target.path.rstrip("/") + path, body, headers)
            response = connection.getresponse()
            data = response.read()
        except OSError as error:
            self.send_error(502, f"{backend} failed: {error}")
            return
        finally:
            connection.close()
        self.send_response_only(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        if self.command == "HEAD":
            if response.getheader("Content-Length") is not None:
                self.send_header("Content-Length", response.getheader("Content-Length", ""))
        elif response.status not in (204, 304) and response.status >= 200:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_HEAD = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = forward


class _TunnelHandler(_Handler):
    """The requests inside one TLS tunnel, served on the decrypted socket."""

    def __init__(
        self, request: ssl.SSLSocket, client: Any, server: _Server, tunnel_host: str
    ) -> None:
        self.tunnel_host = tunnel_host
        super().__init__(request, client, server)


class InterceptingProxy:
    """A proxy that plays real hosts with local servers; see the module docstring.

    `routes` maps a real host name (lower-case, no port) to the base URL of the
    plain-HTTP server that plays it, e.g. {"files.ofsted.gov.uk": "http://127.0.0.1:41234"}.
    `seen` records (method, host, port) for every request, CONNECTs included.
    """

    def __init__(self, routes: Mapping[str, str]) -> None:
        self.routes = {host.lower(): url for host, url in routes.items()}
        self.seen: list[Seen] = []
        self.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        if self.routes:
            trustme.CA().issue_cert(*self.routes).configure_cert(self.tls)
        self._server: _Server | None = None
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """The proxy's URL, for `https_proxy` / `http_proxy`."""
        if self._server is None:
            raise RuntimeError("the proxy is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> InterceptingProxy:
        self._server = _Server(self)
        threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="proxy", daemon=True
        ).start()
        return self

    def stop(self) -> None:
        """Stop listening and cut open connections, so no handler thread lingers on a client."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server = None
        with self._lock:
            for connection in self._connections:
                with suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> InterceptingProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _opened(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)

    def _closed(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)


@contextmanager
def running_proxy(routes: Mapping[str, str]) -> Iterator[InterceptingProxy]:
    """An InterceptingProxy for `routes`, listening until the block ends."""
    with InterceptingProxy(routes) as proxy:
        yield proxy
