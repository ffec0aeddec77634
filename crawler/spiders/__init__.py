"""One spider per source; `SPIDERS` names them for `sendwatch crawl` and the daemon."""

from __future__ import annotations

from crawler.spiders.base import SourceSpider
from crawler.spiders.govuk import GovukSpider
from crawler.spiders.lgl import LglSpider
from crawler.spiders.moderngov import ModernGovSpider
from crawler.spiders.ofsted import OfstedSpider
from crawler.spiders.statistics import StatisticsSpider

SPIDERS: dict[str, type[SourceSpider]] = {
    spider.name: spider
    for spider in (GovukSpider, OfstedSpider, LglSpider, ModernGovSpider, StatisticsSpider)
}
