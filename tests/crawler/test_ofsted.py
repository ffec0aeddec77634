"""The ofsted spider on saved search, provider pages and report PDFs: exact fields."""

from __future__ import annotations

import datetime as dt

from scrapy import Request

from crawler.items import MarkItem, SourceItem
from crawler.spiders.ofsted import OfstedSpider
from sendwatch.vocab import Kind
from tests.crawler.conftest import file_response

BASE = "https://reports.ofsted.gov.uk"
FILES = "https://files.ofsted.gov.uk"


def test_search_lists_every_la_and_follows_the_next_page() -> None:
    spider = OfstedSpider(base_url=BASE, marks={"provider:80431": "2024-07-25"})
    response = file_response("ofsted/search-1.html", f"{BASE}/search?start=0")
    results = list(spider.parse_search(response))

    providers = [r for r in results if r.callback == spider.parse_provider]
    assert [r.url for r in providers] == [f"{BASE}/provider/44/80488", f"{BASE}/provider/44/80567"]
    assert providers[0].cb_kwargs == {"urn": "80488", "version": "2024-02-23"}
    (next_page,) = [r for r in results if r.callback == spider.parse_search]
    assert next_page.url.endswith("&rows=100&start=100")


def test_provider_page_requests_only_send_reports() -> None:
    spider = OfstedSpider(base_url=BASE)
    response = file_response("ofsted/provider-80488.html", f"{BASE}/provider/44/80488")
    (request,) = list(spider.parse_provider(response, urn="80488", version="2024-02-23"))

    assert isinstance(request, Request)
    assert request.url == f"{FILES}/v1/file/50240360"  # fetched where it lives
    assert request.cb_kwargs == {
        "identity": "file-50240360",
        "canonical_url": "https://files.ofsted.gov.uk/v1/file/50240360",
        "label": "Area SEND full inspection",
        "published": "23 February 2024",
        "provider": "Bexley",
        "urn": "80488",
    }


def test_provider_with_every_report_handled_is_marked() -> None:
    spider = OfstedSpider(base_url=BASE, marks={"file-50240360": "1"})
    response = file_response("ofsted/provider-80488.html", f"{BASE}/provider/44/80488")
    assert list(spider.parse_provider(response, urn="80488", version="2024-02-23")) == [
        MarkItem("provider:80488", "2024-02-23")
    ]


def _report(file_id: str, label: str, published: str, provider: str) -> SourceItem:
    spider = OfstedSpider(base_url=BASE)
    response = file_response(f"ofsted/files/{file_id}.pdf", f"{FILES}/v1/file/{file_id}")
    (item,) = list(
        spider.parse_report(
            response,
            identity=f"file-{file_id}",
            canonical_url=f"https://files.ofsted.gov.uk/v1/file/{file_id}",
            label=label,
            published=published,
            provider=provider,
            urn="1",
        )
    )
    return item


def test_report_pdf_fields() -> None:
    item = _report("50240360", "Area SEND full inspection", "23 February 2024", "Bexley")
    assert item.source == "ofsted"
    assert item.identity == "file-50240360"
    assert item.url == "https://files.ofsted.gov.uk/v1/file/50240360"
    assert item.title == "Bexley: Area SEND full inspection"
    assert item.published_on == item.happened_on_hint == dt.date(2024, 2, 23)
    assert item.kind_hint == Kind.INSPECTION_REPORT
    assert item.la_hint == "Bexley"
    assert "widespread and/or systemic failings" in item.text
    assert item.extra == {"urn": "1", "report_label": "Area SEND full inspection"}
    assert item.mark == ("file-50240360", "1")


def test_revisit_is_a_monitoring_inspection() -> None:
    item = _report("50210002", "Local area SEND revisit", "7 March 2023", "Wirral")
    assert item.kind_hint == Kind.MONITORING_INSPECTION
    # Dated by its publication, not by the visit its text mentions (14 March 2022).
    assert item.happened_on_hint == dt.date(2023, 3, 7)


def test_a_pdf_that_is_not_a_pdf_is_an_item_error() -> None:
    spider = OfstedSpider(base_url=BASE)
    response = file_response("ofsted/provider-80488.html", f"{BASE}/v1/file/1")
    assert (
        list(
            spider.parse_report(
                response,
                identity="file-1",
                canonical_url="x",
                label="Area SEND full inspection",
                published="1 May 2024",
                provider="Bexley",
                urn="80488",
            )
        )
        == []
    )


def test_many_provider_pages_without_a_report_link_fail_the_run() -> None:
    from scrapy.utils.test import get_crawler

    from crawler.report import CrawlReport
    from crawler.verdict import LISTING_ITEMS

    crawler = get_crawler(OfstedSpider)
    spider = OfstedSpider.from_crawler(crawler, base_url=BASE)
    assert crawler.stats is not None
    crawler.stats.open_spider()
    # The page as it might look after a redesign: no publication-link anywhere.
    redesigned = file_response("ofsted/provider-80488.html", f"{BASE}/provider/44/80488")
    redesigned = redesigned.replace(body=redesigned.body.replace(b"publication-link", b"doc"))
    for _page in range(10):
        list(spider.parse_provider(redesigned, urn="80488", version=""))
    spider.closed("finished")
    stats = crawler.stats.get_stats() | {"finish_reason": "finished", LISTING_ITEMS: 150}
    report = CrawlReport.from_stats("ofsted", stats)
    assert (report.result, report.reason) == (
        "failed",
        "10 provider pages read and none lists an area SEND report: the page layout may have changed",
    )
