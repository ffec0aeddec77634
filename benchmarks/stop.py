"""Stop time: how long `sendwatch run` takes to exit after SIGTERM with every crawl in flight.

    python benchmarks/stop.py [--runs 3]

Every site (GOV.UK, Ofsted, Local Government Lawyer, each council's ModernGov site) is one
local server that accepts each connection and never answers, so each source's crawl child
waits on it; once all five are waiting, the daemon (serving its web pages, as by default)
is sent SIGTERM and timed until it exits. Target: <= 5 s (the crawl children close for 2 s, and are killed 3 s after SIGTERM).
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from _common import SENDWATCH, env_for, final, median

from app.demo.site import HOSTS
from crawler.spiders.moderngov import polled_sites
from tests.paths import SilentServer, free_port, silent_server

SOURCES = ("govuk", "ofsted", "lgl", "moderngov", "statistics")


def stop_once(scratch: Path, silent: SilentServer) -> tuple[float, int]:
    """One daemon started, its crawls left waiting on the silent site, then SIGTERM: seconds
    until it exited, and how many crawl children it had to kill."""
    councils = {urlsplit(url).hostname or "" for url in polled_sites({}, []).values()}
    host_map = ",".join(f"{host}={silent.url}" for host in sorted({*HOSTS, *councils} - {""}))
    env = env_for(
        scratch / "data",
        host_map,
        SENDWATCH_LOG_LEVEL="INFO",
        SENDWATCH_SOURCES_MODERNGOV_ENABLED="true",
        SENDWATCH_SOURCES_STATISTICS_ENABLED="true",
        SENDWATCH_CRAWLER_START_STAGGER_SECONDS="0",
        # The web pages served as by default, on a port of their own: stopped with the rest.
        SENDWATCH_WEB_PORT=str(free_port()),
    )
    log = scratch / "daemon.log"
    log.unlink(missing_ok=True)
    with log.open("wb") as handle:
        daemon = subprocess.Popen(
            [*SENDWATCH, "run"], env=env, cwd=scratch, stdout=handle, stderr=handle
        )
    try:
        accepted = silent.accepted
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            text = log.read_text(errors="replace")
            started = all(f"crawl {source}: started" in text for source in SOURCES)
            if started and silent.accepted - accepted >= len(SOURCES):
                break
            time.sleep(0.2)
        else:
            raise SystemExit(f"the crawls never got under way:\n{log.read_text()[-2000:]}")
        time.sleep(1)  # well under way: each crawl waits on its site
        daemon.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        code = daemon.wait(timeout=60)
        seconds = time.monotonic() - sent
    finally:
        if daemon.poll() is None:
            daemon.kill()
    text = log.read_text(errors="replace")
    if code != 0:
        raise SystemExit(f"sendwatch run exited {code}:\n{text[-2000:]}")
    return seconds, text.count("after SIGTERM; killed")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    times, killed = [], 0
    with tempfile.TemporaryDirectory() as scratch, silent_server() as silent:
        for run in range(1, runs + 1):
            seconds, kills = stop_once(Path(scratch), silent)
            times.append(seconds)
            killed += kills
            print(f"run {run}: stopped in {seconds:.2f} s, {kills} crawls killed", flush=True)
    final(stop_seconds=median(times), max_seconds=max(times), runs=runs, crawls_killed=killed)


if __name__ == "__main__":
    main()
