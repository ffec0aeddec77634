"""`sendwatch check`: read each source as a crawl would, store nothing, and say what works.

For a maintainer on a real server, after install and whenever in doubt. Each spider
runs unchanged against the live site (or whatever `host_map` and the proxy variables
point it at), but a spider middleware lets through only a sample of its documents
(one notice, report PDF or article; a few provider pages), the HTTP cache is off so
every answer is live, and a pipeline reads what comes back instead of storing it.
Each thing a crawl relies on becomes a row: met, or failing with the URL to look at. What
the rows are is each spider's own (`SourceSpider.self_check`); whether the site was reached
at all is the crawl's verdict (`crawler.verdict.decide`), as for a crawl.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler, CrawlerProcess

from crawler.bounded import limits_of
from crawler.extract import Extraction, extract
from crawler.items import SourceItem
from crawler.pipelines import document_of
from crawler.runner import quiet_scrapy, source_config
from crawler.settings import scrapy_settings
from crawler.spiders import spider_for
from crawler.spiders.base import DOC_NOUN, Row, SourceSpider
from crawler.verdict import decide, document_tallies
from sendwatch.config import Settings
from sendwatch.text import quoted
from storage.store import UnreadOutcome

#: Documents of a kind a check fetches, unless the spider says (`check_sample`); the rest
#: are counted, not fetched.
SAMPLE_DEFAULT = 1
#: A check answers within this, whatever the crawl's own timeout.
CHECK_TIMEOUT_SECONDS = 20.0
FOUND = "sendwatch/check/found"
TAKEN = "sendwatch/check/taken"


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
        self.sample: Mapping[str, int] = getattr(crawler.spider, "check_sample", {})

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SampleMiddleware:
        return cls(crawler)

    def _sample(self, result: Iterable[Any]) -> Iterator[Any]:
        for output in result:
            if isinstance(output, Request) and DOC_NOUN in output.meta:
                noun = output.meta[DOC_NOUN]
                if self.taken[noun] >= self.sample.get(noun, SAMPLE_DEFAULT):
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
        self.crawler = crawler
        self.found: list[tuple[SourceItem, Extraction]] = []
        crawler.stats.set_value(FOUND, self.found)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CheckPipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, SourceItem):
            # Read as a crawl reads it: an official report's unread outcome is `unrecognised`.
            official = bool(getattr(self.crawler.spider, "official", False))
            self.found.append((item, extract(document_of(item, official))))
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
    quiet_scrapy()
    process = CrawlerProcess(settings=scrapy)
    crawlers: dict[str, Crawler] = {}
    for source, config in configs.items():
        crawlers[source] = process.create_crawler(spider_for(source))
        process.crawl(
            crawlers[source],
            base_url=config.base_url,
            check=True,
            parse_limits=limits_of(settings),
            **config.spider_options(),
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
    check.rows += spider.self_check(stats, found)
    taken = stats.get(TAKEN) or Counter()
    for tally in document_tallies(stats):
        if tally.failed:  # out of those fetched, not of all the listings named
            fetched = replace(tally, requested=taken.get(tally.noun, tally.requested))
            check.rows.append(Row(tally.noun, False, fetched.sentence(), tally.example))
    return check


def with_recorded_outcomes(
    checks: Sequence[SourceCheck], unread: Sequence[UnreadOutcome]
) -> list[SourceCheck]:
    """Each source's check, with a failing row while the store holds reports of it whose
    outcome no rule read (its alarm's subject): a check is where a maintainer looks first."""
    for check in checks:
        mine = [item for item in unread if item.source == check.source]
        if mine and not check.unreachable:
            first = mine[0]
            check.rows.append(
                Row(
                    "recorded outcomes",
                    False,
                    f"{len(mine)} recorded report{'s' if len(mine) > 1 else ''} with an outcome"
                    f" not read, e.g. {first.title}: {quoted(first.sentence, 240)}",
                    first.url,
                )
            )
    return list(checks)


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
