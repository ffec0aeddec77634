"""The pipeline: extract what each item says, hand findings to the store, remember what was handled."""

from __future__ import annotations

import logging
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.statscollectors import StatsCollector

from crawler.extract import Document, Extraction, extract
from crawler.items import MarkItem, SourceItem
from sendwatch.errors import StoreError
from storage.store import FindingData, Store

log = logging.getLogger(__name__)


def to_finding(item: SourceItem, extraction: Extraction, official: bool = False) -> FindingData:
    """The store's finding for a relevant item."""
    assert extraction.kind is not None
    la = extraction.local_authority
    return FindingData(
        source=item.source,
        identity=item.identity,
        url=item.url,
        title=extraction.title,
        kind=extraction.kind,
        published_on=extraction.published_on,
        la_code=la.ons_code if la else None,
        happened_on=extraction.happened_on,
        outcome=item.outcome or extraction.outcome,
        summary=_summary(item),
        fields=extraction.fields() | item.extra,
        authoritative=official,
    )


def document_of(item: SourceItem, official: bool = False) -> Document:
    """What the item says, for `extract`; `official`: its spider publishes the documents themselves."""
    return Document(
        title=item.title,
        text=item.text,
        published_on=item.published_on,
        url=item.url,
        kind_hint=item.kind_hint,
        la_hint=item.la_hint,
        happened_on_hint=item.happened_on_hint,
        official=official,
    )


def _summary(item: SourceItem, limit: int = 600) -> str:
    """The opening of the text, cut at a sentence end where one is near."""
    text = " ".join(item.text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(". ", 0, limit)
    return text[: cut + 1] if cut > limit // 2 else text[:limit].rstrip() + "…"


class StorePipeline:
    """Records each relevant item as a finding; counts new, updated and seen for the run report."""

    def __init__(self, database_url: str, crawler: Crawler) -> None:
        assert crawler.stats is not None
        self.database_url = database_url
        self.crawler = crawler
        self.stats: StatsCollector = crawler.stats
        self.store: Store | None = None
        self.source = ""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler.settings["SENDWATCH_DATABASE_URL"], crawler)

    @property
    def alert(self) -> bool:
        """False on a baseline run: findings fill the store and the feeds, and alert nobody."""
        return not getattr(self.crawler.spider, "baseline", False)

    def open_spider(self) -> None:
        assert self.crawler.spider is not None
        self.source = self.crawler.spider.name
        self.store = Store(self.database_url)

    def close_spider(self) -> None:
        if self.store is not None:
            self.store.close()

    def process_item(self, item: Any) -> Any:
        assert self.store is not None
        if isinstance(item, MarkItem):
            self._mark(item.key, item.value)
            return item
        if not isinstance(item, SourceItem):
            raise DropItem(f"not a sendwatch item: {type(item).__name__}")
        official = bool(getattr(self.crawler.spider, "official", False))
        try:
            extraction = extract(document_of(item, official))
            if not extraction.relevant:
                self.stats.inc_value("sendwatch/irrelevant")
                if item.mark:
                    self._mark(*item.mark)
                # Expected (the collection holds social care notices too): not a warning.
                raise DropItem(f"not about SEND notices or inspections: {item.url}", "DEBUG")
            result = self.store.record(
                to_finding(item, extraction, official), alert=self.alert, mark=item.mark
            )
        except (ValueError, StoreError) as exc:
            self.stats.inc_value("sendwatch/item_errors")
            log.error("could not record %s: %s", item.url, exc)
            raise DropItem(str(exc)) from None
        self.stats.inc_value(f"sendwatch/{result.finding}")
        if result.event == "new":
            self.stats.inc_value("sendwatch/new_events")
        return item

    def _mark(self, key: str, value: str) -> None:
        assert self.store is not None
        self.store.set_mark(self.source, key, value)
