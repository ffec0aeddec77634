"""Sources are plug-ins: one registry entry each (`sendwatch.sources`), and everything reads it.

Every entry's spider resolves and is that source's, it has a label, a config table with the
entry's defaults (and options its spider takes), it is a CLI choice, and `sendwatch check`
handles it; and a source registered at run time, its spider defined here, is crawled by
`crawl_many` with no other edit.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import click
import pytest
from scrapy import Request
from scrapy.http import Response

from app.cli import check_command, crawl_command
from crawler.check import _judge
from crawler.items import SourceItem
from crawler.spiders import spider_for
from crawler.spiders.base import SourceSpider
from crawler.verdict import LISTING_ERRORS, LISTING_FAILED, LISTING_ITEMS
from sendwatch import sources
from sendwatch.config import Settings, load_config, schema_keys
from sendwatch.errors import SendwatchError
from sendwatch.sources import Source

ROOT = Path(__file__).resolve().parents[2]
NAMES = [source.name for source in sources.registered()]


def _choices(command: click.Command) -> list[str]:
    (argument,) = [param for param in command.params if param.name == "sources"]
    assert isinstance(argument.type, click.Choice)
    return [str(choice) for choice in argument.type.choices]


class _Stats:
    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def get_stats(self) -> dict[str, Any]:
        return self.values


def _judged(spider: SourceSpider, stats: dict[str, Any]) -> Any:
    crawler = type("Crawler", (), {"stats": _Stats(stats), "spider": spider})()
    return _judge(spider.name, crawler)


def test_the_registry_is_the_order_commands_take() -> None:
    assert NAMES == ["govuk", "ofsted", "lgl", "moderngov", "statistics", "ombudsman"]
    assert _choices(crawl_command) == _choices(check_command) == NAMES
    assert sources.reconciled() == {"ofsted", "statistics"}
    assert [s.name for s in sources.registered() if s.official] == ["govuk", "ofsted", "ombudsman"]


@pytest.mark.parametrize("name", NAMES)
def test_every_entry_is_a_whole_source(name: str) -> None:
    entry = sources.entry(name)
    spider = spider_for(name)
    assert spider.name == name
    assert entry.label and sources.labels()[name] == entry.label
    # Its table, with the entry's defaults, its keys named by the one rule.
    config = Settings().sources.of(name)
    assert (config.enabled, config.base_url, config.interval_minutes) == (
        entry.enabled,
        entry.base_url,
        entry.interval_minutes,
    )
    keys = {key.dotted: key.env_name for key in schema_keys()}
    for option in ("enabled", "base_url", "interval_minutes", *entry.options):
        assert keys[f"sources.{name}.{option}"] == f"SENDWATCH_SOURCES_{name.upper()}_" + (
            option.upper()
        )
    assert set(config.spider_options()) == set(entry.options)
    # Its spider takes its options, and `sendwatch check` reads it: rows, or one line when the
    # site was never reached.
    instance = spider(base_url=config.base_url, check=True, **config.spider_options())
    assert instance.official is entry.official
    finished = {"finish_reason": "finished", LISTING_ITEMS: 1}
    check = _judged(instance, finished)
    assert check.source == name and not check.unreachable
    assert all(row.name and row.detail for row in check.rows)
    refused = {
        "finish_reason": "finished",
        LISTING_ERRORS: 1,
        LISTING_FAILED + "connection refused": "https://x.example/",
    }
    offline = _judged(spider(base_url=config.base_url, check=True), refused)
    assert offline.unreachable.startswith(f"{name}: cannot reach https://x.example/")


def test_an_option_is_configured_by_its_key_and_its_variable(tmp_path: Path) -> None:
    path = tmp_path / "sendwatch.toml"
    path.write_text("[sources.lgl]\nbackfill_days = 90\n")
    assert load_config(path, env={}).settings.sources.lgl.spider_options() == {"backfill_days": 90}
    env = {"SENDWATCH_SOURCES_MODERNGOV_COUNCILS": "E09000002"}
    options = load_config(env=env).settings.sources.of("moderngov").spider_options()
    assert options["councils"] == ["E09000002"] and options["today"] == ""


def test_an_unknown_source_is_one_error_naming_the_sources() -> None:
    with pytest.raises(SendwatchError, match=r"unknown source 'nope'; sources: govuk, ofsted"):
        Settings().sources.of("nope")
    with pytest.raises(SendwatchError, match="unknown source 'nope'"):
        spider_for("nope")


# -- a source registered at run time -----------------------------------------------------


class TinySpider(SourceSpider):
    """A source of one listing naming one notice: all a plug-in needs to be."""

    name = "tiny"
    document_noun = "notices"

    async def start(self) -> AsyncIterator[Request]:
        yield self.listing_request(self.url("/notices"), self.parse)

    def parse(self, response: Response, **kwargs: Any) -> Iterator[SourceItem]:
        lines = response.text.splitlines()
        self.count_listing(len(lines))
        for number, title in enumerate(lines, start=1):
            yield SourceItem(
                source=self.name,
                identity=str(number),
                url=response.url,
                title=title,
                text=f"{title}: about its special educational needs and disabilities (SEND)"
                " services.",
                published_on=dt.date(2024, 5, 1),
            )


class _Listing(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"Improvement notice issued to Wirral Council\n" if self.path == "/notices" else b""
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def listing() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Listing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def crawl_tiny(base_url: str, data_dir: str) -> None:
    """In a process of its own (Scrapy's reactor starts once a process): register the tiny
    source, as a plug-in would be, crawl it with `crawl_many`, print its report."""
    from crawler.runner import crawl_many

    tiny = Source("tiny", "A tiny source", f"{__name__}:TinySpider", base_url, 60)
    sources.SOURCES = (*sources.SOURCES, tiny)
    settings = Settings.model_validate(
        {"data_dir": data_dir, "crawler": {"download_delay": 0, "retries": 0}}
    )
    (report,) = crawl_many(settings, ["tiny"])
    print(report.json_line())


def test_a_source_registered_at_run_time_is_crawlable(tmp_path: Path, listing: str) -> None:
    code = (
        "from tests.crawler.test_sources import crawl_tiny;"
        f" crawl_tiny({listing!r}, {str(tmp_path / 'data')!r})"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert (report["source"], report["result"], report["new"]) == ("tiny", "ok", 1)
    from storage.store import Store

    store = Store(f"sqlite:///{tmp_path / 'data' / 'sendwatch.db'}")
    (summary,) = store.source_summaries()
    assert (summary.source, summary.last_result, summary.findings) == ("tiny", "ok", 1)
    store.close()
