"""Where the store is: a command that only reads never creates one. Run where there is none,
it names the path it looked at and the setting that moves it; pointed at the daemon's store,
it reads it from any directory."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.paths import COMMAND

#: The commands that only read the store, and whether they still answer without one
#: (`status` shows the sources and their settings; the others have nothing to show).
READERS = {
    ("status",): 0,
    ("status", "--la", "Bexley"): 1,
    ("outbox",): 1,
    ("export",): 1,
    ("reconcile",): 1,
    ("subscribers",): 1,
}


def _run(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    variables = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    return subprocess.run(
        [*COMMAND, *args],
        cwd=cwd,
        env=variables | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(("args", "code"), READERS.items(), ids=[" ".join(a) for a in READERS])
def test_a_reader_never_creates_a_store_and_says_where_it_looked(
    tmp_path: Path, args: tuple[str, ...], code: int
) -> None:
    result = _run(tmp_path, *args)
    assert result.returncode == code, result.stderr
    (line,) = result.stderr.splitlines()
    assert f"no store at {tmp_path / 'data' / 'sendwatch.db'}" in line
    assert "data_dir = data, from the default" in line and "SENDWATCH_DATA_DIR" in line
    assert list(tmp_path.iterdir()) == []  # nothing made here


def test_the_setting_that_moved_it_is_named(tmp_path: Path) -> None:
    elsewhere = tmp_path / "srv"
    result = _run(tmp_path, "outbox", SENDWATCH_DATA_DIR=str(elsewhere))
    assert result.returncode == 1
    assert f"no store at {elsewhere / 'sendwatch.db'} (data_dir = {elsewhere}, from" in (
        result.stderr
    )
    assert "SENDWATCH_DATA_DIR" in result.stderr and not elsewhere.exists()


def test_the_daemon_s_store_is_read_from_any_directory(tmp_path: Path) -> None:
    home = tmp_path / "var" / "sendwatch"
    assert _run(tmp_path, "db", "upgrade", SENDWATCH_DATA_DIR=str(home)).returncode == 0
    other = tmp_path / "somewhere" / "else"
    other.mkdir(parents=True)
    status = _run(other, "status", SENDWATCH_DATA_DIR=str(home))
    assert status.returncode == 0 and "no store" not in status.stderr
    assert status.stdout.startswith("SOURCE")
    exported = _run(other, "export", SENDWATCH_DATA_DIR=str(home))
    assert (exported.returncode, exported.stdout) == (0, "[]\n")
    assert list(other.iterdir()) == []
