"""The govuk spider on saved Content and Search API JSON: exact fields."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qs, urlsplit

from scrapy import Request

from crawler.items import MarkItem, SourceItem
from crawler.spiders.govuk import COLLECTION_MARK, COLLECTION_PATH, GovukSpider
from sendwatch.vocab import Kind
from tests.crawler.conftest import file_response

BASE = "https://www.gov.uk"
PUBLICATIONS = "/government/publications/"
BEXLEY = PUBLICATIONS + "improvement-notice-issued-to-london-borough-of-bexley-may-2024"
KENT = PUBLICATIONS + "improvement-notice-issued-to-kent-county-council-march-2023"
PLYMOUTH = PUBLICATIONS + "improvement-notice-issued-to-plymouth-city-council-october-2023"
HULL = PUBLICATIONS + "direction-issued-to-kingston-upon-hull-city-council-may-2023"
#: Where the fixtures keep DfE's collection: not the slug the spider guesses first.
COLLECTION = "/government/collections/improvement-notices-and-directions-childrens-services"


def _content(path: str, spider: GovukSpider | None = None) -> list[SourceItem]:
    spider = spider or GovukSpider(base_url=BASE)
    response = file_response(
        f"govuk/content/{path.rsplit('/', 1)[1]}.json", f"{BASE}/api/content{path}"
    )
    return [item for item in spider.parse_content(response, path) if isinstance(item, SourceItem)]


def _collection(spider: GovukSpider) -> list[Any]:
    response = file_response("govuk/collection.json", f"{BASE}/api/content{COLLECTION}")
    return list(spider.parse_collection(response, COLLECTION))


def _search(spider: GovukSpider, query: str = "improvement notice") -> list[Any]:
    response = file_response(
        f"govuk/search-{query.replace(' ', '-')}.json", f"{BASE}/api/search.json?q={query}"
    )
    return list(spider.parse_search(response, query, 0))


def _requested(results: list[Any]) -> list[str]:
    return sorted(urlsplit(r.url).path for r in results if isinstance(r, Request))


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


def test_search_finds_the_collection_and_notices_wait_for_it() -> None:
    spider = GovukSpider(base_url=BASE)
    spider.listings_pending = 2  # the two first search pages start() asks for
    results = _search(spider)

    # The collection the results name is read in this run and remembered for the next.
    assert _requested(results) == ["/api/content" + COLLECTION]
    assert [r for r in results if isinstance(r, MarkItem)] == [
        MarkItem(COLLECTION_MARK + COLLECTION, "1")
    ]
    # No notice is fetched before every listing is read: the collection says which are closed.
    assert spider.listings_pending == 2
    assert PLYMOUTH in spider.candidates
    assert (
        "/government/publications/school-improvement-guidance-for-trusts" not in spider.candidates
    )


def test_collection_notes_date_liftings_and_then_notices_are_read() -> None:
    spider = GovukSpider(base_url=BASE)
    spider.listings_pending = 1
    results = _collection(spider)

    assert spider.groups[KENT] == "Closed notices"
    assert spider.groups[BEXLEY] == "Open notices"
    # "Moved '… Plymouth …: October 2023' to the closed notices section. The notice was lifted
    # on 30 September 2025.": dated by the note, never by the month in the title.
    assert spider.liftings[PLYMOUTH].on == dt.date(2025, 9, 30)
    assert spider.liftings[KENT].on == dt.date(2024, 8, 6)  # the note's own date
    assert _requested(results) == sorted(
        "/api/content" + path
        for path in (
            BEXLEY,
            KENT,
            PLYMOUTH,
            HULL,
            PUBLICATIONS + "improvement-notice-issued-to-halton-borough-council-march-2024",
            PUBLICATIONS
            + "direction-issued-to-bournemouth-christchurch-and-poole-council-february-2024",
        )
    )
    notice, lifted = _content(PLYMOUTH, spider)
    assert notice.identity == PLYMOUTH
    assert (lifted.identity, lifted.kind_hint) == (PLYMOUTH + "#lifted", Kind.NOTICE_LIFTED)
    assert lifted.happened_on_hint == lifted.published_on == dt.date(2025, 9, 30)
    assert (
        lifted.title == "Improvement notice issued to Plymouth City Council: October 2023 (lifted)"
    )
    assert lifted.text.startswith("Moved 'Improvement notice issued to Plymouth City Council")


def test_a_direction_revoked_and_replaced_is_a_lifting_and_a_notice() -> None:
    spider = GovukSpider(base_url=BASE)
    spider.listings_pending = 1
    _collection(spider)  # Hull is also in "Closed directions": one lifting, not two
    direction, revoked, notice = _content(HULL, spider)
    assert (direction.identity, direction.kind_hint) == (HULL, None)
    assert direction.title == "Direction issued to Kingston upon Hull City Council: May 2023"
    assert (revoked.identity, revoked.kind_hint) == (HULL + "#revoked", Kind.NOTICE_LIFTED)
    assert revoked.title == "Direction issued to Kingston upon Hull City Council revoked"
    assert revoked.happened_on_hint == dt.date(2024, 2, 1)
    assert (notice.identity, notice.kind_hint) == (HULL + "#notice", Kind.IMPROVEMENT_NOTICE)
    assert notice.title == "Improvement notice issued to Kingston upon Hull City Council"
    assert notice.happened_on_hint == dt.date(2024, 2, 1)


def test_start_guesses_the_slug_only_until_search_has_named_one() -> None:
    def started(spider: GovukSpider) -> list[str]:
        async def collect() -> list[Request]:
            return [request async for request in spider.start()]

        import asyncio

        return [urlsplit(r.url).path for r in asyncio.run(collect())]

    first = started(GovukSpider(base_url=BASE))
    assert first == ["/api/search.json", "/api/search.json", "/api/content" + COLLECTION_PATH]
    later = started(GovukSpider(base_url=BASE, marks={COLLECTION_MARK + COLLECTION: "1"}))
    assert later == ["/api/search.json", "/api/search.json", "/api/content" + COLLECTION]


def test_search_query_as_built() -> None:
    spider = GovukSpider(base_url=BASE)
    request = spider._search_request("improvement notice", 0)
    query = parse_qs(urlsplit(request.url).query)
    assert query["q"] == ["improvement notice"]
    assert query["filter_organisations"] == ["department-for-education"]
    assert query["order"] == ["-public_timestamp"]
    assert query["fields"] == [
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
        COLLECTION_MARK + COLLECTION: "1",
    }
    spider = GovukSpider(base_url=BASE, marks=marks)
    spider.collections = {COLLECTION}  # read already this run (start asked for it)
    spider.listings_pending = 1
    spider.groups[KENT] = "Closed notices"
    fetched = _requested(_search(spider))
    assert fetched == [
        "/api/content"
        + PUBLICATIONS
        + "improvement-notice-issued-to-halton-borough-council-march-2024",
        "/api/content" + KENT,
        "/api/content" + PLYMOUTH,
        "/api/content" + PUBLICATIONS + "improvement-notice-issued-to-wirral-council-may-2024",
    ]
    # The weak keyword match ("School improvement: guidance for trusts") is never fetched.
    assert not any("school-improvement" in path for path in fetched)


def test_broken_json_is_an_item_error_not_a_crash() -> None:
    spider = GovukSpider(base_url=BASE)
    response = file_response("lgl/feed.xml", f"{BASE}/api/content{BEXLEY}")
    assert list(spider.parse_content(response, BEXLEY)) == []


def test_a_note_names_its_notice_however_it_quotes_it() -> None:
    from crawler.spiders.govuk import _noted

    named = {
        PLYMOUTH: "improvement notice issued to plymouth city council: october 2023",
        KENT: "improvement notice issued to kent county council: march 2023",
    }
    for note in (
        "Moved 'Improvement notice issued to Plymouth City Council: October 2023' to closed.",
        "Moved \u2018Improvement notice issued to Plymouth City Council: October 2023\u2019 to"
        " the closed notices section.",
        'The notice "Improvement Notice issued to Plymouth City Council: October 2023" was'
        " lifted on 30 September 2025.",
        "improvement-notice-issued-to-plymouth-city-council-october-2023 moved to closed notices",
    ):
        assert _noted(note, named) == PLYMOUTH, note
    assert _noted("Closed notices tidied up.", named) is None
