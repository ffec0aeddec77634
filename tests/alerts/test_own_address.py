"""sendwatch's own address, one rule (`Settings.own_url`): `[alerts] public_url` when set, else the
address `sendwatch serve` listens on; never the Host a request names.

Against a real `sendwatch serve` on a free port: feeds parsed by feedparser, calendars by
icalendar, the sign-up email received by a real SMTP server, the bot against the Bot API
stand-in.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import feedparser
import httpx
from icalendar import Calendar

from alerts.dispatch import Dispatcher, channels_for
from storage import outbox
from storage.store import Store
from tests.alerts.conftest import Mailbox, alert_settings
from tests.alerts.telegram_standin import bot_process, running
from tests.alerts.test_due import seed
from tests.alerts.test_email_dispatch import BEXLEY, WIRRAL, notice
from tests.paths import free_port, serving

PUBLIC = "https://sendwatch.example.org"
FORGED = "forged.example"
#: What a feed reader, a calendar app or a browser is given to keep: each must be the same
#: whoever asks.
ADDRESSED = (
    "/feeds/all.atom",
    "/feeds/all.rss",
    "/feeds/la/bexley.atom",
    "/feeds/region/london.rss",
    "/feeds/kind/improvement_notice.atom",
    "/calendar/all.ics",
    "/calendar/la/bexley.ics",
)
PAGES = ("/feeds", "/", "/la/bexley", "/recent")


def _env(
    tmp_path: Path, database_url: str, public_url: str | None = None, smtp_port: int | None = None
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    env |= {
        "SENDWATCH_DATABASE_URL": database_url,
        "SENDWATCH_DATA_DIR": str(tmp_path / "data"),
        "SENDWATCH_SECRET_KEY": "a test key, long enough to sign links",
    }
    if public_url is not None:
        env["SENDWATCH_ALERTS_PUBLIC_URL"] = public_url
    if smtp_port is not None:
        env |= {
            "SENDWATCH_SMTP_HOST": "127.0.0.1",
            "SENDWATCH_SMTP_PORT": str(smtp_port),
            "SENDWATCH_SMTP_SECURITY": "none",
            "SENDWATCH_SMTP_FROM_ADDRESS": "alerts@sendwatch.test",
        }
    return env


@contextmanager
def _serve(env: dict[str, str], cwd: Path) -> Iterator[str]:
    with serving(free_port(), env, cwd) as base:
        yield base


def _links(base: str) -> tuple[dict[str, str], list[str], set[str]]:
    """Bexley's Atom feed's self and alternate links, its entries' ids, and its calendar's
    entries' URLs and UIDs' hosts, as served at `base`."""
    atom = feedparser.parse(httpx.get(f"{base}/feeds/la/bexley.atom").content)
    assert atom.bozo == 0 and atom.entries
    links = {link.rel: link.href for link in atom.feed.links}
    calendar = Calendar.from_ical(httpx.get(f"{base}/calendar/la/bexley.ics").content)
    entries = calendar.walk("VEVENT")
    assert entries
    ids = [entry.id for entry in atom.entries]
    urls = {str(entry["URL"]) for entry in entries}
    hosts = {str(entry["UID"]).rsplit("@", 1)[1] for entry in entries}
    return links, ids, urls | {f"uid@{host}" for host in hosts}


def test_unset_public_url_names_the_address_served_on(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    seed(store)
    with _serve(_env(tmp_path, database_url), tmp_path) as base:
        links, ids, calendar = _links(base)
        assert links == {"self": f"{base}/feeds/la/bexley.atom", "alternate": f"{base}/la/bexley"}
        assert all(entry_id.startswith("tag:127.0.0.1,2024:event/") for entry_id in ids)
        assert calendar == {f"{base}/la/bexley", "uid@127.0.0.1"}
        rss = feedparser.parse(httpx.get(f"{base}/feeds/all.rss").content)
        assert rss.feed.link == f"{base}/"
        feeds_page = httpx.get(f"{base}/feeds").text
        assert f'href="{base}/feeds/all.atom"' in feeds_page
        assert f'href="{base}/calendar/la/bexley.ics"' in feeds_page


def test_a_forged_host_never_appears_in_a_body(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    seed(store)
    with _serve(_env(tmp_path, database_url), tmp_path) as base:
        port = base.rsplit(":", 1)[1]
        for host in (FORGED, f"{FORGED}:{port}", f"localhost:{port}"):
            forged = {"Host": host, "X-Forwarded-Host": FORGED}
            for path in ADDRESSED:
                honest = httpx.get(base + path)
                lied_to = httpx.get(base + path, headers=forged)
                # The same bytes whoever asks: a cache may keep them for everyone.
                assert lied_to.content == honest.content, (host, path)
                assert honest.headers["etag"] == lied_to.headers["etag"], (host, path)
            for path in PAGES:
                body = httpx.get(base + path, headers=forged).text
                assert FORGED not in body and "localhost" not in body, (host, path)


def test_public_url_set_is_named_everywhere(
    tmp_path: Path, database_url: str, store: Store, mailbox: Mailbox
) -> None:
    seed(store)
    env = _env(tmp_path, database_url, f"{PUBLIC}/", mailbox.port)
    with _serve(env, tmp_path) as base:
        links, ids, calendar = _links(base)
        assert links == {
            "self": f"{PUBLIC}/feeds/la/bexley.atom",
            "alternate": f"{PUBLIC}/la/bexley",
        }
        assert all(entry_id.startswith("tag:sendwatch.example.org,2024:") for entry_id in ids)
        assert calendar == {f"{PUBLIC}/la/bexley", "uid@sendwatch.example.org"}
        for path in (*ADDRESSED, *PAGES):
            body = httpx.get(base + path, headers={"Host": FORGED}).text
            assert base.removeprefix("http://") not in body and FORGED not in body, path
        feeds_page = httpx.get(f"{base}/feeds").text
        addresses = re.findall(r'href="(https?://[^"]+/(?:feeds|calendar)/[^"]+)"', feeds_page)
        assert addresses and all(address.startswith(f"{PUBLIC}/") for address in addresses)

        # The sign-up confirmation link.
        with httpx.Client(base_url=base) as client:
            form = client.get("/la/bexley").text
            token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
            answer = client.post(
                "/subscribe", data={"email": "parent@example.org", "csrf": token, "la": "bexley"}
            )
            assert answer.status_code == 200
    (email,) = mailbox.to("parent@example.org")
    assert f"Confirm here: {PUBLIC}/confirm/" in email.get_body(("plain",)).get_content()


def test_an_email_s_unsubscribe_link_is_on_the_same_address(
    tmp_path: Path, store: Store, mailbox: Mailbox
) -> None:
    """The dispatcher listens on nothing: without public_url, `[web] host` and `port` say where
    `sendwatch serve` (or the daemon's web server) answers."""
    web_port = free_port()
    for public_url, council, expected in (
        ("", BEXLEY, f"http://127.0.0.1:{web_port}/unsubscribe/"),
        (PUBLIC, WIRRAL, f"{PUBLIC}/unsubscribe/"),
    ):
        settings = alert_settings(tmp_path, mailbox.port, public_url=public_url)
        settings = settings.model_copy(
            update={"web": settings.web.model_copy(update={"port": web_port})}
        )
        address = f"parent-of-{council}@example.org"
        outbox.subscribe(store, "email", address, la_codes=[council])
        store.record(notice(council, council))
        Dispatcher(settings, store, channels_for(settings)).run_once()
        (message,) = mailbox.to(address)
        assert message["List-Unsubscribe"].strip().strip("<>").startswith(expected)
        assert expected in message.get_body(("plain",)).get_content()


def test_the_bot_names_the_same_address(tmp_path: Path, database_url: str, store: Store) -> None:
    seed(store)
    env = _env(tmp_path, database_url, PUBLIC)
    with running() as standin, bot_process(standin, env, tmp_path, tmp_path / "bot.log"):
        standin.say(301, "/help")
        assert f"{PUBLIC}/feeds" in standin.wait_for(301, 1)[0]
        standin.say(301, "/status Bexley")
        assert standin.wait_for(301, 2)[1].splitlines()[-1] == f"More: {PUBLIC}/la/bexley"
