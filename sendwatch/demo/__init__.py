"""`sendwatch demo`: the whole product, offline, in under a minute.

A local stand-in for the three sources serves bundled sample pages on 127.0.0.1.
The spiders crawl it into the configured store (the first crawl is the baseline:
recorded, alerting nobody); then the sample DfE site publishes a new improvement
notice, GOV.UK is crawled again, and that one alert is shown here and delivered
like any other (to the subscriptions in this store, by email or Telegram where
those are configured); the feeds are written. Run again, it finds nothing new.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

from sendwatch.config import LoadedConfig
from sendwatch.demo.site import GOVUK, SAMPLES, FixtureSite, publish_sample_notice, serve
from storage.models import Event
from storage.store import Store

SOURCES = ("govuk", "ofsted", "lgl")


def _crawl(loaded: LoadedConfig, source: str, env: dict[str, str]) -> str:
    from scheduler import sendwatch_command

    result = subprocess.run(
        sendwatch_command(loaded, "crawl", source),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = result.stdout.strip().splitlines()
    return lines[-1] if lines else f"source={source} failed: {result.stderr.strip()[-300:]}"


def _newest_event(store: Store) -> int:
    with store.sessions() as session:
        return session.scalar(select(func.max(Event.id))) or 0


def run_demo(loaded: LoadedConfig, say: Callable[[str], None]) -> int:
    """Run the demo; returns how many new events the sample publication made (0 on a re-run)."""
    from alerts.dispatch import Dispatcher, channels_for
    from alerts.feeds import write_feeds
    from alerts.render import render_text
    from alerts.summary import summarise
    from storage.outbox import events

    settings = loaded.settings
    store = Store(settings.effective_database_url)
    store.upgrade()
    with tempfile.TemporaryDirectory(prefix="sendwatch-demo-") as scratch:
        root = Path(scratch) / "site"
        shutil.copytree(SAMPLES, root)
        with serve(FixtureSite(root=root)) as site:
            env = dict(os.environ) | {
                "SENDWATCH_CRAWLER_DOWNLOAD_DELAY": "0",
                "SENDWATCH_CRAWLER_RETRIES": "0",
                "SENDWATCH_CRAWLER_HOST_MAP": site.host_map,
                **{f"SENDWATCH_SOURCES_{s.upper()}_ENABLED": "true" for s in SOURCES},
            }
            say(
                "Sample GOV.UK, Ofsted and Local Government Lawyer sites on"
                f" {site.urls[GOVUK].rsplit(':', 1)[0]} ([crawler] host_map)"
            )
            say("1/4 First crawl (a store's first crawl is the baseline: recorded, alerts nobody)")
            for source in SOURCES:
                say(f"    {_crawl(loaded, source, env)}")
            before = _newest_event(store)
            say("2/4 The sample DfE site publishes a new SEND improvement notice")
            publish_sample_notice(root, dt.date.today().isoformat())
            say("3/4 Crawling GOV.UK again")
            say(f"    {_crawl(loaded, 'govuk', env)}")
    new = [event for event in events(store, limit=20) if event.id > before]
    if not new:
        say("    Nothing new: this store has already seen the sample notice.")
    for event in new:
        say("\n    " + render_text(summarise(event)).replace("\n", "\n    ") + "\n")
    say("4/4 Delivering alerts to this store's subscriptions")
    report = Dispatcher(settings, store, channels_for(settings)).run_once()
    say(f"    {report.line()}")
    feeds = Path(settings.data_dir) / "feeds"
    count = write_feeds(settings, store, feeds)
    say(f"\nWrote {count} feeds to {feeds} (all events: {feeds / 'all.atom'}).")
    say(
        f"Serve them with `sendwatch serve`: http://{settings.web.host}:{settings.web.port}/feeds/all.atom"
    )
    say(
        "`sendwatch status` shows the sources; `sendwatch subscribe email you@example.org` adds you."
    )
    store.close()
    return len(new)
