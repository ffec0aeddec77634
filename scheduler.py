"""The sendwatch daemon: applies migrations, then runs the scheduled jobs until told to stop.

Crawls, deliveries and the digest are added as jobs by later work; this module is
where they are scheduled, so the crawler, store and alerts never schedule
themselves. Run it as ``sendwatch run`` or ``python scheduler.py``.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler

from sendwatch.config import LoadedConfig, load_config
from sendwatch.errors import SendwatchError
from sendwatch.logs import setup_logging
from storage.store import Store

log = logging.getLogger("sendwatch.scheduler")


def build_scheduler() -> BackgroundScheduler:
    """A scheduler whose jobs never pile up: one instance each, a missed run runs once."""
    return BackgroundScheduler(
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 600},
        timezone="UTC",
    )


def run(loaded: LoadedConfig) -> int:
    """Start the daemon; returns the exit code once stopped by SIGTERM or SIGINT."""
    settings = loaded.settings
    store = Store(settings.effective_database_url)
    store.upgrade()
    log.info("store ready at %s", store.engine.url.render_as_string(hide_password=True))
    for name, source in settings.sources:
        if source.enabled:
            log.info(
                "source %s enabled: %s every %d min", name, source.base_url, source.interval_minutes
            )
    stopping = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        # Only set a flag here: a signal can arrive at any point of start-up.
        log.info("received %s, stopping", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    scheduler = build_scheduler()
    scheduler.start()
    log.info("sendwatch running; no jobs are scheduled yet (crawling arrives with the crawler)")
    try:
        stopping.wait()
    finally:
        scheduler.shutdown(wait=True)  # lets running jobs finish
        store.close()
    log.info("stopped")
    return 0


def main() -> int:
    try:
        loaded = load_config()
        setup_logging(loaded.settings.log_level, loaded.settings)
        return run(loaded)
    except SendwatchError as exc:
        print(f"sendwatch: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
