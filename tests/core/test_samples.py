"""One copy of the sample pages: the package's (app/demo/files), served under a test's own.

The demo and the tests serve the same GOV.UK, Ofsted and Local Government Lawyer pages;
two copies of them drifted apart unseen, so tests/fixtures keeps only what the tests
alone need, and the fixture site lays a test's folders over the samples.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from app.demo.site import LGL, LGL_SECTION, FixtureSite
from tests.paths import FIXTURES, SAMPLES, fixture


def _files(root: Path) -> list[Path]:
    return sorted(
        path for path in root.rglob("*") if path.is_file() and "__pycache__" not in path.parts
    )


def test_no_test_fixture_is_a_copy_of_a_sample() -> None:
    """A page both use lives in the package alone: a second copy would drift from it."""
    samples = {hashlib.sha256(path.read_bytes()).hexdigest(): path for path in _files(SAMPLES)}
    assert samples  # the package's samples are where tests/paths.py says
    copies = [
        f"{path.relative_to(FIXTURES)} is {samples[digest].relative_to(SAMPLES)}"
        for path in _files(FIXTURES)
        if (digest := hashlib.sha256(path.read_bytes()).hexdigest()) in samples
    ]
    assert copies == [], "delete these from tests/fixtures: the package's copy is the one"


def test_a_test_finds_its_own_fixtures_and_the_samples() -> None:
    assert fixture("lgl/feed.xml") == SAMPLES / "lgl" / "feed.xml"
    assert fixture("statistics/search.json") == FIXTURES / "statistics" / "search.json"


def test_a_file_is_served_from_the_first_root_that_has_it(tmp_path: Path) -> None:
    own = tmp_path / "own"
    site = FixtureSite(roots=(own, FIXTURES, SAMPLES))
    feed = SAMPLES / "lgl" / "feed.xml"
    before = feed.read_bytes()

    def served() -> bytes:
        status, body, _ = site.answer(LGL, LGL_SECTION, {"format": ["feed"], "type": ["rss"]})
        assert status == 200
        return body

    assert site.file("lgl/feed.xml") == feed
    assert served() == before
    # An edit is a copy in the first root, over the sample, which stays as it was.
    edited = site.edit("lgl/feed.xml")
    assert (edited, edited.read_bytes()) == (own / "lgl" / "feed.xml", before)
    edited.write_bytes(b"<rss><channel></channel></rss>")
    assert served() == b"<rss><channel></channel></rss>"
    assert feed.read_bytes() == before
    # A file no root has is a 404, as on the real host.
    assert site.answer(LGL, f"{LGL_SECTION}/99999-not-here", {})[0] == 404
