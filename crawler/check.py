"""`sendwatch check`: read each source as a crawl would, store nothing, and say what works.

For a maintainer on a real server, after install and whenever in doubt. Each spider
runs unchanged against the live site (or whatever `host_map` and the proxy variables
point it at), but a spider middleware lets through only a sample of its documents
(one notice, report PDF or article; a few provider pages), the HTTP cache is off so
every answer is live, and a pipeline reads what comes back instead of storing it.
Each thing a crawl relies on becomes a row: met, or failing with the URL to look at.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler, CrawlerProcess

from crawler.extract import Extraction, extract
from crawler.items import SourceItem
from crawler.pipelines import document_of
from crawler.runner import quiet_scrapy, source_config
from crawler.settings import scrapy_settings
from crawler.spiders import SPIDERS
from crawler.spiders.base import DOC_NOUN, SourceSpider
from crawler.spiders.statistics import COLLECTION_PATH as STATISTICS_COLLECTION
from crawler.verdict import DOCS, LAYOUT_CHANGED, LISTING_ITEMS, decide, document_tallies
from sendwatch.config import Settings
from sendwatch.vocab import Kind
from storage.las import meeting_sites, register

#: Documents of each kind a check fetches; the rest are counted, not fetched.
#: (The moderngov spider itself reads only each council's latest meeting in a check.)
SAMPLE = {"provider pages": 3, "meetings": 10_000}
SAMPLE_DEFAULT = 1
#: A check answers within this, whatever the crawl's own timeout.
CHECK_TIMEOUT_SECONDS = 20.0
FOUND = "sendwatch/check/found"
TAKEN = "sendwatch/check/taken"


@dataclass(frozen=True)
class Row:
    """One thing a crawl relies on, and whether it was found."""

    name: str
    ok: bool
    detail: str
    url: str = ""


@dataclass
class SourceCheck:
    source: str
    rows: list[Row] = field(default_factory=list)
    #: Set when the site could not be reached at all: the one line to print.
    unreachable: str = ""

    @property
    def ok(self) -> bool:
        return not self.unreachable and all(row.ok for row in self.rows)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "ok": self.ok,
            "unreachable": self.unreachable or None,
            "checks": [asdict(row) for row in self.rows],
        }


class SampleMiddleware:
    """Lets through only the first few documents of each kind a spider asks for."""

    def __init__(self, crawler: Crawler) -> None:
        assert crawler.stats is not None
        self.taken: Counter[str] = Counter()
        crawler.stats.set_value(TAKEN, self.taken)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SampleMiddleware:
        return cls(crawler)

    def _sample(self, result: Iterable[Any]) -> Iterator[Any]:
        for output in result:
            if isinstance(output, Request) and DOC_NOUN in output.meta:
                noun = output.meta[DOC_NOUN]
                if self.taken[noun] >= SAMPLE.get(noun, SAMPLE_DEFAULT):
                    continue
                self.taken[noun] += 1
            yield output

    def process_spider_output(self, response: Any, result: Iterable[Any]) -> Iterator[Any]:
        return self._sample(result)

    async def process_spider_output_async(
        self, response: Any, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        async for output in result:
            for kept in self._sample([output]):
                yield kept


class CheckPipeline:
    """Reads what a check finds (its extraction) into the crawl's stats; stores nothing."""

    def __init__(self, crawler: Crawler) -> None:
        assert crawler.stats is not None
        self.found: list[tuple[SourceItem, Extraction]] = []
        crawler.stats.set_value(FOUND, self.found)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CheckPipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, SourceItem):
            self.found.append((item, extract(document_of(item))))
        return item


def check_sources(settings: Settings, sources: Sequence[str]) -> list[SourceCheck]:
    """Check each source live, all in one reactor; nothing is written to the store."""
    configs = {source: source_config(settings, source) for source in dict.fromkeys(sources)}
    scrapy = scrapy_settings(settings)
    scrapy |= {
        "ITEM_PIPELINES": {"crawler.check.CheckPipeline": 300},
        "SPIDER_MIDDLEWARES": scrapy["SPIDER_MIDDLEWARES"]
        | {"crawler.check.SampleMiddleware": 950},
        "HTTPCACHE_ENABLED": False,
        "RETRY_TIMES": 0,
        "DOWNLOAD_TIMEOUT": min(settings.crawler.timeout_seconds, CHECK_TIMEOUT_SECONDS),
        "LOG_INSTALL_ROOT_HANDLER": False,
        "CLOSESPIDER_TIMEOUT": settings.crawler.time_limit_minutes * 60,
    }
    quiet_scrapy(settings.log_level)
    process = CrawlerProcess(settings=scrapy)
    crawlers: dict[str, Crawler] = {}
    for source, config in configs.items():
        crawlers[source] = process.create_crawler(SPIDERS[source])
        process.crawl(
            crawlers[source], base_url=config.base_url, check=True, **config.spider_options()
        )
    process.start()
    share = settings.crawler.max_failed_share
    return [_judge(source, crawler, share) for source, crawler in crawlers.items()]


def _judge(source: str, crawler: Crawler, max_failed_share: float = 0.5) -> SourceCheck:
    """The rows of one source's check; one line instead when the crawl's verdict is that the
    site never answered."""
    assert crawler.stats is not None
    stats = crawler.stats.get_stats()
    check = SourceCheck(source)
    verdict = decide(stats, max_failed_share)
    found = stats.get(FOUND) or []
    spider = crawler.spider
    assert isinstance(spider, SourceSpider)
    if verdict.unreachable:
        check.unreachable = spider.cannot_reach(verdict)
        return check
    if verdict.why:
        check.rows.append(Row("listing", False, f"failed ({verdict.why})", verdict.url))
    rows = {
        "govuk": _govuk_rows,
        "ofsted": _ofsted_rows,
        "lgl": _lgl_rows,
        "moderngov": _moderngov_rows,
        "statistics": _statistics_rows,
    }[source]
    check.rows += rows(spider, stats, found)
    taken = stats.get(TAKEN) or Counter()
    for tally in document_tallies(stats):
        if tally.failed:  # out of those fetched, not of all the listings named
            fetched = replace(tally, requested=taken.get(tally.noun, tally.requested))
            check.rows.append(Row(tally.noun, False, fetched.sentence(), tally.example))
    return check


def _count(stats: dict[str, Any], key: str) -> int:
    return int(stats.get(key, 0) or 0)


def _read(noun: str, found: list[tuple[SourceItem, Extraction]], what: str) -> Row:
    """The sampled document, read: its kind, council, date (and outcome)."""
    if not found:
        return Row(f"{noun} read", False, "none was read")
    item, extraction = found[0]
    la = extraction.local_authority
    parts = [
        f"kind {extraction.kind or 'not relevant'}",
        f"council {la.name if la else 'not found'}",
        f"date {_iso(extraction.happened_on or extraction.published_on)}",
    ]
    if what == "outcome":
        parts.append(f"outcome {extraction.outcome or 'not found'}")
    ok = la is not None and (extraction.happened_on or extraction.published_on) is not None
    if what == "outcome" and extraction.kind is Kind.INSPECTION_REPORT:
        ok = ok and extraction.outcome is not None  # a full report always states one
    return Row(f"{noun} read", ok, f"{item.title}: " + ", ".join(parts), item.url)


def _iso(day: dt.date | None) -> str:
    return day.isoformat() if day else "not found"


def _govuk_rows(spider: Any, stats: dict[str, Any], found: Any) -> list[Row]:
    groups = Counter(str(title).lower() for title in spider.groups.values())
    counted = ", ".join(f"{title} {n}" for title, n in sorted(groups.items()))
    return [
        Row(
            "search",
            spider.search_hits > 0,
            f"{spider.search_hits} notices and directions found",
        ),
        Row(
            "collection",
            bool(spider.collections_read),
            ", ".join(spider.collections_read) or "no notices collection found",
        ),
        Row("notices and directions", bool(groups), counted or "the collection lists none"),
        _read("notice", found, "kind"),
    ]


def _ofsted_rows(spider: Any, stats: dict[str, Any], found: Any) -> list[Row]:
    listed = _count(stats, LISTING_ITEMS)
    reports = _count(stats, f"{DOCS}report PDFs/requested")
    return [
        Row("search", listed > 0, f"{listed} local authorities listed"),
        Row(
            "provider pages",
            spider.pages_with_send > 0,
            f"{spider.pages_read} read, {spider.pages_with_send} with area SEND reports"
            f" ({reports} reports)",
        ),
        _read("report PDF", found, "outcome"),
    ]


def _lgl_rows(spider: Any, stats: dict[str, Any], found: Any) -> list[Row]:
    entries = _count(stats, LISTING_ITEMS)
    relevant = _count(stats, f"{DOCS}articles/requested")
    return [
        Row("feed", entries > 0, f"{entries} entries"),
        Row("relevant entries", relevant > 0, f"{relevant} about SEND notices or inspections"),
        _read("article", found, "date"),
    ]


def _statistics_rows(spider: Any, stats: dict[str, Any], found: Any) -> list[Row]:
    """Ofsted's releases found, the newest one's spreadsheet read (its data sheet found by its
    header row), every row placed with a council, and one row read as a finding."""
    tally = spider.tally
    releases = _count(stats, LISTING_ITEMS)
    rows = [
        Row("search", spider.search_hits > 0, f"{spider.search_hits} releases found"),
        Row(
            "collection",
            spider.collection_read,
            STATISTICS_COLLECTION
            if spider.collection_read
            else "not found: only the search names releases",
        ),
        Row("releases", releases > 0, f"{releases} releases listed"),
    ]
    if tally.sheets:
        url, sheet = tally.sheets[0]
        detail = (
            f"sheet {sheet.name!r} ({sheet.layout.name}), header on row {sheet.header_row},"
            f" {len(sheet.inspections)} rows"
        )
        rows.append(Row("spreadsheet read", bool(sheet.inspections), detail, url))
    else:
        rows.append(
            Row("spreadsheet read", False, str(stats.get(LAYOUT_CHANGED) or "none was read"))
        )
    trouble = [*(f"council {name} not recognised" for name in tally.unmatched), *tally.problems]
    placed = f"{tally.rows - len(tally.unmatched)} of {tally.rows} rows placed with a council"
    rows.append(Row("councils", not trouble, f"{placed}; {trouble[0]}" if trouble else placed))
    rows.append(_read("row", found, "outcome"))
    return rows


#: A council's outcome as `sendwatch check` shows it, and whether it is as expected: a
#: firewall or robots.txt is the council's choice (shown, not failing); no answer is not.
COUNCIL_OUTCOMES = {
    "ok": ("reachable", True),
    "blocked": ("blocked (403)", True),
    "disallowed": ("disallowed by robots.txt: not polled", True),
    "unreachable": ("unreachable", False),
    "failed": ("not the ModernGov web service's answer", False),
    "not ModernGov": ("not ModernGov: not polled", True),
}


def _moderngov_rows(spider: Any, stats: dict[str, Any], found: Any) -> list[Row]:
    las = register()
    outcomes = Counter(spider.councils.values())
    rows = [
        Row(
            "councils",
            outcomes["ok"] > 0,
            ", ".join(f"{n} {COUNCIL_OUTCOMES[o][0]}" for o, n in sorted(outcomes.items()))
            or "no council polled",
        )
    ]
    sites = meeting_sites()
    for code, outcome in sorted(spider.councils.items(), key=lambda pair: pair[0]):
        word, ok = COUNCIL_OUTCOMES.get(outcome, (outcome, False))
        if code in sites and code not in spider.sites:  # what it uses instead
            word = f"{word} ({sites[code].software})"
        la = las.get(code)
        rows.append(Row(f"{la.name if la else code}", ok, word, spider.sites.get(code, "")))
    return rows


def render(checks: Sequence[SourceCheck]) -> str:
    """A table per source; a source never reached is one line."""
    out: list[str] = []
    for check in checks:
        if check.unreachable:
            out.append(check.unreachable)
            continue
        out.append(f"{check.source}: {'ok' if check.ok else 'FAILING'}")
        width = max(len(row.name) for row in check.rows) if check.rows else 0
        for row in check.rows:
            mark = "ok  " if row.ok else "FAIL"
            line = f"  {mark}  {row.name.ljust(width)}  {row.detail}"
            if row.url and not row.ok and row.url not in row.detail:
                line += f"  <{row.url}>"
            out.append(line)
    return "\n".join(out)
