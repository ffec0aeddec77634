"""What many tests share: where the fixtures are, how to run `sendwatch`, and a served instance."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

FIXTURES = Path(__file__).resolve().parent / "fixtures"
_SCRIPT = Path(sys.executable).with_name("sendwatch")
#: The installed console script, as users run it (or the module, where none is installed).
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "sendwatch"]


@contextmanager
def serving(port: int, env: dict[str, str], cwd: Path) -> Iterator[str]:
    """`sendwatch serve` on 127.0.0.1:`port` until the block ends; yields its base URL."""
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([*COMMAND, "serve", "--port", str(port)], env=env, cwd=cwd)
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
