"""The floors of the tree hold: import-linter's layers contract (pyproject.toml) passes on the
tree as it is, and fails, naming the import, when a ground-floor module reaches up to the
command line. CI runs the same `lint-imports`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("app", "alerts", "crawler", "storage", "sendwatch")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` on the packages under `tree` (they come first on the path)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _copy_tree(target: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, target / package, ignore=shutil.ignore_patterns("__pycache__", "files")
        )
    shutil.copy(ROOT / "pyproject.toml", target / "pyproject.toml")
    return target


def test_the_tree_keeps_its_floors(tmp_path: Path) -> None:
    result = _lint(_copy_tree(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_a_ground_floor_module_importing_the_command_line_breaks_the_contract(
    tmp_path: Path,
) -> None:
    tree = _copy_tree(tmp_path)
    vocab = tree / "sendwatch" / "vocab.py"
    vocab.write_text(vocab.read_text() + "\nimport app.cli  # noqa: E402,F401\n")
    result = _lint(tree)
    assert result.returncode != 0
    assert "sendwatch is not allowed to import app" in result.stdout
    assert "sendwatch.vocab -> app.cli" in result.stdout


def test_alerts_and_the_crawler_never_import_each_other(tmp_path: Path) -> None:
    tree = _copy_tree(tmp_path)
    summary = tree / "alerts" / "summary.py"
    summary.write_text(summary.read_text() + "\nimport crawler.extract  # noqa: E402,F401\n")
    result = _lint(tree)
    assert result.returncode != 0
    assert "alerts.summary -> crawler.extract" in result.stdout
