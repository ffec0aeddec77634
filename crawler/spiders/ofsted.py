"""Ofsted reports: area SEND inspection reports of every English local authority.

No API; three kinds of page. The search of local authority children's services
(at most 100 rows a page)::

    <ul class="results-list">
      <li class="search-result">
        <h3 class="search-result__title"><a href="/provider/44/80488">Bexley</a></h3>
        <ul class="search-result__provider-info">
          <li>Category: <strong>Local authority children's services</strong></li>
          <li>Latest report: <strong><time>23 February 2024</time></strong></li>
          <li>URN: <strong>80488</strong></li>
        </ul>
      </li>
    </ul>
    <a class="pagination__next" href="/search?...&start=100">Next</a>

each LA's provider page, newest first::

    <h1 class="heading--title">Bexley</h1>
    <ol class="timeline">
      <li class="timeline__day">
        <a class="publication-link" href="https://files.ofsted.gov.uk/v1/file/50240360">Area SEND full
          inspection <span class="nonvisual">Area SEND full inspection, pdf - 23 February 2024</span></a>
      </li>
      <li class="timeline__day timeline__day--opened">...</li>   (status changes: skipped)
    </ol>

and the report PDF, whose text carries the outcome (see `crawler.extract`).

Cheap polls: a provider page is fetched only when the search says its latest
report is newer than the one last handled, and a PDF only once.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlencode

from scrapy import Request
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.bounded import DocumentRefused
from crawler.dates import parse_date
from crawler.items import MarkItem, SourceItem
from crawler.spiders.base import Found, Row, SourceSpider, count, read_row, text_of
from crawler.verdict import DOCS, LISTING_ITEMS
from sendwatch.vocab import Kind

SEARCH_PARAMS = {
    "q": "",
    "location": "",
    "radius": "",
    "level_1_types": "3",
    "level_2_types[]": "12",
    "rows": "100",
}
#: Report labels of the area SEND inspections, both frameworks ("Area SEND full inspection",
#: "Local area SEND inspection", "Joint local area SEND inspection", "... revisit").
SEND_LABEL = re.compile(r"\bSEND\b|special educational needs", re.IGNORECASE)
MONITORING_LABEL = re.compile(r"monitoring|revisit|re-visit", re.IGNORECASE)
FILE_ID = re.compile(r"/file/([A-Za-z0-9_-]+)")
PROVIDER_MARK = "provider:"
#: Provider pages read with no area SEND report on any, from which the layout has changed.
MIN_PAGES_FOR_LAYOUT = 10
PUBLICATION_LINKS = (
    "//a[contains(concat(' ', normalize-space(@class), ' '), ' publication-link ')]"
    "[not(ancestor::li[contains(@class, 'timeline__day--opened')])]"
)


@dataclass
class _Provider:
    """A provider page's reports still being fetched; its mark waits until all are handled."""

    version: str
    left: int
    failed: bool = False


class OfstedSpider(SourceSpider):
    name = "ofsted"
    document_noun = "report PDFs"
    #: A check reads a few provider pages: one may list no area SEND report.
    check_sample: ClassVar[Mapping[str, int]] = {"provider pages": 3}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.providers: dict[str, _Provider] = {}
        #: Provider pages read, and those listing an area SEND report (for `sendwatch check`).
        self.pages_read = 0
        self.pages_with_send = 0

    @classmethod
    def reread_keys(cls, identity: str, fields: Mapping[str, Any]) -> tuple[str, ...]:
        """A report whose outcome an older version could not read: its PDF and its provider
        page (skipped until a newer report, else)."""
        urn = fields.get("urn")
        return (identity, f"{PROVIDER_MARK}{urn}") if urn else (identity,)

    def self_check(self, stats: Mapping[str, Any], found: Found) -> list[Row]:
        """The councils the search lists, the provider pages read (and those with area SEND
        reports), and one report PDF read with its outcome."""
        listed = count(stats, LISTING_ITEMS)
        reports = count(stats, f"{DOCS}{self.document_noun}/requested")
        return [
            Row("search", listed > 0, f"{listed} local authorities listed"),
            Row(
                "provider pages",
                self.pages_with_send > 0,
                f"{self.pages_read} read, {self.pages_with_send} with area SEND reports"
                f" ({reports} reports)",
            ),
            read_row("report PDF", found, "outcome"),
        ]

    async def start(self) -> AsyncIterator[Request]:
        yield self._search_request(0)

    def _search_request(self, start: int) -> Request:
        query = urlencode({**SEARCH_PARAMS, "start": start})
        return self.listing_request(self.url(f"/search?{query}"), self.parse_search)

    def parse_search(self, response: Response) -> Iterator[Request]:
        results = response.css("ul.results-list > li.search-result") or response.xpath(
            "//li[.//a[contains(@href, '/provider/')]]"
        )
        self.count_listing(len(results))
        for result in results:
            link = result.css("h3 a[href*='/provider/']") or result.css("a[href*='/provider/']")
            href = link.attrib.get("href", "")
            if not href:
                continue
            info = _labelled(result.css("ul.search-result__provider-info > li"))
            urn = info.get("urn") or href.rstrip("/").rsplit("/", 1)[-1]
            latest = parse_date(info.get("latest report"))
            version = latest.isoformat() if latest else ""
            if latest and self.is_handled(PROVIDER_MARK + urn, version):
                continue
            # A provider page is re-read only when its latest report changed, and then
            # revalidated; one that fails is that LA's problem, not the source's.
            yield self.listing_request(
                response.urljoin(href),
                self.parse_provider,
                self.item_failed,
                noun="provider pages",
                urn=urn,
                version=version,
            )
        next_page = response.css("a.pagination__next::attr(href)").get()
        if next_page and results:
            yield self.listing_request(response.urljoin(next_page), self.parse_search)

    def parse_provider(self, response: Response, urn: str, version: str) -> Iterator[Any]:
        name = text_of(response.css("h1.heading--title")) or text_of(response.css("h1"))
        self.pages_read += 1
        has_send = False
        requests = []
        # Every report link on the timeline, wherever the markup nests it; the "Opened" day
        # and any other status change are not reports.
        for link in response.xpath(PUBLICATION_LINKS):
            label_text = text_of(link.css("span.nonvisual")) or text_of(link)
            label, published = _split_label(label_text)
            href = link.attrib.get("href", "")
            file_id = FILE_ID.search(href)
            if not (SEND_LABEL.search(label) and file_id):
                continue
            has_send = True
            identity = f"file-{file_id.group(1)}"
            if self.is_handled(identity, "1"):
                continue
            url = response.urljoin(href)
            requests.append(
                self.detail_request(
                    url,
                    self.parse_report,
                    self.report_failed,
                    identity=identity,
                    canonical_url=url,
                    label=label,
                    published=published,
                    provider=name,
                    urn=urn,
                )
            )
        self.pages_with_send += has_send
        if requests:
            self.providers[urn] = _Provider(version, left=len(requests))
            yield from requests
        elif version:
            # Every report on the page is handled: skip this page until a newer report.
            yield MarkItem(PROVIDER_MARK + urn, version)

    def closed(self, reason: str) -> None:
        """Every council has had an area SEND inspection since 2016: many provider pages read
        and not one report link found means the page layout changed, not a quiet week."""
        super().closed(reason)
        if self.pages_read >= MIN_PAGES_FOR_LAYOUT and not self.pages_with_send:
            self.layout_changed(
                f"{self.pages_read} provider pages read and none lists an area SEND report:"
                " the page layout may have changed"
            )

    def parse_report(
        self,
        response: Response,
        identity: str,
        canonical_url: str,
        label: str,
        published: str,
        provider: str,
        urn: str,
    ) -> Iterator[SourceItem | MarkItem]:
        try:
            text = self.parser.pdf_text(response.body)
        except DocumentRefused as exc:  # over a limit: one failed report, the crawl goes on
            self.document_failed(response.url, "refused", str(exc))
            yield from self._report_done(urn, ok=False)
            return
        except ValueError as exc:
            self.item_error(response.url, str(exc))
            yield from self._report_done(urn, ok=False)
            return
        yield SourceItem(
            source=self.name,
            identity=identity,
            url=canonical_url,
            title=f"{provider}: {label}",
            text=text,
            published_on=parse_date(published),
            # A report's happening is its publication (the inspection visit is in `fields`):
            # never a date its text mentions, such as the previous inspection's.
            happened_on_hint=parse_date(published),
            kind_hint=Kind.MONITORING_INSPECTION
            if MONITORING_LABEL.search(label)
            else Kind.INSPECTION_REPORT,
            la_hint=provider,
            extra={"urn": urn, "report_label": label},
            mark=(identity, "1"),
        )
        yield from self._report_done(urn, ok=True)

    def report_failed(self, failure: Failure) -> Iterator[MarkItem]:
        self.item_failed(failure)
        request = getattr(failure, "request", None)
        if request is not None:
            yield from self._report_done(request.cb_kwargs["urn"], ok=False)

    def _report_done(self, urn: str, ok: bool) -> Iterator[MarkItem]:
        """Once every report of a provider page is handled, skip the page until a newer report."""
        provider = self.providers.get(urn)
        if provider is None:
            return
        provider.left -= 1
        provider.failed |= not ok
        if provider.left == 0 and not provider.failed and provider.version:
            yield MarkItem(PROVIDER_MARK + urn, provider.version)


def _split_label(text: str) -> tuple[str, str]:
    """ "Area SEND full inspection, pdf - 15 July 2024" -> ("Area SEND full inspection", "15 July 2024")."""
    label = text.split(",", 1)[0].strip()
    date = text.rsplit(" - ", 1)[-1].strip() if " - " in text else ""
    return label, date


def _labelled(items: Any) -> dict[str, str]:
    """ "Label: value" list items as {"label": "value"}, whatever their order."""
    found = {}
    for item in items:
        text = text_of(item)
        if ":" in text:
            label, value = text.split(":", 1)
            found[label.strip().lower()] = value.strip()
    return found
