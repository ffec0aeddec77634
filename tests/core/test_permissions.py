"""The SQLite database and the secret key file are readable by their owner only, and a data
directory sendwatch creates is its owner's alone, whatever the umask."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from tests.paths import COMMAND


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_database_key_and_data_directory_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    env["SENDWATCH_DATA_DIR"] = str(data_dir)
    for args in (["db", "upgrade"], ["dispatch"]):  # dispatch signs links: it makes the key
        done = subprocess.run(
            [*COMMAND, *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            preexec_fn=lambda: os.umask(0o022),
        )
        assert done.returncode == 0, done.stderr
    assert _mode(data_dir) == 0o700
    assert _mode(data_dir / "sendwatch.db") == 0o600
    assert _mode(data_dir / "secret.key") == 0o600
    for companion in ("sendwatch.db-wal", "sendwatch.db-shm"):
        if (data_dir / companion).exists():
            assert _mode(data_dir / companion) & 0o077 == 0
