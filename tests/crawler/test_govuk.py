"""The govuk spider on saved Content and Search API JSON: exact fields."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

from scrapy import Request

from crawler.items import MarkItem, SourceItem
from crawler.spiders.govuk import COLLECTION_PATH, GovukSpider
from sendwatch.vocab import Kind
from tests.crawler.conftest import file_response

BASE = "http://mirror.test"
BEXLEY = "/government/publications/improvement-notice-issued-to-london-borough-of-bexley-may-2024"
KENT = "/government/publications/improvement-notice-issued-to-kent-county-council-march-2023"


def _content(slug_path: str, spider: GovukSpider | None = None) -> list[SourceItem]:
    spider = spider or GovukSpider(base_url=BASE)
    slug = slug_path.rsplit("/", 1)[1]
    response = file_response(f"govuk/content/{slug}.json", f"{BASE}/api/content{slug_path}")
    return list(spider.parse_content(response, slug_path))


def test_notice_fields() -> None:
    (item,) = _content(BEXLEY)
    assert item.source == "govuk"
    assert item.identity == BEXLEY
    assert item.url == "https://www.gov.uk" + BEXLEY
    assert item.title == "Improvement notice issued to London Borough of Bexley: May 2024"
    assert item.published_on == dt.date(2024, 5, 1)
    assert item.kind_hint is None
    assert item.text.startswith(
        "Notice issued to London Borough of Bexley to improve its special educational needs"
    )
    assert "by the end of August 2025" in item.text
    assert "Improvement notice: London Borough of Bexley SEND services" in item.text
    assert item.extra == {
        "content_id": "6b0c8b1e-4c1f-4a8e-9d0a-0c6f3a2b1e01",
        "document_type": "decision",
    }
    assert item.mark == (BEXLEY, "2024-05-01T15:30:00.000+01:00")


def test_change_note_about_lifting_yields_a_lifted_item() -> None:
    notice, lifted = _content(KENT)
    assert notice.identity == KENT
    assert lifted.identity == KENT + "#lifted"
    assert lifted.kind_hint == Kind.NOTICE_LIFTED
    assert lifted.title == "Improvement notice issued to Kent County Council: March 2023 (lifted)"
    assert lifted.happened_on_hint == dt.date(2024, 8, 6)
    assert lifted.published_on == dt.date(2024, 8, 6)
    assert lifted.text.startswith("The improvement notice was lifted on 6 August 2024")
    assert lifted.mark == (KENT + "#lifted", "1")


def test_collection_groups_and_candidates() -> None:
    spider = GovukSpider(base_url=BASE)
    spider.collections_pending = 1
    response = file_response("govuk/collection.json", f"{BASE}/api/content{COLLECTION_PATH}")
    results = list(spider.parse_collection(response, COLLECTION_PATH))

    assert spider.groups[KENT] == "Closed notices"
    assert spider.groups[BEXLEY] == "Open notices"
    content = [r.url for r in results if isinstance(r, Request) and "/api/content/" in r.url]
    assert len(content) == 4
    searches = [r for r in results if isinstance(r, Request) and "search.json" in r.url]
    queries = [parse_qs(urlsplit(r.url).query) for r in searches]
    assert [q["q"] for q in queries] == [["improvement notice"], ["direction issued to"]]
    assert queries[0]["filter_organisations"] == ["department-for-education"]
    assert queries[0]["order"] == ["-public_timestamp"]
    assert queries[0]["fields"] == [
        "title",
        "link",
        "description",
        "public_timestamp",
        "content_store_document_type",
        "document_collections",
    ]


def test_handled_notices_are_not_fetched_again() -> None:
    marks = {
        BEXLEY: "2024-05-01T15:30:00.000+01:00",
        KENT: "2024-08-06T10:00:00.000+01:00",  # handled, but closed and its lifting is not
    }
    spider = GovukSpider(base_url=BASE, marks=marks)
    spider.groups[KENT] = "Closed notices"
    response = file_response(
        "govuk/search-improvement-notice.json", f"{BASE}/api/search.json?q=improvement+notice"
    )
    results = list(spider.parse_search(response, "improvement notice", 0))
    fetched = sorted(urlsplit(r.url).path for r in results if isinstance(r, Request))
    assert fetched == [
        "/api/content/government/publications/improvement-notice-issued-to-halton-borough-council-march-2024",
        "/api/content" + KENT,
        "/api/content/government/publications/improvement-notice-issued-to-wirral-council-may-2024",
    ]
    # The weak keyword match ("School improvement: guidance for trusts") is never fetched.
    assert not any("school-improvement" in r.url for r in results if isinstance(r, Request))
    assert not [r for r in results if isinstance(r, MarkItem)]


def test_broken_json_is_an_item_error_not_a_crash() -> None:
    spider = GovukSpider(base_url=BASE)
    response = file_response("lgl/feed.xml", f"{BASE}/api/content{BEXLEY}")
    assert list(spider.parse_content(response, BEXLEY)) == []
