"""Poll cost: requests and time of a first crawl vs a second one when nothing changed.

    python benchmarks/poll_cost.py

A local site with 500 notices, reports and articles across the three sources.
Target: the second crawl makes at most 5% of the first's requests, and fetches no
notice, article or PDF.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from _common import crawl, env_for, final, synthetic_site

from app.demo.site import FixtureSite, serve

DETAIL = (
    "/api/content/government/publications/",
    "/v1/file/",
    "/education-law/394-education-news/",
)


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "site"
        synthetic_site(root, notices=150, providers=150, articles=200)
        with serve(FixtureSite(roots=(root,))) as site:
            env = env_for(Path(scratch) / "data", site.host_map)
            runs = []
            for label in ("first", "second"):
                before = len(site.requests)
                started = time.perf_counter()
                found = crawl(("govuk", "ofsted", "lgl"), env)
                elapsed = time.perf_counter() - started
                paths = [s.path for s in site.requests[before:] if s.path != "/robots.txt"]
                details = sum(path.startswith(DETAIL) for path in paths)
                new = sum(int(counts["new"]) for counts in found.values())
                print(
                    f"{label}: {len(paths)} requests ({details} detail pages/PDFs), {elapsed:.1f} s, {new} new findings"
                )
                runs.append((len(paths), details, elapsed, new))
    (first, _first_details, first_s, first_new), (second, second_details, second_s, _) = runs
    final(
        requests_first=first,
        requests_second=second,
        ratio=second / first,
        detail_fetches_second=second_details,
        seconds_first=first_s,
        seconds_second=second_s,
        findings_first=first_new,
    )


if __name__ == "__main__":
    main()
