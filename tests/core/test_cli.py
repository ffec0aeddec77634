"""The `sendwatch` console script, run as a user runs it: a real process, real files."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from sendwatch.vocab import Kind
from storage.store import FindingData, Store
from tests.paths import COMMAND

UNREACHABLE = "postgresql+psycopg://sendwatch@127.0.0.1:9/nowhere"


def sendwatch(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    full_env.update(env or {})
    return subprocess.run(
        [*COMMAND, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=60
    )


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = sendwatch("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("config", "db", "las", "status", "run"):
        assert f"\n  {command} " in result.stdout


def test_config_prints_effective_settings_with_secrets_masked(tmp_path: Path) -> None:
    (tmp_path / "sendwatch.toml").write_text('[smtp]\nhost = "mail.example.org"\n')
    result = sendwatch(
        "config",
        cwd=tmp_path,
        env={"SENDWATCH_SMTP_PASSWORD": "hunter2-secret", "SENDWATCH_SMTP_PORT": "2525"},
    )
    assert result.returncode == 0, result.stderr
    assert 'host = "mail.example.org"  # sendwatch.toml' in result.stdout
    assert "port = 2525  # SENDWATCH_SMTP_PORT" in result.stdout
    assert 'password = "********"' in result.stdout
    assert "hunter2" not in result.stdout + result.stderr


def test_bad_config_is_one_line_and_exit_1(tmp_path: Path) -> None:
    path = tmp_path / "custom.toml"
    path.write_text("[smtp]\nport = 'abc'\n")
    result = sendwatch("--config", str(path), "config", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith(f"sendwatch: error: {path}:2: smtp.port:")
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_db_upgrade_then_status_on_the_default_sqlite(tmp_path: Path) -> None:
    before = sendwatch("status", cwd=tmp_path)
    assert before.returncode == 0
    assert f"no store at {tmp_path / 'data' / 'sendwatch.db'}" in before.stderr
    assert not (tmp_path / "data").exists()  # status reads; it never creates a store

    first = sendwatch("db", "upgrade", cwd=tmp_path)
    second = sendwatch("db", "upgrade", cwd=tmp_path)
    assert first.returncode == second.returncode == 0, first.stderr
    assert second.stdout.startswith("database at revision ")
    assert (tmp_path / "data" / "sendwatch.db").exists()

    store = Store(f"sqlite:///{tmp_path / 'data' / 'sendwatch.db'}")
    store.record(
        FindingData(
            source="govuk",
            identity="abc",
            url="https://www.gov.uk/x",
            title="Improvement notice issued to Wirral: May 2024",
            kind=Kind.IMPROVEMENT_NOTICE,
            la_code="E08000015",
            happened_on=dt.date(2024, 5, 1),
        )
    )
    store.close()

    status = sendwatch("status", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    lines = [line.split() for line in status.stdout.splitlines()]
    assert lines[0] == [
        "SOURCE",
        "ENABLED",
        "LAST_RUN",
        "RESULT",
        "FAILURES",
        "FINDINGS",
        "EVENTS",
        "NEXT_RUN",
        "REASON",
    ]
    assert lines[1] == ["govuk", "yes", "never", "-", "0", "1", "1", "-", "-"]
    assert [line[:2] for line in lines[1:7]] == [
        ["govuk", "yes"],
        ["ofsted", "yes"],
        ["lgl", "yes"],
        ["moderngov", "yes"],
        ["statistics", "yes"],
        ["ombudsman", "yes"],
    ]
    assert lines[7] == ["outbox:", "pending=0", "failed=0", "sent_today=0"]


def test_data_dir_from_the_environment(tmp_path: Path) -> None:
    result = sendwatch(
        "db", "upgrade", cwd=tmp_path, env={"SENDWATCH_DATA_DIR": str(tmp_path / "state")}
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "state" / "sendwatch.db").exists()


@pytest.mark.parametrize("command", [["status"], ["db", "upgrade"]])
def test_unreachable_database_is_a_clear_error(tmp_path: Path, command: list[str]) -> None:
    result = sendwatch(*command, cwd=tmp_path, env={"SENDWATCH_DATABASE_URL": UNREACHABLE})
    assert result.returncode == 1
    assert result.stderr.startswith(
        "sendwatch: error: cannot connect to database "
        "postgresql+psycopg://sendwatch@127.0.0.1:9/nowhere:"
    )
    assert "Traceback" not in result.stderr


def test_malformed_database_url_is_a_clear_error(tmp_path: Path) -> None:
    result = sendwatch("status", cwd=tmp_path, env={"SENDWATCH_DATABASE_URL": "not a url"})
    assert result.returncode == 1
    assert result.stderr.strip() == "sendwatch: error: not a database URL: ********"


def test_las_lists_and_suggests(tmp_path: Path) -> None:
    found = sendwatch("las", "kingston", cwd=tmp_path)
    assert found.returncode == 0
    assert found.stdout.splitlines() == [
        "NAME                  ONS_CODE   DFE_CODE  REGION",
        "Kingston upon Hull    E06000010  810       Yorkshire and the Humber",
        "Kingston upon Thames  E09000021  314       London",
    ]
    everything = sendwatch("las", cwd=tmp_path)
    assert len(everything.stdout.splitlines()) == 154

    missing = sendwatch("las", "Bexly", cwd=tmp_path)
    assert missing.returncode == 1
    assert missing.stderr.strip() == (
        "sendwatch: error: no local authority matches 'Bexly'; did you mean: Bexley?"
    )


def test_run_migrates_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    for source in ("GOVUK", "OFSTED", "LGL"):  # no network here: crawl nothing
        env[f"SENDWATCH_SOURCES_{source}_ENABLED"] = "false"
    env["SENDWATCH_WEB_ENABLED"] = "false"  # no web server on 8080 (tests run side by side)
    process = subprocess.Popen(
        [*COMMAND, "run"], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        assert process.stderr is not None
        lines = []
        while time.monotonic() < deadline:
            line = process.stderr.readline()
            lines.append(line)
            if "sendwatch running" in line:
                break
        assert any("sendwatch running" in line for line in lines), lines
        assert (tmp_path / "data" / "sendwatch.db").exists()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
