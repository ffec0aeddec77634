"""`sendwatch run` says at start-up, once, when it crawls with no `[crawler] contact`: sites
ask a crawler for a way to reach whoever runs it (it goes in the User-Agent)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.paths import COMMAND, free_port

WARNING = "[crawler] contact is empty"


def _start_and_stop(tmp_path: Path, **extra: str) -> str:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens: the crawl fails at once
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    env |= {
        "SENDWATCH_DATA_DIR": str(tmp_path / "data"),
        "SENDWATCH_SECRET_KEY": "a test key, long enough to sign links",
        "SENDWATCH_WEB_ENABLED": "false",
        "SENDWATCH_CRAWLER_HOST_MAP": f"www.gov.uk={closed}",
        "SENDWATCH_CRAWLER_RETRIES": "0",
    }
    for source in ("OFSTED", "LGL", "MODERNGOV", "STATISTICS"):
        env[f"SENDWATCH_SOURCES_{source}_ENABLED"] = "false"
    env |= extra
    log = tmp_path / "daemon.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [*COMMAND, "run"], env=env, cwd=tmp_path, stdout=handle, stderr=handle
        )
    try:
        deadline = time.monotonic() + 60
        while "sendwatch running" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    return log.read_text()


@pytest.mark.parametrize(("contact", "warned"), [("", True), ("ops@example.org", False)])
def test_crawling_without_a_contact_is_said_once(
    tmp_path: Path, contact: str, warned: bool
) -> None:
    output = _start_and_stop(tmp_path, SENDWATCH_CRAWLER_CONTACT=contact)
    assert output.count(WARNING) == (1 if warned else 0), output
    if warned:
        assert "SENDWATCH_CRAWLER_CONTACT" in output
