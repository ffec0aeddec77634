"""The lock: constraints.txt pins every package sendwatch and its tests install, and CI proves
it is the lock of pyproject.toml and of what is installed.

pyproject.toml gives ranges; the lock gives the exact versions the suite passed with, and the
README's commands, .ci/run and the Dockerfile install with it (`pip install -c
constraints.txt`). A lock that is stale (pyproject changed, the lock not made again) or edited
by hand fails here: a requirement not pinned, a pin outside pyproject's range, a package
installed at another version than its pin, a pin that nothing needs any more.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "constraints.txt"
#: The extras of sendwatch the lock covers (pip install -e '.[test]').
EXTRAS = ("test",)


def pyproject_requirements() -> list[Requirement]:
    """The runtime dependencies and those of the extras the lock covers, as pyproject names them."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in EXTRAS:
        wanted += project["optional-dependencies"][extra]
    return [Requirement(text) for text in wanted]


def lock_lines() -> list[Requirement]:
    """Every pin in the lock, each `name==version` (comments and blank lines left out)."""
    lines = (line.split("#", 1)[0].strip() for line in LOCK.read_text().splitlines())
    return [Requirement(line) for line in lines if line]


def lock_header_command() -> str:
    """The command that made the lock, as its header says (uv writes it there)."""
    found = re.search(r"^#\s+(uv pip compile .+)$", LOCK.read_text(), re.MULTILINE)
    assert found, "constraints.txt has no header naming the command that made it"
    return found.group(1).strip()


def lock_environment() -> dict[str, str]:
    """The environment markers the lock was resolved for: this one, at the lock's Python (its
    header's --python-version, the oldest Python sendwatch supports)."""
    environment = dict(default_environment())
    found = re.search(r"--python-version\s+(\d+\.\d+)", lock_header_command())
    if found:
        environment |= {"python_version": found.group(1), "python_full_version": found.group(1)}
    return environment


def pins(environment: Mapping[str, str]) -> dict[NormalizedName, Version]:
    """The lock's pins that apply in `environment`, by normalised name."""
    pinned: dict[NormalizedName, Version] = {}
    for requirement in lock_lines():
        (specifier,) = requirement.specifier  # exactly one, and it is ==
        assert specifier.operator == "==", f"{requirement} is not an exact pin"
        if requirement.marker is None or requirement.marker.evaluate(dict(environment)):
            pinned[canonicalize_name(requirement.name)] = Version(specifier.version)
    return pinned


def _applies(
    requirement: Requirement, environment: Mapping[str, str], extras: Iterable[str]
) -> bool:
    """Whether `requirement` is needed in `environment`, its parent installed with `extras`."""
    if requirement.marker is None:
        return True
    return any(
        requirement.marker.evaluate({**environment, "extra": extra}) for extra in ("", *extras)
    )


def needed(
    roots: Iterable[Requirement], here: Mapping[str, str], locked_for: Mapping[str, str]
) -> tuple[set[NormalizedName], set[NormalizedName]]:
    """Every package the roots need, following each installed package's own requirements (with
    the extras asked of it): those needed in this environment, and those needed in the one the
    lock was made for. Both walks read the installed metadata, which is the pinned versions'
    once the pins are installed."""
    needed_here: set[NormalizedName] = set()
    needed_by_lock: set[NormalizedName] = set()
    todo = [(root, frozenset[str](), True, True) for root in roots]
    seen: set[tuple[NormalizedName, frozenset[str], bool, bool]] = set()
    while todo:
        requirement, parent_extras, via_here, via_lock = todo.pop()
        is_here = via_here and _applies(requirement, here, parent_extras)
        is_lock = via_lock and _applies(requirement, locked_for, parent_extras)
        name = canonicalize_name(requirement.name)
        key = (name, frozenset(requirement.extras), is_here, is_lock)
        if not (is_here or is_lock) or key in seen:
            continue
        seen.add(key)
        if is_here:
            needed_here.add(name)
        if is_lock:
            needed_by_lock.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # not installed: said by the test of what is installed
        extras = frozenset(requirement.extras)
        todo += [(Requirement(text), extras, is_here, is_lock) for text in requires]
    return needed_here, needed_by_lock


def installed_version(name: str) -> Version | None:
    try:
        return Version(metadata.version(name))
    except metadata.PackageNotFoundError:
        return None


def test_every_requirement_of_pyproject_is_pinned() -> None:
    pinned = pins(lock_environment())
    missing = [str(r) for r in pyproject_requirements() if canonicalize_name(r.name) not in pinned]
    assert not missing, f"not in constraints.txt (make the lock again, see its header): {missing}"


def test_every_pin_is_within_pyprojects_range() -> None:
    pinned = pins(lock_environment())
    outside = [
        f"{requirement} but the lock pins {pinned[name]}"
        for requirement in pyproject_requirements()
        if (name := canonicalize_name(requirement.name)) in pinned
        and not requirement.specifier.contains(pinned[name], prereleases=True)
    ]
    assert not outside, f"constraints.txt is stale (make the lock again): {outside}"


def test_the_lock_lists_each_package_once_and_nothing_else() -> None:
    names = [canonicalize_name(r.name) for r in lock_lines() if r.marker is None]
    assert len(names) == len(set(names)), "a package pinned twice"
    assert all(not r.extras and not r.url for r in lock_lines()), "pip -c takes plain pins only"
    assert canonicalize_name("sendwatch") not in names


def test_what_is_installed_is_exactly_what_the_lock_pins() -> None:
    here = dict(default_environment())
    locked_for = lock_environment()
    pinned_here, pinned_for_lock = pins(here), pins(locked_for)
    needed_here, needed_by_lock = needed(pyproject_requirements(), here, locked_for)

    unpinned = sorted(needed_here - pinned_here.keys())
    assert not unpinned, f"installed but not in constraints.txt (a stale lock): {unpinned}"
    wrong = {
        name: f"pinned {pinned_here[name]}, installed {installed_version(name)}"
        for name in sorted(needed_here)
        if installed_version(name) != pinned_here[name]
    }
    assert not wrong, (
        f"this environment is not the lock's (pip install -c constraints.txt): {wrong}"
    )
    # Nothing pinned that nothing needs: a package dropped from pyproject leaves the lock too.
    unneeded = sorted(pinned_for_lock.keys() - needed_by_lock)
    assert not unneeded, f"pinned but needed by nothing (a stale lock): {unneeded}"


def test_the_readme_gives_the_one_command_that_makes_the_lock() -> None:
    readme = (ROOT / "README.md").read_text()
    assert f"```sh\n{lock_header_command()}\n```" in readme
