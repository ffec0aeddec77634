"""A data directory or an output file that cannot be written is one clear line, exit 1.

The tests run as root in CI containers, where permissions do not stop writes; a path
under a regular file cannot be created by anyone, so that is the unwritable place here
(and, when not root, a read-only directory too)."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

from tests.paths import COMMAND

LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (DEBUG|INFO|WARNING) ")


def _run(tmp_path: Path, data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    env["SENDWATCH_DATA_DIR"] = str(data_dir)
    for source in ("GOVUK", "OFSTED", "LGL"):
        env[f"SENDWATCH_SOURCES_{source}_ENABLED"] = "false"
    return subprocess.run(
        [*COMMAND, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )


def _one_line_error(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    # Log lines of work done before (a migration, say) are fine; the error is one line.
    lines = [line for line in done.stderr.splitlines() if line and not LOG_LINE.match(line)]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("sendwatch: error: ")
    for word in words:
        assert word in lines[0]


def _blocker(tmp_path: Path) -> Path:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where a directory should be\n")
    return blocker


@pytest.mark.parametrize(
    "command", [["run"], ["db", "upgrade"], ["subscribe", "email", "a@example.org"]]
)
def test_uncreatable_data_directory_is_one_line(tmp_path: Path, command: list[str]) -> None:
    data_dir = _blocker(tmp_path) / "data"
    _one_line_error(_run(tmp_path, data_dir, *command), str(data_dir))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_data_directory_is_one_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    data_dir.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        _one_line_error(_run(tmp_path, data_dir, "run"), str(data_dir))
    finally:
        data_dir.chmod(0o700)


def test_unwritable_export_output_is_one_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    assert _run(tmp_path, data_dir, "db", "upgrade").returncode == 0  # export reads a store
    output = _blocker(tmp_path) / "events.json"
    _one_line_error(_run(tmp_path, data_dir, "export", "--output", str(output)), str(output))
    directory = tmp_path / "a-directory"
    directory.mkdir()
    done = _run(tmp_path, data_dir, "export", "--format", "csv", "--output", str(directory))
    assert done.returncode in (1, 2) and "Traceback" not in done.stderr
