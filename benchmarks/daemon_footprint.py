"""Daemon footprint: resident memory of `sendwatch run`, idle and after 50 crawl cycles.

    python benchmarks/daemon_footprint.py [--cycles 50]

The daemon crawls the three sources of a local site every 2 seconds (each crawl a
child process, as in production) and delivers; its own resident memory is read
from /proc. Targets: <= 150 MB idle; growth <= 10% over the cycles.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from _common import SENDWATCH, env_for, final, resident_mb, synthetic_site

from app.demo.site import FixtureSite, serve


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cycles", type=int, default=50)
    cycles = parser.parse_args().cycles
    interval = 2.0
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "site"
        synthetic_site(root, notices=50, providers=50, articles=50)
        with serve(FixtureSite(roots=(root,))) as site:
            env = env_for(Path(scratch) / "data", site.host_map, SENDWATCH_LOG_LEVEL="WARNING")
            for source in ("GOVUK", "OFSTED", "LGL"):
                env[f"SENDWATCH_SOURCES_{source}_INTERVAL_MINUTES"] = str(interval / 60)
            daemon = subprocess.Popen(
                [*SENDWATCH, "run"], env=env, cwd=scratch, stderr=subprocess.DEVNULL
            )
            try:
                time.sleep(3)  # started, migrated, before the crawls' findings pile up
                idle = resident_mb([daemon.pid])
                print(f"idle: {idle:.0f} MB")
                samples = []
                started = time.monotonic()
                for cycle in range(1, cycles + 1):
                    time.sleep(max(0.0, started + cycle * interval - time.monotonic()))
                    samples.append(resident_mb([daemon.pid]))
                    if cycle in (5, cycles):
                        print(f"after {cycle} cycles: {samples[-1]:.0f} MB")
                requests = len(site.requests)
            finally:
                daemon.send_signal(signal.SIGTERM)
                daemon.wait(timeout=30)
    early, late = samples[4], samples[-1]  # growth measured once the first cycles have warmed up
    final(
        idle_mb=idle,
        after_5_cycles_mb=early,
        after_cycles_mb=late,
        cycles=cycles,
        growth=(late - early) / early,
        requests=requests,
    )


if __name__ == "__main__":
    main()
