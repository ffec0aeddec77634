"""The ombudsman spider on the SEND category listing and decision pages built from the stored
copies of www.lgo.org.uk (README "ombudsman"): exact fields, the watermark, bodies that are not
councils, an outcome label the vocabulary lacks; then `sendwatch crawl ombudsman` twice
against the fixture site, the second poll costing the one listing request.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse
from sqlalchemy import select

from app.demo.site import LGO, LGO_SEND, FixtureSite
from crawler.extract import extract
from crawler.items import MarkItem, SourceItem
from crawler.pipelines import document_of, to_finding
from crawler.spiders.ombudsman import WATERMARK, OmbudsmanSpider, remedy_of
from crawler.verdict import LAYOUT_CHANGED, RUN_NOTE, STANDING_ALARM
from sendwatch.vocab import OmbudsmanOutcome, ombudsman_outcome
from storage.models import Alarm, Event, Finding
from storage.store import Store
from tests.crawler.conftest import file_response
from tests.paths import COMMAND, fixture

BASE = "https://www.lgo.org.uk"
LISTING = f"{BASE}{LGO_SEND}"
TODAY = dt.datetime(2025, 10, 1, 12, 0, tzinfo=dt.UTC)
SOMERSET = "E06000066"


class Stats(dict[str, Any]):
    """The few stats calls a spider makes, kept in a dict."""

    def get_value(self, key: str, default: Any = None) -> Any:
        return self.get(key, default)

    def set_value(self, key: str, value: Any) -> None:
        self[key] = value

    def inc_value(self, key: str, count: int = 1, start: int = 0) -> None:
        self[key] = self.get(key, start) + count


class Crawler:
    def __init__(self) -> None:
        self.stats = Stats()


def _spider(marks: dict[str, str] | None = None, **options: Any) -> OmbudsmanSpider:
    spider = OmbudsmanSpider(base_url=BASE, marks=marks, **{"now": TODAY, **options})
    spider.crawler = Crawler()  # type: ignore[assignment]
    return spider


def _listing(spider: OmbudsmanSpider, relative: str = "ombudsman/listing.html") -> list[Any]:
    spider.reached.pending += 1  # as `start` counts it
    return list(spider.parse_listing(file_response(relative, LISTING), page=0))


def _html(spider: OmbudsmanSpider, body: str) -> list[Any]:
    spider.reached.pending += 1
    response = HtmlResponse(url=LISTING, body=body.encode(), encoding="utf-8")
    return list(spider.parse_listing(response, page=0))


def _answer(spider: OmbudsmanSpider, request: Request) -> list[Any]:
    """A request answered by the fixture site's file for it, through its callback."""
    path = request.url.removeprefix(BASE)
    relative = (
        "ombudsman/listing-2.html"
        if "page=" in path
        else f"ombudsman/decisions/{path.rsplit('/', 1)[-1]}.html"
    )
    body = fixture(relative).read_bytes()
    response = HtmlResponse(url=request.url, body=body, encoding="utf-8", request=request)
    return list(request.callback(response, **request.cb_kwargs))  # type: ignore[misc]


def _crawl_all(spider: OmbudsmanSpider) -> list[Any]:
    """Every output of a crawl from the first listing page, requests answered in turn."""
    queue = _listing(spider)
    done: list[Any] = []
    while queue:
        output = queue.pop(0)
        if isinstance(output, Request):
            queue += _answer(spider, output)
        else:
            done.append(output)
    return done


def _items(outputs: Iterable[Any]) -> list[SourceItem]:
    return [o for o in outputs if isinstance(o, SourceItem)]


def _requests(outputs: Iterable[Any]) -> list[Request]:
    return [o for o in outputs if isinstance(o, Request)]


def _marks(outputs: Iterable[Any]) -> dict[str, str]:
    return {o.key: o.value for o in outputs if isinstance(o, MarkItem)}


def _record(item: SourceItem) -> dict[str, Any]:
    finding = to_finding(item, extract(document_of(item, official=True)), official=True)
    return {
        "identity": finding.identity,
        "kind": str(finding.kind),
        "la_code": finding.la_code,
        "happened_on": finding.happened_on,
        "outcome": str(finding.outcome),
        "remedy_gbp": finding.fields.get("remedy_gbp"),
        "title": finding.title,
        "url": finding.url,
    }


def test_each_decision_is_recorded_once_with_its_council_outcome_date_case_and_remedy() -> None:
    spider = _spider()
    outputs = _crawl_all(spider)
    records = [_record(item) for item in _items(outputs)]
    assert [
        (r["identity"], r["la_code"], r["outcome"], str(r["happened_on"])) for r in records
    ] == [
        ("24 019 137", "E08000009", "upheld", "2025-09-30"),  # Trafford
        ("24 000 821", "E08000014", "upheld", "2025-09-30"),  # Sefton
        ("25 009 041", "E10000016", "closed_after_initial_enquiries", "2025-09-30"),  # Kent
        ("24 018 703", "E10000017", "upheld", "2025-09-23"),  # Lancashire
        ("24 006 256", "E10000017", "upheld", "2025-03-17"),
        ("24 015 493", SOMERSET, "upheld", "2025-06-19"),  # its page read for its summary
    ]
    assert {r["kind"] for r in records} == {"ombudsman_decision"}
    somerset = next(r for r in records if r["la_code"] == SOMERSET)
    assert somerset["title"] == "Somerset Council (24 015 493)"
    assert somerset["url"] == f"{LISTING}/24-015-493"
    assert somerset["remedy_gbp"] == 1950
    # "£300 for her own injustice and £1300 for the benefit of C's education"; none stated.
    assert [r["remedy_gbp"] for r in records if r["la_code"] == "E10000017"] == [None, 1600]
    # Each decision once, by its case number; the watermark its newest date.
    assert len({r["identity"] for r in records}) == len(records)
    assert _marks(outputs)[WATERMARK] == "2025-09-30"


def test_a_second_poll_with_nothing_new_asks_for_nothing_but_the_listing() -> None:
    first = _crawl_all(_spider())
    marks = _marks(first) | {item.mark[0]: item.mark[1] for item in _items(first) if item.mark}
    spider = _spider(marks)
    outputs = _listing(spider)
    assert outputs == []  # no item, no decision page, no next page, the watermark unchanged


def test_only_a_new_statement_is_recorded_on_the_next_poll() -> None:
    first = _crawl_all(_spider())
    marks = _marks(first) | {item.mark[0]: item.mark[1] for item in _items(first) if item.mark}
    marks.pop("25-009-041")  # as if Kent's statement were new today
    spider = _spider(marks)
    outputs = _listing(spider)
    assert [item.identity for item in _items(outputs)] == ["25 009 041"]
    # Page 1 named a new one and ends within the overlap: page 2 is read, and is all older.
    [next_page] = _requests(outputs)
    assert next_page.url == f"{LISTING}?page=2"
    assert _answer(spider, next_page) == []


def test_decisions_about_an_academy_trust_or_a_care_home_are_not_recorded() -> None:
    spider = _spider()
    outputs = _crawl_all(spider)
    assert not any("Trust" in i.title or "Care Home" in i.title for i in _items(outputs))
    # Marked, so never read again; said in the run's note.
    assert _marks(outputs)["25-010-101"] == "1"
    assert _marks(outputs)["25-020-202"] == "1"
    spider.closed("finished")
    stats = spider.crawler.stats  # type: ignore[attr-defined]
    assert stats[RUN_NOTE] == (
        "2 decisions about bodies that are not councils skipped,"
        " e.g. Bright Futures Academy Trust (25 010 101);"
        # The fixture listing ends in March 2025, short of the year's backfill: said, not failed.
        " the listing reaches back to 2025-03-10 only (the backfill asked for 2024-10-01)"
    )
    assert STANDING_ALARM not in stats


def test_an_unknown_outcome_label_is_recorded_as_unrecognised_and_alarmed_once(
    store: Store,
) -> None:
    body = fixture("ombudsman/listing.html").read_text()
    body = body.replace(
        "Statement Closed after initial enquiries Special educational needs",
        "Statement Partly upheld Special educational needs",
    ).replace(
        '<p class="pager"><a href="/decisions/education/special-educational-needs?page=2">', "<p>"
    )
    spider = _spider({WATERMARK: "2025-09-29"})
    outputs = _html(spider, body)
    kent = next(item for item in _items(outputs) if item.identity == "25 009 041")
    assert _record(kent)["outcome"] == "unrecognised"
    assert kent.extra["decision"] == "Partly upheld"
    assert kent.extra["outcome_unread"] == "Decision : Partly upheld"
    # Recorded, then alarmed once by the store (as after every crawl), naming it and the label.
    store.record(to_finding(kent, extract(document_of(kent, official=True)), official=True))
    [alarm] = store.keep_unread_alarms("ombudsman")
    assert alarm.source == "ombudsman:outcome"
    assert alarm.message.startswith(
        "ombudsman: the outcome of 'Kent County Council (25 009 041)' could not be read"
        f" ({LISTING}/25-009-041): 'Decision : Partly upheld'"
    )
    assert store.keep_unread_alarms("ombudsman") == []
    assert [a.id for a in store.open_alarms()] == [alarm.id]


def test_a_listing_that_names_no_decisions_fails_the_run_saying_why() -> None:
    spider = _spider()
    assert _html(spider, "<html><body><h1>Special educational needs</h1></body></html>") == []
    reason = spider.crawler.stats[LAYOUT_CHANGED]  # type: ignore[attr-defined]
    assert reason.startswith("the category listing names no decisions")


def test_a_statement_missing_its_outcome_is_read_from_its_page_by_labels() -> None:
    body = (
        fixture("ombudsman/listing.html")
        .read_text()
        .replace(
            "Statement Upheld Special educational needs 30-Sep-2025</p>\n    <p><strong>Summary",
            "</p>\n    <p><strong>Summary",
            1,
        )
    )
    spider = _spider({WATERMARK: "2025-09-29"})
    outputs = _html(spider, body)
    [request] = [r for r in _requests(outputs) if "24-019-137" in r.url]
    [trafford] = _items(_answer(spider, request))
    assert (trafford.outcome, trafford.happened_on_hint) == (
        OmbudsmanOutcome.UPHELD,
        dt.date(2025, 9, 30),
    )


@pytest.mark.parametrize(
    ("label", "outcome"),
    [
        ("Upheld", "upheld"),
        ("Not upheld", "not_upheld"),
        ("Closed after initial enquiries", "closed_after_initial_enquiries"),
        ("Upheld: maladministration and injustice", "upheld"),
        ("Not upheld: no maladministration", "not_upheld"),
        ("Investigation discontinued", "investigation_discontinued"),
        ("Referred back for local resolution", "referred_back"),
        ("Partly upheld", "unrecognised"),
    ],
)
def test_outcome_labels(label: str, outcome: str) -> None:
    assert ombudsman_outcome(label) == outcome


@pytest.mark.parametrize(
    ("summary", "pounds"),
    [
        ("The Council agreed to apologise to Mrs X and pays her a total of £1,950 for it.", 1950),
        (
            "The Council has agreed to pay Mr and Mrs B £5,400 for C's benefit, £1,000 in"
            " recognition of the distress and £500 for the distress caused to Mr and Mrs B.",
            6900,
        ),
        ("The Council agreed to apologise and make a symbolic payment.", None),
        ("Mr X was charged £200 for transport. We do not find fault.", None),
    ],
)
def test_remedy_stated(summary: str, pounds: int | None) -> None:
    assert remedy_of(summary) == pounds


# -- end to end: `sendwatch crawl ombudsman` against the fixture site -----------------------


@pytest.fixture
def env(tmp_path: Path, site: FixtureSite) -> dict[str, str]:
    variables = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    return variables | {
        "SENDWATCH_DATA_DIR": str(tmp_path / "data"),
        "SENDWATCH_CRAWLER_DOWNLOAD_DELAY": "0",
        "SENDWATCH_CRAWLER_RETRY_BACKOFF_SECONDS": "0.01",
        "SENDWATCH_CRAWLER_RETRIES": "1",
        "SENDWATCH_CRAWLER_TIMEOUT_SECONDS": "3",
        "SENDWATCH_CRAWLER_HOST_MAP": site.host_map,
        # The fixtures are of 2025: reach them whatever today is.
        "SENDWATCH_SOURCES_OMBUDSMAN_BACKFILL_DAYS": "3650",
    }


def _crawl(env: dict[str, str], cwd: Path) -> tuple[int, dict[str, str]]:
    result = subprocess.run(
        [*COMMAND, "crawl", "ombudsman"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = result.stdout.strip().splitlines()
    assert lines, result.stderr
    return result.returncode, dict(pair.split("=", 1) for pair in lines[-1].split())


def test_crawl_records_each_decision_once_and_an_idle_poll_costs_one_listing_request(
    tmp_path: Path, site: FixtureSite, env: dict[str, str]
) -> None:
    code, counts = _crawl(env, tmp_path)
    assert (code, counts["found"], counts["new"], counts["result"]) == (0, "6", "6", "ok")
    store = Store(f"sqlite:///{tmp_path / 'data' / 'sendwatch.db'}")
    with store.sessions() as session:
        events = session.scalars(select(Event).order_by(Event.happened_on, Event.id)).all()
        assert [(e.kind, e.la_code, e.outcome) for e in events][-1] == (
            "ombudsman_decision",
            "E10000016",
            "closed_after_initial_enquiries",
        )
        somerset = session.scalars(select(Finding).where(Finding.identity == "24 015 493")).one()
        assert (somerset.la_code, somerset.fields["remedy_gbp"]) == (SOMERSET, 1950)
        assert session.scalars(select(Alarm)).all() == []
    store.close()

    before = len(site.requests)
    code, counts = _crawl(env, tmp_path)
    assert (code, counts["found"], counts["new"], counts["result"]) == (0, "0", "0", "ok")
    second = [s for s in site.requests[before:] if s.host == LGO and s.path != "/robots.txt"]
    assert [(s.path, s.status) for s in second] == [(LGO_SEND, 304)]
