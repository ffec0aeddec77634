"""Fuzzing what a crawl reads: mutated bytes of every kind of document the sources publish (a
report PDF, a statistics ODS, an article's HTML, a GOV.UK Content API item, a ModernGov web
service answer), through `sendwatch extract`'s path, always give a result or one clear error,
inside the parsing limits; never another exception, never a hang."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawler.bounded import BoundedParser, limits_of
from crawler.files import extract_path
from sendwatch.errors import SendwatchError
from tests.fixtures.statistics.make_ods import FRAMEWORK_2016_FILE, write_spreadsheets
from tests.paths import fixture

LIMITS = limits_of(memory_mb=256, seconds=20)
SOURCES = {
    "report.pdf": "ofsted/files/50240360.pdf",
    "article.html": "lgl/articles/57253.html",
    "notice.json": "govuk/content/improvement-notice-issued-to-london-borough-of-bexley-may-2024.json",
    "meeting.xml": "moderngov/worcestershire/GetMeeting-5001.xml",
}


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    made = tmp_path_factory.mktemp("ods")
    write_spreadsheets(made)
    found = {name: fixture(relative).read_bytes() for name, relative in SOURCES.items()}
    return found | {"release.ods": (made / FRAMEWORK_2016_FILE).read_bytes()}


@pytest.fixture(scope="module")
def parser() -> Iterator[BoundedParser]:
    with BoundedParser(LIMITS) as bounded:
        yield bounded


#: A change to a document: overwrite, insert, delete or cut it short, at a point in it.
MUTATION = st.tuples(
    st.sampled_from(("overwrite", "insert", "delete", "truncate")),
    st.floats(min_value=0, max_value=1),
    st.binary(min_size=1, max_size=64),
)


def mutate(data: bytes, mutations: list[tuple[str, float, bytes]]) -> bytes:
    for operation, where, chunk in mutations:
        at = int(where * len(data))
        if operation == "overwrite":
            data = data[:at] + chunk + data[at + len(chunk) :]
        elif operation == "insert":
            data = data[:at] + chunk + data[at:]
        elif operation == "delete":
            data = data[:at] + data[at + len(chunk) :]
        else:
            data = data[:at]
    return data


@pytest.mark.parametrize("name", [*SOURCES, "release.ods"])
def test_mutated_documents_give_a_result_or_one_clear_error(
    name: str, originals: dict[str, bytes], parser: BoundedParser, tmp_path: Path
) -> None:
    path = tmp_path / name

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
        derandomize=True,
    )
    @given(st.lists(MUTATION, min_size=1, max_size=4))
    def extract_mutated(mutations: list[tuple[str, float, bytes]]) -> None:
        path.write_bytes(mutate(originals[name], mutations))
        started = time.monotonic()
        try:
            result = extract_path(path, url=None, parser=parser)
        except SendwatchError as exc:
            assert str(exc) and "\n" not in str(exc)
        else:
            assert isinstance(result, dict | list)
        assert time.monotonic() - started < LIMITS.seconds + 5

    extract_mutated()
