"""One spider per source, named by the source's registry entry (`sendwatch.sources`).

`spider_for` resolves an entry's dotted path ("crawler.spiders.govuk:GovukSpider") when a
crawl or a check needs it, so adding a source touches no list here.
"""

from __future__ import annotations

import importlib

from crawler.spiders.base import SourceSpider
from sendwatch.sources import entry


def spider_for(source: str) -> type[SourceSpider]:
    """The spider class of `source`, from its entry; an error when there is no such source, and
    TypeError when the entry names something that is not that source's spider."""
    path = entry(source).spider
    module, _, name = path.partition(":")
    spider = getattr(importlib.import_module(module), name, None)
    if not (isinstance(spider, type) and issubclass(spider, SourceSpider)):
        raise TypeError(f"source {source!r}: {path} is not a SourceSpider")
    if spider.name != source:
        raise TypeError(f"source {source!r}: {path} is the spider of {spider.name!r}")
    return spider
