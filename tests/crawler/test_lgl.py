"""The lgl spider on a saved RSS feed, listing page and articles: exact fields."""

from __future__ import annotations

import datetime as dt

from scrapy import Request

from crawler.items import MarkItem
from crawler.spiders.lgl import LglSpider
from tests.crawler.conftest import file_response

BASE = "https://www.localgovernmentlawyer.co.uk"
SECTION = "/education-law/394-education-news"


def test_feed_fetches_promising_articles_and_marks_the_rest() -> None:
    spider = LglSpider(base_url=BASE, marks={"56990": "1"})
    response = file_response("lgl/feed.xml", f"{BASE}{SECTION}?format=feed&type=rss")
    results = list(spider.parse_feed(response))

    requests = [r for r in results if isinstance(r, Request)]
    assert [r.url for r in requests] == [
        f"{BASE}{SECTION}/57253-council-hit-with-improvement-notice-following-send-inspection",
        f"{BASE}{SECTION}/57005-council-issued-with-improvement-notice-over-childrens-social-care",
    ]
    assert requests[0].cb_kwargs["article_id"] == "57253"
    assert requests[0].cb_kwargs["listed"][2] == dt.date(2024, 5, 2)
    assert [r for r in results if isinstance(r, MarkItem)] == [MarkItem("57300", "1")]


def test_html_listing_cards() -> None:
    spider = LglSpider(base_url=BASE)
    response = file_response("lgl/listing.html", f"{BASE}{SECTION}")
    results = list(spider.parse_listing(response, page=0))

    requests = [r for r in results if isinstance(r, Request) and r.callback == spider.parse_article]
    assert [r.cb_kwargs["article_id"] for r in requests] == ["57253", "56990", "57005"]
    title, standfirst, published = requests[0].cb_kwargs["listed"]
    assert title == "Council hit with improvement notice following SEND inspection"
    assert standfirst.startswith("The Department for Education has issued a London borough")
    assert published == dt.date(2024, 5, 2)
    assert MarkItem("57300", "1") in results
    (next_page,) = [
        r for r in results if isinstance(r, Request) and r.callback == spider.parse_listing
    ]
    assert next_page.url == f"{BASE}{SECTION}?start=20"


def test_article_fields() -> None:
    spider = LglSpider(base_url=BASE)
    url = f"http://mail.localgovernmentlawyer.co.uk{SECTION}/57253-council-hit-with-improvement-notice-following-send-inspection"
    response = file_response("lgl/articles/57253.html", url)
    (item,) = list(spider.parse_article(response, article_id="57253", listed=("", "", None)))

    assert item.source == "lgl"
    assert item.identity == "57253"
    assert item.url == (
        "https://www.localgovernmentlawyer.co.uk"
        f"{SECTION}/57253-council-hit-with-improvement-notice-following-send-inspection"
    )
    assert item.title == "Council hit with improvement notice following SEND inspection"
    assert item.published_on == dt.date(2024, 5, 2)
    assert item.text.startswith("The Department for Education has issued a London borough")
    assert "yesterday (1 May)" in item.text
    assert "SPOTLIGHT" not in item.text and "Surrey" not in item.text  # the sponsored box is gone
    assert "Westminster debate" not in item.text  # the sidebar is not the article
    assert item.extra == {"article_id": "57253"}
    assert item.mark == ("57253", "1")
