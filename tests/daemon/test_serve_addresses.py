"""`sendwatch serve` says every address it serves, and a port already taken is one clear error
before anything else is printed."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import httpx

from tests.paths import COMMAND, free_port


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    return env | {
        "SENDWATCH_DATA_DIR": str(tmp_path / "data"),
        "SENDWATCH_SECRET_KEY": "a test key, long enough to sign links",
    }


def test_serve_prints_every_address_it_serves(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [*COMMAND, "serve", "--port", str(port)],
        env=_env(tmp_path),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().rstrip("\n") for _ in range(6)]
        assert lines == [
            f"pages  {base}/",
            f"feeds  {base}/feeds/all.atom",
            f"feeds  {base}/feeds/all.rss",
            f"ical   {base}/calendar/all.ics",
            f"API    {base}/api/events",
            f"API    {base}/api/las",
        ]
        deadline = time.monotonic() + 30
        while True:  # each address printed answers
            try:
                answers = [httpx.get(line.split()[1]).status_code for line in lines]
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        # The feeds and the API answer; the home page's own content is tested with the pages.
        assert answers[1:] == [200] * 5
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_port_in_use_is_one_error_before_anything_else(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*COMMAND, "serve", "--port", str(port)],
            env=_env(tmp_path),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"sendwatch: error: cannot serve on 127.0.0.1:{port}: the port is already in use"
        " (another sendwatch serve, or another program)\n"
    )
    assert not (tmp_path / "data").exists()  # nothing opened or created before the check
