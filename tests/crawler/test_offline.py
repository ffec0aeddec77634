"""Offline is a few lines: with every host unreachable, `sendwatch crawl` logs one line per source
and its result, `sendwatch check` prints one line per source and nothing on stderr, and the
per-council and robots.txt detail is there at `--log-level DEBUG`.

Every real host (GOV.UK, Ofsted, Local Government Lawyer, each council's ModernGov site) is
mapped onto a local port nothing listens on: each request is refused at once, as it would fail
on a machine with no network (the DNS lookup failing instead).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from app.demo.site import HOSTS, FixtureSite
from crawler.spiders.moderngov import polled_sites
from tests.paths import COMMAND, free_port

SOURCES = ("govuk", "ofsted", "lgl", "moderngov", "statistics", "ombudsman")
STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")


@pytest.fixture
def offline(tmp_path: Path) -> dict[str, str]:
    """The environment of a machine whose every site is unreachable."""
    closed = f"http://127.0.0.1:{free_port()}"
    councils = {urlsplit(url).hostname for url in polled_sites({}, []).values()}
    hosts = sorted({*HOSTS, *(host for host in councils if host)})
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    return env | {
        "SENDWATCH_DATA_DIR": str(tmp_path / "data"),
        "SENDWATCH_CRAWLER_DOWNLOAD_DELAY": "0",
        "SENDWATCH_CRAWLER_RETRIES": "1",  # robots.txt and pages are given up after a retry
        "SENDWATCH_CRAWLER_RETRY_BACKOFF_SECONDS": "0.01",
        "SENDWATCH_CRAWLER_HOST_MAP": ",".join(f"{host}={closed}" for host in hosts),
    }


def sendwatch(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )


def log_lines(stderr: str) -> list[str]:
    """The log's lines without their timestamps, and without the store's one-off migration."""
    lines = [STAMP.sub("", line) for line in stderr.splitlines()]
    return [line for line in lines if not line.startswith("INFO storage.migrate: ")]


def test_a_crawl_offline_is_a_line_per_source_and_its_result(
    tmp_path: Path, offline: dict[str, str]
) -> None:
    result = sendwatch(tmp_path, offline, "crawl", *SOURCES)
    assert result.returncode == 1
    assert [line.split()[0] for line in result.stdout.splitlines()] == [
        f"source={source}" for source in SOURCES
    ]
    assert "Traceback" not in result.stderr
    lines = log_lines(result.stderr)
    # At most one line of what failed per source, and its result line.
    assert len(lines) <= 2 * len(SOURCES), "\n".join(lines)
    for source in SOURCES:
        said = [line for line in lines if f" {source}: " in line]
        assert 1 <= len(said) <= 2, (source, said)
        assert said[-1].startswith(f"ERROR crawler.runner: {source}: failed: listing failed")
    councils = len(polled_sites({}, []))
    (moderngov,) = [line for line in lines if "crawler.spiders.moderngov" in line]
    assert moderngov.startswith(
        f"ERROR crawler.spiders.moderngov: moderngov: {councils} of {councils} councils"
        " unreachable (connection refused), e.g. http"
    )
    assert not [line for line in lines if "robots.txt" in line]

    # The same run at DEBUG: every council, and each robots.txt, is there.
    debug = sendwatch(tmp_path, offline, "--log-level", "DEBUG", "crawl", *SOURCES)
    assert debug.returncode == 1
    each = re.findall(r"moderngov: E\d{8} unreachable: ", debug.stderr)
    assert len(each) == councils
    assert "/robots.txt" in debug.stderr


def test_a_check_offline_is_a_line_per_source_and_nothing_else(
    tmp_path: Path, offline: dict[str, str]
) -> None:
    result = sendwatch(tmp_path, offline, "check")
    assert result.returncode == 1
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert [line.split(":", 1)[0] for line in lines] == list(SOURCES)
    assert all(": cannot reach " in line for line in lines)


def test_pages_that_fail_while_the_site_is_up_are_a_line_each(
    tmp_path: Path, site: FixtureSite
) -> None:
    """The site answers, so a page's own network failure (a timeout) is said, each with its URL."""
    slow = (
        "/api/content/government/publications/improvement-notice-issued-to-halton-borough-council-march-2024",
        "/api/content/government/publications/improvement-notice-issued-to-wirral-council-may-2024",
    )
    for path in slow:
        site.delays[path] = 4
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    env |= {
        "SENDWATCH_DATA_DIR": str(tmp_path / "data"),
        "SENDWATCH_CRAWLER_DOWNLOAD_DELAY": "0",
        "SENDWATCH_CRAWLER_RETRIES": "0",
        "SENDWATCH_CRAWLER_TIMEOUT_SECONDS": "1",
        "SENDWATCH_CRAWLER_HOST_MAP": site.host_map,
    }
    result = sendwatch(tmp_path, env, "crawl", "govuk")
    lines = log_lines(result.stderr)
    failed = [line for line in lines if line.startswith("ERROR crawler.spiders.base: govuk: ")]
    assert sorted(line.split(": ", 2)[2].split(" failed: ")[0] for line in failed) == [
        f"https://www.gov.uk{path}" for path in sorted(slow)
    ]
    assert "Traceback" not in result.stderr
