"""A bad parameter is a 400 naming it, quoting at most 100 characters of what was sent: a long
parameter is never echoed back, and answers at once."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.paths import served

HUGE = "x" * 5_000  # as long as a request line may be (HTTP clients refuse more)


@pytest.mark.parametrize("parameter", ["la", "since", "kind", "limit", "cursor"])
def test_a_huge_bad_parameter_is_quoted_short(
    tmp_path: Path, database_url: str, parameter: str
) -> None:
    with served(tmp_path, database_url) as base:
        started = time.monotonic()
        answer = httpx.get(f"{base}/api/events", params={parameter: HUGE}, timeout=30)
        took = time.monotonic() - started
    assert answer.status_code == 400
    assert answer.json()["parameter"] == parameter
    assert len(answer.text) < 600, answer.text[:200]
    assert "x" * 101 not in answer.text
    assert took < 10
