"""Crawl throughput: pages per second of a first crawl, against `scrapy bench` on the same machine.

    python benchmarks/crawl_throughput.py

Both run in this script, side by side; the figure is their ratio. Target: at least
50% of `scrapy bench`'s rate (we parse PDFs and record into the store; it only
follows links).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import crawl, env_for, final, median, synthetic_site

from app.demo.site import FixtureSite, serve

RUNS = 3


def ours() -> float:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "site"
        synthetic_site(root, notices=150, providers=150, articles=200)
        with serve(FixtureSite(roots=(root,))) as site:
            # A local site: as many requests in flight as Scrapy's own benchmark allows itself
            # would be unfair; 8 is what a mirror next door can take.
            env = env_for(Path(scratch) / "data", site.host_map, SENDWATCH_CRAWLER_CONCURRENCY="8")
            started = time.perf_counter()
            crawl(("govuk", "ofsted", "lgl"), env)  # the three sites at once, one process
            elapsed = time.perf_counter() - started
            pages = len([s for s in site.requests if s.path != "/robots.txt"])
    return pages / elapsed


def scrapy_bench() -> float:
    """`scrapy bench`'s pages per second (its own local server and link-following spider)."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "scrapy",
            "bench",
            "-s",
            "CLOSESPIDER_TIMEOUT=10",
            "-s",
            "LOG_LEVEL=INFO",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tempfile.gettempdir(),
    )
    rates = [
        float(rate)
        for rate in re.findall(r"Crawled \d+ pages \(at (\d+) pages/min\)", result.stderr)
    ]
    if not rates:
        raise SystemExit(f"scrapy bench printed no rate:\n{result.stderr[-2000:]}")
    return max(rates) / 60


def main() -> None:
    ours_rates, bench_rates = [], []
    for run in range(RUNS):
        ours_rates.append(ours())
        bench_rates.append(scrapy_bench())
        print(
            f"run {run + 1}: sendwatch {ours_rates[-1]:.0f} pages/s, scrapy bench {bench_rates[-1]:.0f} pages/s"
        )
    mine, theirs = median(ours_rates), median(bench_rates)
    final(pages_per_s=mine, scrapy_bench_pages_per_s=theirs, ratio=mine / theirs)


if __name__ == "__main__":
    main()
