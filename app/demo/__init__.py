"""`sendwatch demo`: the whole product, offline, in under a minute, touching nothing real.

A local stand-in for the three sources serves bundled sample pages on 127.0.0.1.
The spiders crawl it into a store of the demo's own, in a new directory (the first
crawl is the baseline: recorded, alerting nobody); a demo subscriber signs up; the
sample DfE site publishes a new improvement notice; GOV.UK is crawled again; and that
one alert is delivered by email to a mail server the demo runs itself on 127.0.0.1,
and printed. The configured store, its subscribers and its sources' state are never
opened: a fictional notice must not reach a real person or spoil a real baseline.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

from app.demo.sink import smtp_sink
from app.demo.site import GOVUK, SAMPLES, FixtureSite, publish_sample_notice, serve
from sendwatch.config import LoadedConfig, Settings
from storage.models import Event
from storage.store import Store

SOURCES = ("govuk", "ofsted", "lgl")
DEMO_ADDRESS = "you@example.org"  # reserved for examples (RFC 2606): no one gets it
FROM_ADDRESS = "sendwatch-demo@example.org"


def _crawl(source: str, env: dict[str, str], cwd: Path) -> str:
    # No --config and a fresh working directory: the user's configuration never applies.
    result = subprocess.run(
        [sys.executable, "-m", "app", "crawl", source],
        env=env,
        cwd=cwd,
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


def _demo_settings(data_dir: Path, smtp_port: int, loaded: LoadedConfig) -> Settings:
    web = loaded.settings.web
    return Settings.model_validate(
        {
            "data_dir": data_dir,
            "smtp": {
                "host": "127.0.0.1",
                "port": smtp_port,
                "security": "none",
                "from_address": FROM_ADDRESS,
            },
            "alerts": {"public_url": f"http://{web.host}:{web.port}"},
            # The demo's own key: unsubscribe links in its email are signed with it.
            "secret_key": secrets.token_hex(32),
        }
    )


def _child_env(data_dir: Path, site: FixtureSite) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    return env | {
        "SENDWATCH_DATA_DIR": str(data_dir),
        "SENDWATCH_CRAWLER_HOST_MAP": site.host_map,
        "SENDWATCH_CRAWLER_DOWNLOAD_DELAY": "0",
        "SENDWATCH_CRAWLER_RETRIES": "0",
        "SENDWATCH_LOG_LEVEL": "WARNING",
    }


def run_demo(loaded: LoadedConfig, say: Callable[[str], None]) -> int:
    """Run the demo in a new directory; returns how many new events the sample publication made."""
    from alerts.dispatch import Dispatcher, channels_for
    from alerts.feeds import write_feeds
    from storage.outbox import events, subscribe

    workdir = Path(tempfile.mkdtemp(prefix="sendwatch-demo-"))
    data_dir = workdir / "data"
    # The samples as bundled, under a folder of the demo's own for what it publishes.
    with serve(FixtureSite(roots=(workdir / "site", SAMPLES))) as site, smtp_sink() as sink:
        settings = _demo_settings(data_dir, sink.port, loaded)
        store = Store(settings.effective_database_url)
        store.upgrade()
        env = _child_env(data_dir, site)
        say(
            "Sample GOV.UK, Ofsted and Local Government Lawyer sites on"
            f" {site.urls[GOVUK].rsplit(':', 1)[0]}; a store of the demo's own in {data_dir}"
        )
        say("1/5 First crawl (a store's first crawl is the baseline: recorded, alerts nobody)")
        for source in SOURCES:
            say(f"    {_crawl(source, env, workdir)}")
        say(f"2/5 {DEMO_ADDRESS} subscribes to email alerts")
        subscribe(store, "email", DEMO_ADDRESS)
        before = _newest_event(store)
        say("3/5 The sample DfE site publishes a new SEND improvement notice; GOV.UK is crawled")
        publish_sample_notice(site, dt.date.today().isoformat())
        say(f"    {_crawl('govuk', env, workdir)}")
        new = [event for event in events(store, limit=20) if event.id > before]
        say("4/5 Delivering the alert (to a mail server the demo runs on 127.0.0.1)")
        report = Dispatcher(settings, store, channels_for(settings)).run_once()
        say(f"    {report.line()}")
        for message in sink.messages:
            body = message.get_body(("plain",))
            text = body.get_content() if body is not None else ""
            say(f"\n    To: {message['To']}\n    Subject: {message['Subject']}\n")
            say("    " + text.strip().replace("\n", "\n    ") + "\n")
        feeds = data_dir / "feeds"
        count = write_feeds(settings, store, feeds)
        store.close()
    say(f"5/5 Wrote {count} feeds to {feeds} (all events: {feeds / 'all.atom'}).")
    say(
        f"Nothing real was touched. To browse the demo: SENDWATCH_DATA_DIR={data_dir}"
        " sendwatch serve"
    )
    say("Then, for real: `sendwatch status`, `sendwatch subscribe email YOUR-ADDRESS`.")
    return len(new)
