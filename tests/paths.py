"""What many tests share: where the fixtures are, how to run `sendwatch`, and a served instance.

The pages the demo and the tests both use (GOV.UK, Ofsted, Local Government Lawyer) have one
copy, the sample pages the package ships (`SAMPLES`, app/demo/files); tests/fixtures
(`FIXTURES`) keeps only what the tests alone need (ModernGov, statistics, report texts, the
generators). `fixture()` finds a file in either, the tests' own first, as the fixture site
serves them (`FixtureSite.roots`).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx

from app.demo.site import SAMPLES

FIXTURES = Path(__file__).resolve().parent / "fixtures"
#: Where a test's files come from, first first: its own fixtures, then the package's samples.
ROOTS = (FIXTURES, SAMPLES)
_SCRIPT = Path(sys.executable).with_name("sendwatch")
#: The installed console script, as users run it (or the module, where none is installed).
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "app"]


def fixture(relative: str) -> Path:
    """The file at `relative` (e.g. "lgl/feed.xml") under the first of `ROOTS` that has it."""
    for root in ROOTS:
        if (root / relative).is_file():
            return root / relative
    raise FileNotFoundError(f"no fixture or sample {relative!r} under {', '.join(map(str, ROOTS))}")


@contextmanager
def serving(
    port: int, env: dict[str, str], cwd: Path, output: IO[str] | None = None
) -> Iterator[str]:
    """`sendwatch serve` on 127.0.0.1:`port` until the block ends (its output to `output`
    when given); yields its base URL."""
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [*COMMAND, "serve", "--port", str(port)], env=env, cwd=cwd, stdout=output, stderr=output
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(
    tmp_path: Path, database_url: str, smtp_port: int | None = None, **extra: str
) -> Iterator[str]:
    """`sendwatch serve` on a free port over `database_url`, mailing through `smtp_port` if given,
    with `extra` settings (`SENDWATCH_…` variables) on top."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    env |= {
        "SENDWATCH_DATABASE_URL": database_url,
        "SENDWATCH_DATA_DIR": str(tmp_path / "data"),
        "SENDWATCH_ALERTS_PUBLIC_URL": base,
    }
    if smtp_port is not None:
        env |= {
            "SENDWATCH_SMTP_HOST": "127.0.0.1",
            "SENDWATCH_SMTP_PORT": str(smtp_port),
            "SENDWATCH_SMTP_SECURITY": "none",
            "SENDWATCH_SMTP_FROM_ADDRESS": "alerts@sendwatch.test",
        }
    env |= extra
    with serving(port, env, tmp_path) as running:
        yield running


class SilentServer:
    """A TCP server on 127.0.0.1 that accepts every connection and never answers a byte: a site
    that hangs (a connection is made, no response ever comes)."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0), backlog=512)
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:  # closed
                return
            self._held.append(connection)
            self.accepted += 1

    def close(self) -> None:
        self.socket.close()
        for connection in self._held:
            connection.close()


@contextmanager
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    try:
        yield server
    finally:
        server.close()
