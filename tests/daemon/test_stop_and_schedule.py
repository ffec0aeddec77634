"""SIGTERM stops `sendwatch run` within seconds with crawls in flight, recording no failure; and
the store is the schedule: what `sendwatch status` shows as the next run is when a restarted
daemon crawls, no sooner (at once only for a crawl that was stopped before it finished)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

from sqlalchemy import select

from app.demo.site import HOSTS, FixtureSite
from storage.models import Alarm, SourceState
from storage.store import Store
from tests.daemon.test_daemon import DISPATCHED, MODERNGOV_COUNCILS, Daemon, until
from tests.paths import COMMAND, free_port, silent_server

SOURCES = ("govuk", "ofsted", "lgl", "moderngov", "statistics", "ombudsman")
#: "2026-12-07 17:13 UTC": every time the daemon logs and `status` shows.
MOMENT = r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"


def environment(tmp_path: Path, host_map: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    env |= {
        "SENDWATCH_DATA_DIR": str(tmp_path / "data"),
        "SENDWATCH_CRAWLER_HOST_MAP": host_map,
        "SENDWATCH_CRAWLER_DOWNLOAD_DELAY": "0",
        "SENDWATCH_CRAWLER_RETRIES": "0",
        "SENDWATCH_CRAWLER_TIMEOUT_SECONDS": "30",
        "SENDWATCH_CRAWLER_START_STAGGER_SECONDS": "0.2",
        "SENDWATCH_SOURCES_MODERNGOV_COUNCILS": MODERNGOV_COUNCILS,
        "SENDWATCH_ALERTS_DISPATCH_INTERVAL_SECONDS": "1",
        # Another part of the daemon serves the web pages; not these tests' business.
        "SENDWATCH_WEB_ENABLED": "false",
        "SENDWATCH_WEB_PORT": str(free_port()),
    }
    for source in SOURCES:
        env[f"SENDWATCH_SOURCES_{source.upper()}_INTERVAL_MINUTES"] = "60"
    return env


def _store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'data' / 'sendwatch.db'}")
    store.upgrade()
    return store


def next_runs(tmp_path: Path, env: dict[str, str]) -> dict[str, str]:
    """Each source's NEXT_RUN, as `sendwatch status` prints it."""
    status = subprocess.run(
        [*COMMAND, "status"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert status.returncode == 0, status.stderr
    header, *rows = status.stdout.splitlines()
    column = re.split(r"\s{2,}", header).index("NEXT_RUN")
    runs = {}
    for row in rows[: len(SOURCES)]:
        cells = re.split(r"\s{2,}", row)
        runs[cells[0]] = cells[column]
    return runs


def test_sigterm_stops_the_daemon_with_crawls_in_flight_and_records_no_failure(
    tmp_path: Path,
) -> None:
    with silent_server() as silent:  # every site accepts the connection and never answers
        env = environment(tmp_path, ",".join(f"{host}={silent.url}" for host in HOSTS))
        daemon = Daemon(tmp_path, env).start()
        try:
            until(
                lambda: (
                    all(daemon.count(f"crawl {source}: started") for source in SOURCES)
                    and silent.accepted >= len(SOURCES)
                ),
                60,
                "every source's crawl to be waiting on the site",
            )
            daemon.signal(signal.SIGTERM)
            started = time.monotonic()
            assert daemon.wait(timeout=15) == 0
            stopped_in = time.monotonic() - started
        finally:
            daemon.kill()
    log = daemon.log.read_text()
    assert stopped_in < 15, log
    assert "Traceback" not in log
    store = _store(tmp_path)
    with store.sessions() as session:
        states = session.scalars(select(SourceState)).all()
        assert {state.source for state in states} == set(SOURCES)  # each one's plan is kept
        # Stopped, not failed: no result, no failure counted, no alarm.
        assert [(s.source, s.last_result, s.consecutive_failures) for s in states] == [
            (s.source, None, 0) for s in states
        ]
        assert session.scalars(select(Alarm)).all() == []
    store.close()

    # A crawl stopped before it finished is due: status says so, and a restart crawls it; and
    # Ctrl-C (SIGINT) stops that one as SIGTERM did.
    now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(time.time() + 60))
    assert all(when <= now for when in next_runs(tmp_path, env).values())
    with silent_server() as silent:
        env["SENDWATCH_CRAWLER_HOST_MAP"] = ",".join(f"{host}={silent.url}" for host in HOSTS)
        again = Daemon(tmp_path, env)
        before = again.count("crawl govuk: started")
        again.start()
        try:
            until(
                lambda: again.count("crawl govuk: started") > before and silent.accepted,
                60,
                "the crawl at once, waiting on the site",
            )
        finally:
            again.signal(signal.SIGINT)
            assert again.wait(timeout=15) == 0
    store = _store(tmp_path)
    with store.sessions() as session:
        assert [s.consecutive_failures for s in session.scalars(select(SourceState))] == [0] * len(
            SOURCES
        )
    store.close()


def test_a_restart_crawls_when_status_says_no_sooner(tmp_path: Path, site: FixtureSite) -> None:
    env = environment(tmp_path, site.host_map)
    store = _store(tmp_path)
    daemon = Daemon(tmp_path, env).start()
    try:
        until(
            lambda: all(daemon.count(f"source {source}: next at ") for source in SOURCES),
            90,
            "every source crawled once, and its next run planned",
        )
        planned = {
            source: re.findall(rf"source {source}: next at ({MOMENT})", daemon.log.read_text())[-1]
            for source in SOURCES
        }
        # What the daemon planned is what status shows: an hour on, with its date and zone.
        assert next_runs(tmp_path, env) == planned
    finally:
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(timeout=15) == 0
    crawls = {source: daemon.count(f"crawl {source}: started") for source in SOURCES}
    assert crawls == {source: 1 for source in SOURCES}

    again = Daemon(tmp_path, env).start()
    try:
        again.await_more(DISPATCHED, 3, 30)  # the daemon has run a while: nothing was crawled
        assert {source: again.count(f"crawl {source}: started") for source in SOURCES} == crawls
        log = again.log.read_text()
        for source in SOURCES:
            # The restart's schedule is the one status showed.
            assert (
                re.findall(rf"source {source}: .* next at ({MOMENT})", log)[-1] == (planned[source])
            )
        assert next_runs(tmp_path, env) == planned
    finally:
        again.signal(signal.SIGTERM)
        assert again.wait(timeout=15) == 0
    store.close()
