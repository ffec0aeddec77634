"""One daemon per store: a second `sendwatch run` on the same store refuses to start, in one
line, while the first keeps its lock for its whole life (a file lock next to the SQLite
file; a session advisory lock on PostgreSQL), and starts once the first has stopped."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from tests.daemon.test_daemon import SOURCES, Daemon
from tests.paths import COMMAND


def _env(data_dir: Path, database_url: str = "") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    env["SENDWATCH_DATA_DIR"] = str(data_dir)
    env["SENDWATCH_WEB_ENABLED"] = "false"  # no web server on 8080 (tests run side by side)
    if database_url:
        env["SENDWATCH_DATABASE_URL"] = database_url
    for source in SOURCES:
        env[f"SENDWATCH_SOURCES_{source}_ENABLED"] = "false"
    return env


def _second_run_refused(tmp_path: Path, env: dict[str, str]) -> None:
    second = subprocess.run(
        [*COMMAND, "run"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert second.returncode == 1
    errors = [line for line in second.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, second.stderr
    assert errors[0].startswith("sendwatch: error: another sendwatch daemon")
    assert "already running on this store" in errors[0]
    assert "Traceback" not in second.stderr and "sendwatch running" not in second.stderr


def _one_daemon_at_a_time(
    tmp_path: Path, first_env: dict[str, str], second_env: dict[str, str]
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = Daemon(tmp_path / "a", first_env).start()
    try:
        _second_run_refused(tmp_path / "b", second_env)
        first.signal(signal.SIGTERM)
        assert first.wait(timeout=15) == 0
        # The lock went with the first daemon: now the second starts.
        second = Daemon(tmp_path / "b", second_env).start()
        try:
            second.signal(signal.SIGTERM)
            assert second.wait(timeout=15) == 0
        finally:
            second.kill()
    finally:
        first.kill()


def test_second_daemon_on_one_sqlite_store_refuses_to_start(tmp_path: Path) -> None:
    env = _env(tmp_path / "data")
    _one_daemon_at_a_time(tmp_path, env, env)
    assert (tmp_path / "data" / "sendwatch.db.lock").exists()


def test_second_daemon_on_one_postgres_store_refuses_to_start(
    tmp_path: Path, postgres_url: str
) -> None:
    # Separate data directories: only the database is shared, and it alone must refuse.
    _one_daemon_at_a_time(
        tmp_path, _env(tmp_path / "data-a", postgres_url), _env(tmp_path / "data-b", postgres_url)
    )
