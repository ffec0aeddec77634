"""The lgl spider on a saved RSS feed, listing page and articles: exact fields.

The saved feed is like the real one: the whole archive (60 items of every section, back
to 2019), linked under every host of the site, titles capitalised freely. Its newest entry
is 20 January 2026 16:05 UTC; the SEND items the end-to-end tests need are from 2024.
The saved articles read as the real pages do (../shared/SOURCES.md): a "GLD Vacancies"
banner, a SPOTLIGHT box, the headline, the body, the author's name last, and no date: an
article's date is its feed entry's or listing card's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, XmlResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler.extract import extract, worth_reading
from crawler.items import MarkItem, SourceItem
from crawler.pipelines import document_of
from crawler.spiders.lgl import WATERMARK, LglSpider
from sendwatch.vocab import Kind
from tests.crawler.conftest import file_response
from tests.paths import SAMPLES

BASE = "https://www.localgovernmentlawyer.co.uk"
SECTION = "/education-law/394-education-news"
FEED = f"{BASE}{SECTION}?format=feed&type=rss"
NOTICE = "57253-council-hit-with-improvement-notice-following-send-inspection"
REPORT = "56990-ofsted-finds-widespread-failings-in-bexley-send-services"
NOTICE_URL = f"https://localgovernmentlawyer.co.uk{SECTION}/{NOTICE}"  # linked without www
REPORT_URL = f"https://www.j5.localgovernmentlawyer.co.uk/education/394-education-news/{REPORT}"
NEWEST = "2026-01-20T16:05:00+00:00"  # the feed's newest entry (a planning appeal)
TODAY = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


def _spider(marks: dict[str, str] | None = None, **options: Any) -> LglSpider:
    return LglSpider(base_url=BASE, marks=marks, **{"now": TODAY, **options})


def _feed(spider: LglSpider, body: bytes | None = None) -> list[Any]:
    if body is None:
        return list(spider.parse_feed(file_response("lgl/feed.xml", FEED)))
    return list(spider.parse_feed(XmlResponse(url=FEED, body=body, encoding="utf-8")))


def _requests(results: Iterable[Any]) -> list[Request]:
    return [r for r in results if isinstance(r, Request)]


def _marks(results: Iterable[Any]) -> list[MarkItem]:
    return [r for r in results if isinstance(r, MarkItem)]


def _answer(spider: LglSpider, request: Request) -> list[Any]:
    """The article the request asked for, as the fixture site serves it, through its callback."""
    article_id = request.cb_kwargs["article_id"]
    body = (SAMPLES / "lgl" / "articles" / f"{article_id}.html").read_bytes()
    response = HtmlResponse(url=request.url, body=body, encoding="utf-8", request=request)
    assert request.callback == spider.parse_entry
    return list(spider.parse_entry(response, **request.cb_kwargs))


def _fail(spider: LglSpider, request: Request, status: int = 503) -> list[Any]:
    response = HtmlResponse(url=request.url, status=status, body=b"", request=request)
    failure = Failure(HttpError(response, "Ignoring non-200 response"))
    failure.request = request  # type: ignore[attr-defined]
    assert request.errback == spider.entry_failed
    return list(spider.entry_failed(failure))


def _item(url: str, title: str, date: str, description: str = "Standfirst.") -> bytes:
    return (
        f"<item><title>{title}</title><link>{url}</link>"
        f"<description><![CDATA[<p>{description}</p>]]></description>"
        f"<pubDate>{date}</pubDate></item>"
    ).encode()


def _with_items(*items: bytes) -> bytes:
    """The saved feed with `items` put first, as a newer feed would have them."""
    feed = (SAMPLES / "lgl" / "feed.xml").read_bytes()
    return feed.replace(b"<item>", b"".join(items) + b"<item>", 1)


def test_first_crawl_reads_the_promising_articles_back_to_the_backfill() -> None:
    spider = _spider()
    results = _feed(spider)

    requests = _requests(results)
    # 60 entries; of the six about SEND notices and inspections, four are older than 730
    # days before the newest entry (20 January 2024): not read.
    assert [r.url for r in requests] == [NOTICE_URL, REPORT_URL]  # at the host each names
    assert [r.cb_kwargs for r in requests] == [
        {
            "article_id": "57253",
            "listed": (
                "Council hit with Improvement Notice following SEND inspection",
                "The Department for Education has issued a London borough with an improvement"
                " notice over its services for children with special educational needs and"
                " disabilities.",
                dt.date(2024, 5, 2),
            ),
            "stamp": dt.datetime(2024, 5, 2, 8, 12, tzinfo=dt.UTC),
        },
        {
            "article_id": "56990",
            "listed": (
                "Ofsted Finds Widespread Failings In Send Services In London Borough",
                "An area SEND inspection has found widespread and/or systemic failings leading"
                " to significant concerns in Bexley.",
                dt.date(2024, 2, 26),
            ),
            "stamp": dt.datetime(2024, 2, 26, 8, 30, tzinfo=dt.UTC),
        },
    ]
    assert all(r.meta["dont_cache"] for r in requests)
    # No mark per irrelevant entry, and no watermark until both articles are answered.
    assert _marks(results) == []


def test_backfill_days_is_how_far_the_first_crawl_reaches() -> None:
    spider = _spider(backfill_days=3650)
    assert [r.cb_kwargs["article_id"] for r in _requests(_feed(spider))] == [
        "57253",
        "56990",
        "56702",  # 11 January 2024: written statement of action
        "53318",  # 2023: improvement notice
        "44907",  # 2022: area SEND revisit
        "35011",  # 2020: statutory direction
    ]
    assert [r.cb_kwargs["article_id"] for r in _requests(_feed(_spider(backfill_days=30)))] == []


def test_the_backfill_counts_from_today_when_the_feed_dates_an_entry_later() -> None:
    spider = _spider(now=dt.datetime(2025, 3, 1, tzinfo=dt.UTC), backfill_days=400)
    # 400 days before 1 March 2025 (not before the feed's newest entry, January 2026).
    assert [r.cb_kwargs["article_id"] for r in _requests(_feed(spider))] == ["57253", "56990"]
    spider = _spider(now=dt.datetime(2025, 3, 1, tzinfo=dt.UTC), backfill_days=300)
    assert [r.cb_kwargs["article_id"] for r in _requests(_feed(spider))] == []


def test_the_watermark_is_written_when_the_last_article_is_read() -> None:
    spider = _spider()
    first, second = _requests(_feed(spider))

    answered = _answer(spider, first)
    assert [type(r) for r in answered] == [SourceItem]  # one still outstanding
    assert answered[0].mark == ("57253", "1")
    answered = _answer(spider, second)
    assert [type(r) for r in answered] == [SourceItem, MarkItem]
    assert answered[0].mark == ("56990", "1")
    assert answered[1] == MarkItem(WATERMARK, NEWEST)


def test_an_unchanged_feed_asks_for_nothing_and_writes_nothing() -> None:
    # The marks the first crawl left; Scrapy serves the cached feed again on a 304.
    spider = _spider({"57253": "1", "56990": "1", WATERMARK: NEWEST})
    assert _feed(spider) == []


def test_a_newer_entry_is_read_and_moves_the_watermark() -> None:
    notice = f"{BASE}{SECTION}/101204-improvement-notice-issued-to-council-over-send-failings"
    body = _with_items(
        _item(
            notice,
            "Improvement Notice Issued To Council Over Send Failings",
            "Tue, 24 Nov 2026 10:30:00 +0000",
        ),
        _item(
            f"{BASE}/planning/318-planning-news/101203-x",
            "Planning inspector rejects appeal",
            "Tue, 24 Nov 2026 09:00:00 +0000",
        ),
    )
    spider = _spider({"57253": "1", "56990": "1", WATERMARK: NEWEST})
    results = _feed(spider, body)
    assert [r.url for r in _requests(results)] == [notice]
    assert _marks(results) == []
    failure = _fail(spider, _requests(results)[0], 404)
    assert failure == [MarkItem(WATERMARK, "2026-11-24T10:29:59+00:00")]  # tried again next time

    # Only irrelevant news since: nothing to read, and the watermark moves at once.
    spider = _spider({WATERMARK: NEWEST})
    body = _with_items(
        _item(
            f"{BASE}/governance/308-governance-news/101190-x",
            "Minister to send commissioner to council",
            "Mon, 23 Nov 2026 09:00:00 +0000",
        )
    )
    assert _feed(spider, body) == [MarkItem(WATERMARK, "2026-11-23T09:00:00+00:00")]


def test_a_misdated_entry_does_not_move_the_watermark_past_today() -> None:
    body = _with_items(
        _item(
            f"{BASE}/planning/318-planning-news/101300-x",
            "Planning inspector rejects appeal",
            "Fri, 01 Jan 2100 09:00:00 +0000",
        )
    )
    spider = _spider({WATERMARK: NEWEST})
    assert _feed(spider, body) == [MarkItem(WATERMARK, TODAY.isoformat())]


def test_a_failed_article_keeps_the_watermark_below_it_and_is_read_again() -> None:
    spider = _spider()
    notice, report = _requests(_feed(spider))

    assert _fail(spider, notice) == []  # the report is still outstanding
    answered = _answer(spider, report)
    assert [type(r) for r in answered] == [SourceItem, MarkItem]
    assert answered[-1] == MarkItem(WATERMARK, "2024-05-02T08:11:59+00:00")

    again = _spider({"56990": "1", WATERMARK: answered[-1].value})
    results = _feed(again)
    assert [r.url for r in _requests(results)] == [NOTICE_URL]
    (retry,) = _requests(results)
    assert _answer(again, retry)[-1] == MarkItem(WATERMARK, NEWEST)


def test_an_unreadable_article_counts_as_failed() -> None:
    spider = _spider()
    notice, report = _requests(_feed(spider))
    broken = HtmlResponse(url=notice.url, body=b"<html><body></body></html>", request=notice)

    assert list(spider.parse_entry(broken, **notice.cb_kwargs)) == []
    assert _answer(spider, report)[-1] == MarkItem(WATERMARK, "2024-05-02T08:11:59+00:00")


def test_every_host_is_one_article() -> None:
    path = f"{SECTION}/{NOTICE}"
    body = _with_items(
        *(
            _item(url, "Council hit with improvement notice following SEND inspection", date)
            for url, date in (
                (f"https://mail.localgovernmentlawyer.co.uk{path}", "Thu, 02 May 2024 09:12 +0100"),
                (f"{BASE}{path}", "Thu, 02 May 2024 09:12:00 +0100"),
                (
                    f"https://www.j5.localgovernmentlawyer.co.uk/education/{NOTICE}",
                    "Thu, 02 May 2024 09:12:00 +0100",
                ),
            )
        )
    )
    requests = _requests(_feed(_spider(), body))
    assert [(r.cb_kwargs["article_id"], r.url) for r in requests] == [
        ("57253", f"https://mail.localgovernmentlawyer.co.uk{path}"),  # the first link, as named
        ("56990", REPORT_URL),
    ]
    # Read under one host, handled under all.
    handled = _requests(_feed(_spider({"57253": "1"}), body))
    assert [r.cb_kwargs["article_id"] for r in handled] == ["56990"]

    response = file_response(
        "lgl/articles/57253.html", f"https://www.j5.localgovernmentlawyer.co.uk/education/{NOTICE}"
    )
    (item,) = LglSpider(base_url=BASE).parse_article(
        response, article_id="57253", listed=("", "", None)
    )
    assert (item.identity, item.url) == ("57253", f"{BASE}/education/{NOTICE}")


@pytest.mark.parametrize(
    ("title", "standfirst", "worth"),
    [
        ("Council hit with Improvement Notice following SEND inspection", "", True),
        ("Ofsted Finds Widespread Failings In Send Services", "", True),
        ("OFSTED FINDS WIDESPREAD FAILINGS IN SEND SERVICES", "", True),
        ("Area Send Inspection Finds Significant Weaknesses", "", True),
        ("Council hit with improvement notice", "The DfE said it was not satisfied.", True),
        ("Statutory Direction Issued To Council", "", True),
        ("Written Statement Of Action Accepted", "", True),
        ("Minister to send commissioner to council", "", False),
        ("MINISTER TO SEND COMMISSIONER TO COUNCIL", "", False),
        ("Council To Send Letters To Parents After Inspection", "", False),
        ("Planning inspector rejects appeal", "", False),
        ("OFSTED RATES ACADEMY INADEQUATE", "", False),
        ("Council issued with improvement notice over children's social care services", "", False),
        ("Landlord Fined After Failing To Comply With Improvement Notice", "", False),
        ("Upper Tribunal rules on EHC plan appeal after SEND tribunal error", "", False),
    ],
)
def test_worth_reading_is_case_insensitive(title: str, standfirst: str, worth: bool) -> None:
    assert worth_reading(title, standfirst) is worth


#: The article 57253's words as read: its body, without the banner, the SPOTLIGHT box (which
#: name other councils: Bristol, Leeds, Kent, Surrey), the headline or the author.
NOTICE_TEXT = (
    "The Department for Education has issued a London borough with an improvement notice over"
    " its services for children with special educational needs and disabilities.\n"
    "The London Borough of Bexley was issued with the improvement notice yesterday (1 May) by"
    " the Department for Education, after Ofsted and the Care Quality Commission found"
    " widespread and/or systemic failings in the area's SEND arrangements earlier this year.\n"
    "The notice requires the council and its NHS partners to deliver improvements by the end of"
    " August 2025. Inspectors had identified two areas for priority action.\n"
    "A Bexley Council spokesperson said the authority accepted the findings and was already"
    " working with parents to improve services.\n"
    "Neighbouring Bromley was not affected."
)


def _assert_the_notice_article(item: SourceItem, url: str) -> None:
    """The article 57253 exactly, dated by its listing entry (the page has no date)."""
    assert item.source == "lgl"
    assert item.identity == "57253"
    assert item.url == url
    assert item.title == "Council hit with improvement notice following SEND inspection"
    assert item.published_on == dt.date(2024, 5, 2)
    assert item.text == NOTICE_TEXT
    assert item.extra == {"article_id": "57253"}
    assert item.mark == ("57253", "1")
    for junk in ("GLD Vacancies", "Government Legal Department", "SPOTLIGHT", "Sponsored"):
        assert junk not in item.title and junk not in item.text
    found = extract(document_of(item, LglSpider.official))
    assert found.kind == Kind.IMPROVEMENT_NOTICE
    assert found.local_authority is not None
    assert (found.local_authority.name, found.local_authority.ons_code) == ("Bexley", "E09000004")
    # "yesterday (1 May)", counted from the listing's date.
    assert found.happened_on == dt.date(2024, 5, 1)


def test_html_listing_cards() -> None:
    spider = _spider(now=dt.datetime(2024, 6, 1, tzinfo=dt.UTC))
    response = file_response("lgl/listing.html", f"{BASE}{SECTION}")
    results = list(spider.parse_listing(response, page=0))

    requests = [r for r in results if isinstance(r, Request) and r.callback == spider.parse_article]
    assert [r.cb_kwargs["article_id"] for r in requests] == ["57253", "56990"]
    title, standfirst, published = requests[0].cb_kwargs["listed"]
    assert title == "Council hit with improvement notice following SEND inspection"
    assert standfirst.startswith("The Department for Education has issued a London borough")
    assert published == dt.date(2024, 5, 2)  # the card's "May 02, 2024"
    assert _marks(results) == []
    (next_page,) = [
        r for r in results if isinstance(r, Request) and r.callback == spider.parse_listing
    ]
    assert next_page.url == f"{BASE}{SECTION}?start=20"

    # The article, read from the card's link, is dated by the card.
    notice = requests[0]
    body = (SAMPLES / "lgl" / "articles" / "57253.html").read_bytes()
    response = HtmlResponse(url=notice.url, body=body, encoding="utf-8", request=notice)
    (item,) = spider.parse_article(response, **notice.cb_kwargs)
    _assert_the_notice_article(item, f"{BASE}{SECTION}/{NOTICE}")


def test_html_listing_stops_at_the_backfill() -> None:
    spider = _spider()  # 2026: every card on the page is older than 730 days
    response = file_response("lgl/listing.html", f"{BASE}{SECTION}")
    assert list(spider.parse_listing(response, page=0)) == []


def test_article_fields() -> None:
    """The article as a crawl reads it: from its feed entry's link, dated by the entry."""
    spider = _spider()
    notice, _report = _requests(_feed(spider))
    assert notice.url == NOTICE_URL

    item, *_rest = _answer(spider, notice)
    assert isinstance(item, SourceItem)
    _assert_the_notice_article(item, f"https://www.localgovernmentlawyer.co.uk{SECTION}/{NOTICE}")


def test_the_article_page_has_no_date_of_its_own() -> None:
    """As on the real site: no time element, no published meta, no date line. Read without a
    listing entry (`sendwatch extract` without --date), the article is undated."""
    page = (SAMPLES / "lgl" / "articles" / "57253.html").read_text()
    for dated in ("<time", "published", "datePublished", "2024"):
        assert dated not in page
    url = f"http://mail.localgovernmentlawyer.co.uk{SECTION}/{NOTICE}"
    response = file_response("lgl/articles/57253.html", url)
    (item,) = LglSpider(base_url=BASE).parse_article(
        response, article_id="57253", listed=("", "", None)
    )
    assert item.published_on is None
    assert item.title == "Council hit with improvement notice following SEND inspection"
    assert item.text == NOTICE_TEXT


def test_a_date_elsewhere_on_the_page_never_dates_a_listed_article() -> None:
    """Whatever date a page's boxes show (a "latest news" module's), the listing's wins."""
    spider = _spider()
    notice, _report = _requests(_feed(spider))
    body = (SAMPLES / "lgl" / "articles" / "57253.html").read_bytes()
    latest = (
        b'<aside><h3>Latest</h3><time datetime="2026-01-20T16:05:00+00:00">Jan 20</time></aside>'
    )
    body = body.replace(b"</main>", latest + b"</main>")
    response = HtmlResponse(url=notice.url, body=body, encoding="utf-8", request=notice)
    item, *_rest = spider.parse_entry(response, **notice.cb_kwargs)
    assert isinstance(item, SourceItem) and item.published_on == dt.date(2024, 5, 2)
    # Read alone (no listing entry), a page is dated by what it shows, if anything.
    (alone,) = LglSpider(base_url=BASE).parse_article(response, "57253", ("", "", None))
    assert alone.published_on == dt.date(2026, 1, 20)
