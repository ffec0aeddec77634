"""The README's Quick start, in spirit: `sendwatch run` on a fresh machine, with no configuration
at all, serves the pages, feeds and API at once (before anything is crawled), says where in one
line, says truly where events go, and stops on SIGTERM.

Offline: every host a source reads (GOV.UK, Ofsted, Local Government Lawyer, every council's
ModernGov site) is mapped onto a closed port on 127.0.0.1, and so is the proxy, so a request
that somehow escaped the map fails too. The one setting a test must change is the port, since
tests run side by side: 8080 is the default's, checked apart.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from alerts.channels import channel_problems
from app.daemon import channel_lines
from app.demo.site import HOSTS
from sendwatch.config import Settings, load_config
from storage.las import meeting_sites
from tests.daemon.test_daemon import Daemon, until
from tests.paths import free_port


def offline_env(tmp_path: Path) -> dict[str, str]:
    """No SENDWATCH_* setting but the port, and no way out to the network."""
    closed = f"http://127.0.0.1:{free_port()}"  # bound, then closed: nothing answers there
    councils = [urlsplit(site.base_url).hostname for site in meeting_sites().values()]
    hosts = {*HOSTS, *(host for host in councils if host)}
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    env |= {
        "SENDWATCH_CRAWLER_HOST_MAP": ",".join(f"{host}={closed}" for host in sorted(hosts)),
        "SENDWATCH_CRAWLER_RETRIES": "0",
        "SENDWATCH_WEB_PORT": str(free_port()),
        "https_proxy": closed,
        "http_proxy": closed,
        "no_proxy": "",
    }
    return env


def answer(url: str) -> httpx.Response | None:
    try:
        response = httpx.get(url, timeout=10)
    except httpx.TransportError:
        return None
    return response if response.status_code == 200 else None


def test_the_web_is_on_by_default_on_127_0_0_1_8080(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no sendwatch.toml here: the defaults
    settings = load_config(env={}).settings
    assert (settings.web.enabled, settings.web.host, settings.web.port) == (True, "127.0.0.1", 8080)
    assert load_config(env={"SENDWATCH_WEB_ENABLED": "false"}).settings.web.enabled is False


def test_run_on_a_fresh_directory_serves_the_pages_before_anything_is_crawled(
    tmp_path: Path,
) -> None:
    env = offline_env(tmp_path)
    base = f"http://127.0.0.1:{env['SENDWATCH_WEB_PORT']}"
    daemon = Daemon(tmp_path, env).start()
    try:
        home = until(lambda: answer(f"{base}/"), 60, "the home page")
        assert "SEND in England's councils" in home.text
        councils = until(lambda: answer(f"{base}/api/las"), 30, "/api/las")
        assert len(councils.json()) == 153
        events = until(lambda: answer(f"{base}/api/events"), 30, "/api/events")
        assert events.json()["events"] == []  # nothing crawled: offline
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(timeout=20) == 0
    finally:
        daemon.kill()
    with pytest.raises(httpx.TransportError):  # the web server went with the daemon
        httpx.get(f"{base}/healthz", timeout=5)

    assert (tmp_path / "data" / "sendwatch.db").exists()  # the Quick start's ./data
    log = daemon.log.read_text()
    assert f"web: pages and feeds on {base}/\n" in log
    assert log.count("web: ") == 1
    assert (
        "channel: none configured: events are recorded, and shown on the pages and in the feeds\n"
    ) in log
    assert "shown in feeds only" not in log


def _lines(settings: dict[str, Any], in_use: frozenset[str] = frozenset()) -> list[str]:
    loaded = Settings.model_validate(settings)
    return channel_lines(loaded, channel_problems(loaded), set(in_use))


def test_each_start_up_line_about_channels_is_true() -> None:
    assert _lines({}) == [
        "none configured: events are recorded, and shown on the pages and in the feeds"
    ]
    assert _lines({"web": {"enabled": False}}) == [
        "none configured: events are recorded in the store only"
        " ([web] enabled is false: no pages or feeds are served)"
    ]
    # Apprise and webhooks need no settings: they send for the subscribers who use them.
    assert _lines({"web": {"enabled": False}}, frozenset({"apprise", "email"})) == ["apprise"]
    mail = {"smtp": {"host": "smtp.example.org", "from_address": "alerts@example.org"}}
    assert _lines(mail, frozenset({"webhook"})) == ["email via smtp.example.org:587", "webhook"]
    assert _lines({"web": {"enabled": False, "static_dir": "/srv/feeds"}}) == [
        "static feeds in /srv/feeds"
    ]
