"""The statistics spider and its ODS reader, on GOV.UK API answers and spreadsheets made here."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from scrapy import Request
from scrapy.http import Response

from crawler.extract import extract
from crawler.items import MarkItem, SourceItem
from crawler.ods import FRAMEWORK_2016, FRAMEWORK_2023, UnknownLayout, read_workbook
from crawler.pipelines import document_of, to_finding
from crawler.spiders.statistics import StatisticsSpider, council_named
from sendwatch.vocab import Kind, Outcome
from tests.crawler.conftest import file_response
from tests.fixtures.statistics.make_ods import (
    FRAMEWORK_2016_FILE,
    MI_2023_FILE,
    ROWS_2023,
    framework_2016,
    framework_2023,
    ods_bytes,
    unknown_layout,
)

BASE = "https://www.gov.uk"
ASSETS = "https://assets.publishing.service.gov.uk/media"
MI = (
    "/government/statistical-data-sets/"
    "area-send-inspections-and-outcomes-in-england-management-information-autumn-term-2024-to-2025"
)
OFFICIAL = (
    "/government/statistics/area-send-inspections-and-outcomes-in-england-as-at-31-august-2022"
)
MI_AT = "2025-03-20T09:30:00+00:00"
OFFICIAL_AT = "2022-11-24T09:30:00+00:00"


def _listings(spider: StatisticsSpider) -> list[Any]:
    spider.listings_pending = 2
    search = file_response("statistics/search.json", f"{BASE}/api/search.json")
    collection = file_response(
        "statistics/content/area-send-statistics.json",
        f"{BASE}/api/content/government/collections/area-send-statistics",
    )
    return [*spider.parse_search(search), *spider.parse_collection(collection)]


def _release(spider: StatisticsSpider, path: str, version: str) -> list[Any]:
    response = file_response(
        f"statistics/content/{path.rsplit('/', 1)[1]}.json", f"{BASE}/api/content{path}"
    )
    return list(spider.parse_release(response, path, version))


def _spreadsheet(spider: StatisticsSpider, body: bytes, release: str, name: str) -> list[Any]:
    url = f"{ASSETS}/0123456789abcdef01234567/{name}"
    response = Response(url=url, body=body, request=Request(url))
    return list(spider.parse_spreadsheet(response, release))


def _read(spider: StatisticsSpider, path: str, version: str, body: bytes, name: str) -> list[Any]:
    _release(spider, path, version)
    return _spreadsheet(spider, body, path, name)


def test_releases_come_from_the_search_and_the_collection() -> None:
    spider = StatisticsSpider(base_url=BASE)
    requests = [r for r in _listings(spider) if isinstance(r, Request)]
    # Newest first; the social care statistics and the methodology page are not releases.
    assert [urlsplit(r.url).path for r in requests] == [
        f"/api/content{MI}",
        f"/api/content{OFFICIAL}",
    ]
    assert spider.candidates == {MI: MI_AT, OFFICIAL: OFFICIAL_AT}  # "Z" and "+00:00" alike
    assert spider.search_hits == 2 and spider.collection_read


def test_the_search_asks_for_ofsteds_statistics_newest_first() -> None:
    spider = StatisticsSpider(base_url=BASE)
    query = parse_qs(urlsplit(spider._search_request().url).query)
    assert query["filter_organisations"] == ["ofsted"]
    assert query["filter_content_store_document_type"] == [
        "statistical_data_set",
        "official_statistics",
    ]
    assert query["order"] == ["-public_timestamp"]


def test_a_release_read_at_the_same_version_is_not_fetched_again() -> None:
    spider = StatisticsSpider(
        base_url=BASE, marks={MI: MI_AT, OFFICIAL: "2020-01-01T00:00:00+00:00"}
    )
    requests = [r for r in _listings(spider) if isinstance(r, Request)]
    assert [urlsplit(r.url).path for r in requests] == [f"/api/content{OFFICIAL}"]


def test_a_release_names_its_spreadsheet_at_the_assets_host() -> None:
    spider = StatisticsSpider(base_url=BASE)
    (request,) = _release(spider, MI, MI_AT)  # the HTML attachment is not a spreadsheet
    assert request.url == f"{ASSETS}/67d1a2b3c4d5e6f708192a3b/{MI_2023_FILE}"
    assert request.meta["sendwatch_noun"] == "spreadsheets"


def test_2023_framework_rows_exact_fields() -> None:
    spider = StatisticsSpider(base_url=BASE)
    results = _read(spider, MI, MI_AT, framework_2023(), MI_2023_FILE)
    items = [r for r in results if isinstance(r, SourceItem)]
    assert results[-1] == MarkItem(MI, MI_AT)  # the release is handled once all is read
    assert [i.identity for i in items] == [
        "E09000004/inspection/2024-02-23",
        "E06000009/inspection/2024-07-25",
        "E06000055/inspection/2025-02-04",
        "E06000023/inspection/2024-05-17",
    ]
    bexley = items[0]
    assert bexley.source == "statistics"
    assert bexley.url == BASE + MI
    assert bexley.title == "Area SEND inspection of Bexley: Widespread and/or systemic failings"
    assert bexley.published_on == dt.date(2024, 2, 23)
    assert bexley.happened_on_hint == dt.date(2024, 2, 23)
    assert bexley.kind_hint is Kind.INSPECTION_REPORT
    assert bexley.la_hint == "Bexley Council"
    assert bexley.extra == {
        "framework": "2023 framework",
        "statistics_area": "Bexley",
        "ofsted_outcome": "Widespread and/or systemic failings",
        "inspection_start": "2023-12-04",
        "priority_action_plan": True,
        "priority_actions": 5,
        "ofsted_region": "London",
    }
    assert bexley.text == (
        "Ofsted's area SEND statistics record the area SEND inspection of Bexley, started"
        " 4 December 2023, published 23 February 2024. Inspection outcome: There are widespread"
        " and/or systemic failings leading to significant concerns about the experiences and"
        " outcomes of children and young people with SEND. A priority action plan is required."
        " 5 areas for priority action."
    )
    bedford = items[2]  # named the Ofsted way, "Bedford Borough"
    assert bedford.la_hint == "Bedford Council"
    assert bedford.extra["statistics_area"] == "Bedford Borough"
    assert items[3].published_on == dt.date(2024, 5, 17)  # a date written as text


def test_each_row_becomes_the_finding_of_its_kind_and_outcome() -> None:
    spider = StatisticsSpider(base_url=BASE)
    items = [
        *_read(spider, MI, MI_AT, framework_2023(), MI_2023_FILE),
        *_read(spider, OFFICIAL, OFFICIAL_AT, framework_2016(), FRAMEWORK_2016_FILE),
    ]
    findings = [
        to_finding(item, extract(document_of(item)))
        for item in items
        if isinstance(item, SourceItem)
    ]
    assert [(f.la_code, f.kind, f.outcome, f.happened_on) for f in findings] == [
        ("E09000004", Kind.INSPECTION_REPORT, Outcome.SIGNIFICANT_CONCERNS, dt.date(2024, 2, 23)),
        ("E06000009", Kind.INSPECTION_REPORT, Outcome.INCONSISTENT, dt.date(2024, 7, 25)),
        ("E06000055", Kind.INSPECTION_REPORT, Outcome.POSITIVE, dt.date(2025, 2, 4)),
        ("E06000023", Kind.INSPECTION_REPORT, Outcome.SIGNIFICANT_CONCERNS, dt.date(2024, 5, 17)),
        ("E08000015", Kind.WSOA, Outcome.WSOA_REQUIRED, dt.date(2021, 12, 14)),
        ("E08000015", Kind.MONITORING_INSPECTION, Outcome.PARTIAL_PROGRESS, dt.date(2023, 3, 7)),
        ("E06000010", Kind.WSOA, Outcome.WSOA_REQUIRED, dt.date(2018, 11, 20)),
    ]
    assert findings[0].fields["priority_actions"] == 5
    revisit = findings[5]
    assert revisit.identity == "E08000015/revisit/2023-03-07"
    assert revisit.title == (
        "Area SEND revisit of Wirral: sufficient progress in addressing 3 of the 5 significant"
        " weaknesses"
    )
    assert revisit.url == "https://reports.ofsted.gov.uk/provider/44/80567"  # the row's link
    assert revisit.fields["revisit_progress"] == "some"
    # Its counts, from the sheet's two columns after the revisit outcome.
    assert (revisit.fields["areas_addressed"], revisit.fields["areas_total"]) == (3, 5)
    # Cumbria's 2017 row: a council abolished since, skipped and said so.
    assert spider.tally.abolished == {"Cumbria"}
    assert not spider.tally.unmatched and not spider.tally.problems


def test_a_row_repeated_by_a_later_release_is_yielded_once_a_run() -> None:
    spider = StatisticsSpider(base_url=BASE)
    first = _read(spider, MI, MI_AT, framework_2023(), MI_2023_FILE)
    again = _read(spider, OFFICIAL, OFFICIAL_AT, framework_2023(), "again.ods")
    assert len([i for i in first if isinstance(i, SourceItem)]) == 4
    assert [i for i in again if isinstance(i, SourceItem)] == []


def test_an_unknown_layout_records_nothing_and_leaves_the_release_unread() -> None:
    spider = StatisticsSpider(base_url=BASE)
    assert _read(spider, MI, MI_AT, unknown_layout(), MI_2023_FILE) == []


def test_a_council_not_in_the_register_is_skipped_never_guessed() -> None:
    rows = [["", "Kingston", "London", None, dt.date(2024, 1, 5), "Inconsistent", "No", None]]
    spider = StatisticsSpider(base_url=BASE)
    results = _read(spider, MI, MI_AT, framework_2023(rows=rows), MI_2023_FILE)
    assert [r for r in results if isinstance(r, SourceItem)] == []
    assert spider.tally.unmatched == ["'Kingston' (All_ASEND_Jan_2023_to_Dec_2024 row 6)"]


def test_the_data_sheet_is_found_by_its_header_row_whatever_its_name() -> None:
    sheet = read_workbook(framework_2023(sheet="Area_SEND_as_at_31_Mar_2023"))
    assert (sheet.name, sheet.layout, sheet.header_row) == (
        "Area_SEND_as_at_31_Mar_2023",
        FRAMEWORK_2023,
        5,
    )
    assert [i.area for i in sheet.inspections] == [row[1] for row in ROWS_2023]
    old = read_workbook(framework_2016())
    assert (old.name, old.layout, old.header_row) == (
        "Area_SEND_up_to_31_Aug_2022",
        FRAMEWORK_2016,
        5,
    )
    hull = old.inspections[1]
    assert (hull.code, hull.area, hull.outcome, hull.weaknesses, hull.revisit) == (
        "E06000010",
        "Kingston upon Hull, City of",
        Outcome.WSOA_REQUIRED,
        4,
        None,  # "Not revisited yet"
    )


def test_headers_with_note_markers_are_still_known() -> None:
    header = [
        "Local area partnership [note 2]",
        "Inspection publication date [note 3]",
        "Inspection outcome",
    ]
    body = ods_bytes(
        [
            (
                "Data",
                [
                    ["Title"],
                    header,
                    ["Bristol", dt.date(2024, 5, 17), "Inconsistent experiences and outcomes"],
                ],
            )
        ]
    )
    sheet = read_workbook(body)
    assert sheet.header_row == 2 and sheet.inspections[0].outcome is Outcome.INCONSISTENT


def test_an_unknown_outcome_is_a_problem_not_a_guess() -> None:
    rows = [
        ["", "Bexley", "London", None, dt.date(2024, 2, 23), "Requires improvement", "No", None]
    ]
    sheet = read_workbook(framework_2023(rows=rows))
    assert sheet.inspections == []
    assert sheet.problems == [
        "row 6: Bexley: inspection outcome 'Requires improvement' is not one known"
    ]


def test_a_workbook_without_a_known_header_is_refused() -> None:
    with pytest.raises(UnknownLayout, match=r"no sheet has a known header row.*'Data_2025'"):
        read_workbook(unknown_layout())


@pytest.mark.parametrize(
    ("written", "council"),
    [
        ("Bristol", "Bristol"),
        ("Bristol, City of", "Bristol"),
        ("Durham", "County Durham"),
        ("Kingston upon Hull", "Kingston upon Hull"),
        ("Kingston upon Hull, City of", "Kingston upon Hull"),
        ("St Helens", "St Helens"),
        ("St. Helens", "St Helens"),
        ("Bedford Borough", "Bedford"),
        ("Herefordshire, County of", "Herefordshire"),
        ("Reading", "Reading"),
        ("Kingston", None),  # Hull or Kingston upon Thames: no guess
    ],
)
def test_councils_as_ofsted_and_dfe_name_them(written: str, council: str | None) -> None:
    found = council_named(written)
    assert (found.name if found else None) == council
