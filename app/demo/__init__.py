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
import logging
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from alerts.signing import KEY_FILE
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
            # Its email's unsubscribe link names the address `sendwatch serve` listens on; the
            # key it is signed with is made in the demo's own data directory, so serving that
            # directory (`--keep`, then the hint printed at the end) makes the link work.
            "alerts": {"public_url": f"http://{web.host}:{web.port}"},
            "secret_key": _demo_key(data_dir),
        }
    )


def _demo_key(data_dir: Path) -> str:
    """The demo's own signing key, kept in its data directory (owner-only) where `sendwatch
    serve` finds it when that directory is served."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    descriptor = os.open(data_dir / KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key)
    return key


def _child_env(data_dir: Path, site: FixtureSite) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    return env | {
        "SENDWATCH_DATA_DIR": str(data_dir),
        "SENDWATCH_CRAWLER_HOST_MAP": site.host_map,
        "SENDWATCH_CRAWLER_DOWNLOAD_DELAY": "0",
        "SENDWATCH_CRAWLER_RETRIES": "0",
        "SENDWATCH_LOG_LEVEL": "WARNING",
    }


@contextmanager
def _quiet() -> Iterator[None]:
    """The demo's output is its own steps: the mail server's chatter (aiosmtpd's `mail.log`),
    the dispatcher's and the migration's INFO lines are kept out, unless DEBUG was asked for."""
    root = logging.getLogger()
    mail = logging.getLogger("mail.log")
    levels = root.level, mail.level
    if root.getEffectiveLevel() > logging.DEBUG:
        root.setLevel(logging.WARNING)
        mail.setLevel(logging.WARNING)
    try:
        yield
    finally:
        root.setLevel(levels[0])
        mail.setLevel(levels[1])


def command_as_run() -> str:
    """The command as the user typed it (".venv/bin/sendwatch"), for the hints the demo prints."""
    typed = sys.argv[0] if sys.argv else ""
    return typed if Path(typed).name == "sendwatch" else "sendwatch"


def run_demo(loaded: LoadedConfig, say: Callable[[str], None], *, keep: bool = False) -> int:
    """Run the demo in a new directory, removed at the end unless `keep`; returns how many new
    events the sample publication made."""
    workdir = Path(tempfile.mkdtemp(prefix="sendwatch-demo-"))
    try:
        with _quiet():
            new = _demo(workdir, loaded, say, keep)
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return new


def _demo(workdir: Path, loaded: LoadedConfig, say: Callable[[str], None], keep: bool) -> int:
    from alerts.dispatch import Dispatcher, channels_for
    from alerts.feeds import write_feeds
    from storage.outbox import events, subscribe

    data_dir = workdir / "data"
    command = command_as_run()
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
            say(_shown(message, keep))
        feeds = data_dir / "feeds"
        count = write_feeds(settings, store, feeds)
        store.close()
    if keep:
        say(f"5/5 Wrote {count} feeds to {feeds} (all events: {feeds / 'all.atom'}).")
        web = loaded.settings.web
        say(
            f"Nothing real was touched. To browse the demo (its email's links work there):"
            f" SENDWATCH_DATA_DIR={data_dir} {command} serve --port {web.port}"
        )
    else:
        say(
            f"5/5 Wrote {count} feeds, then removed the demo's directory ({command} demo --keep"
            " keeps it, to browse)."
        )
        say("Nothing real was touched.")
    say(f"Then, for real: `{command} status`, `{command} subscribe email YOUR-ADDRESS`.")
    return len(new)


def _shown(message: Any, keep: bool) -> str:
    """The email as delivered; its unsubscribe link only where it can work (the demo's
    directory kept, to be served), not a link that answers 404."""
    body = message.get_body(("plain",))
    text = body.get_content() if body is not None else ""
    if not keep:
        text = "\n".join(
            line
            if not line.startswith("Unsubscribe: ")
            else "Unsubscribe: (a link of the demo's own, shown with --keep)"
            for line in text.splitlines()
        )
    indented = "    " + text.strip().replace("\n", "\n    ")
    return f"\n    To: {message['To']}\n    Subject: {message['Subject']}\n\n{indented}\n"
