"""The README's commands are the contract CI keeps: the command CI runs is the one README gives."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    found = re.search(r'^TEST_COMMAND="(.+)"$', ci, re.MULTILINE)
    assert found, "TEST_COMMAND missing from .ci/run"
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Run the tests", 1)[1]
    assert f"```sh\n{found.group(1)}\n```" in section
