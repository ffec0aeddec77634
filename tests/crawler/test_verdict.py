"""A run's result tells the truth: "ok" means the documents were read, not only the listings."""

from __future__ import annotations

from typing import Any

import pytest

from crawler.report import CrawlReport
from crawler.verdict import (
    DOCS,
    ITEMS_SCRAPED,
    LAYOUT_CHANGED,
    LISTING_ERRORS,
    LISTING_FAILED,
    LISTING_ITEMS,
    RUN_NOTE,
    Verdict,
    decide,
)
from sendwatch.vocab import CrawlResult

PDFS = f"{DOCS}report PDFs/"


def _stats(requested: int, failed: dict[str, int], **extra: Any) -> dict[str, Any]:
    stats: dict[str, Any] = {
        "finish_reason": "finished",
        LISTING_ITEMS: 150,
        PDFS + "requested": requested,
        PDFS + "failed": sum(failed.values()),
        **{PDFS + f"status/{why}": n for why, n in failed.items()},
    }
    if failed:
        stats[PDFS + "example"] = "https://files.ofsted.gov.uk/v1/file/50252437"
    return stats | extra


@pytest.mark.parametrize(
    ("requested", "failed", "result"),
    [
        (55, {"404": 55}, "failed"),  # all of them
        (1, {"timeout": 1}, "failed"),  # all of them, however few
        (5, {"404": 3}, "failed"),  # more than half, and at least 3
        (6, {"404": 3}, "ok"),  # half is not more than half
        (3, {"404": 2}, "ok"),  # fewer than 3, not all
        (10, {}, "ok"),
        (4, {"403": 4}, "blocked"),  # a firewall in front of the documents
    ],
)
def test_the_failed_share_decides(requested: int, failed: dict[str, int], result: str) -> None:
    assert CrawlReport.from_stats("ofsted", _stats(requested, failed)).result == result


def test_the_reason_names_count_status_and_one_url() -> None:
    report = CrawlReport.from_stats("ofsted", _stats(55, {"404": 55}))
    assert report.reason == (
        "55 of 55 report PDFs failed (404), e.g. https://files.ofsted.gov.uk/v1/file/50252437"
    )
    assert report.line().endswith("result=failed")
    mixed = CrawlReport.from_stats("ofsted", _stats(10, {"404": 6, "timeout": 2}))
    assert mixed.reason.startswith("8 of 10 report PDFs failed (404 x6, timeout x2), e.g. ")


def test_the_share_is_configurable() -> None:
    stats = _stats(10, {"500": 4})
    assert CrawlReport.from_stats("ofsted", stats).result == "ok"
    assert CrawlReport.from_stats("ofsted", stats, max_failed_share=0.3).result == "failed"


def test_listings_first() -> None:
    blocked = _stats(0, {}, **{LISTING_ERRORS: 1, LISTING_FAILED + "403": "https://x/"})
    report = CrawlReport.from_stats("ofsted", blocked)
    assert (report.result, report.reason) == (
        "blocked",
        "blocked: the listing answered 403 (a firewall?) at https://x/",
    )
    timed_out = _stats(3, {}, finish_reason="closespider_timeout")
    assert CrawlReport.from_stats("ofsted", timed_out).result == "failed"
    empty = _stats(0, {}, **{LISTING_ITEMS: 0})
    assert CrawlReport.from_stats("ofsted", empty).line().endswith("result=empty_listing")


def test_scrapy_network_tracebacks_become_one_line() -> None:
    import logging

    from crawler.runner import _ScrapyQuiet

    try:
        raise ConnectionRefusedError("Connection was refused by other side")
    except ConnectionRefusedError:
        import sys

        record = logging.LogRecord(
            "scrapy.downloadermiddlewares.robotstxt",
            logging.ERROR,
            __file__,
            1,
            "Error downloading %s",
            ("<GET https://reports.ofsted.gov.uk/robots.txt>",),
            sys.exc_info(),
        )
    assert _ScrapyQuiet().filter(record)
    assert record.exc_info is None
    assert record.getMessage() == (
        "Error downloading <GET https://reports.ofsted.gov.uk/robots.txt>:"
        " Connection was refused by other side"
    )


def test_a_crawl_stopped_by_a_signal_is_not_counted(tmp_path: Any) -> None:
    """Restarting the daemon stops the crawls in flight: no failure, no step towards an alarm."""
    from sqlalchemy import select

    from crawler.runner import _report
    from sendwatch.config import Settings
    from storage.models import SourceState
    from storage.store import Store

    class Stats:
        def __init__(self, values: dict[str, Any]) -> None:
            self.values = values

        def get_stats(self) -> dict[str, Any]:
            return self.values

        def get_value(self, key: str, default: Any = None) -> Any:
            return self.values.get(key, default)

    store = Store(f"sqlite:///{tmp_path / 'sendwatch.db'}")
    store.upgrade()
    for reason in ("shutdown", None):
        stats = _stats(10, {}) | {"finish_reason": reason}
        if reason is None:
            del stats["finish_reason"]
        crawler = type("Crawler", (), {"stats": Stats(stats)})()
        report = _report(store, Settings(), "ofsted", crawler)  # type: ignore[arg-type]
        assert (report.result, report.ok) == ("stopped", False)
        assert report.line().endswith("result=stopped")
    with store.sessions() as session:
        assert session.scalars(select(SourceState)).all() == []
    store.close()


def _listing_failed(*failures: tuple[str, str], **extra: Any) -> dict[str, Any]:
    """Stats of a run whose listings failed so, in this order."""
    return (
        _stats(0, {}, **{LISTING_ERRORS: len(failures), LISTING_ITEMS: 0})
        | {LISTING_FAILED + why: url for why, url in failures}
        | extra
    )


def test_a_403_anywhere_among_the_listings_is_blocked_at_its_own_url() -> None:
    verdict = decide(_listing_failed(("500", "https://x/a"), ("403", "https://x/b")))
    assert (verdict.result, verdict.why, verdict.url) == (CrawlResult.BLOCKED, "403", "https://x/b")
    assert verdict.reason == "blocked: the listing answered 403 (a firewall?) at https://x/b"
    assert not verdict.unreachable


@pytest.mark.parametrize(
    ("why", "listed", "unreachable"),
    [
        ("connection refused", {}, True),
        ("DNS lookup failed", {}, True),
        ("timeout", {}, True),
        ("connection refused", {LISTING_ITEMS: 4}, False),  # another listing answered
        ("connection refused", {ITEMS_SCRAPED: 1}, False),  # something was read
        ("500", {}, False),  # the site answered, badly
        ("not JSON", {}, False),
    ],
)
def test_a_site_never_reached_is_said_by_the_verdict(
    why: str, listed: dict[str, int], unreachable: bool
) -> None:
    verdict = decide(_listing_failed((why, "https://x/a"), ("502", "https://x/b"), **listed))
    assert (verdict.result, verdict.why, verdict.url) == (CrawlResult.FAILED, why, "https://x/a")
    assert verdict.reason == f"listing failed ({why}) at https://x/a"
    assert verdict.unreachable is unreachable


def test_the_order_of_the_rules() -> None:
    layout = _stats(10, {"404": 10}, **{LAYOUT_CHANGED: "no report on any page"})
    assert decide(layout) == Verdict(CrawlResult.FAILED, "no report on any page")
    stopped = decide(_stats(10, {"404": 10}, finish_reason="shutdown"))
    assert stopped.result is CrawlResult.STOPPED
    # Stopped first: a listing that failed before the signal makes no failure of it.
    failed_then_stopped = _listing_failed(("DNS lookup failed", "https://x/a"))
    assert decide(failed_then_stopped | {"finish_reason": "shutdown"}).result is CrawlResult.STOPPED
    other = decide(_stats(1, {}, finish_reason="memusage_exceeded"))
    assert other == Verdict(CrawlResult.FAILED, "the crawl stopped: memusage_exceeded")
    assert decide(_stats(0, {}, **{LISTING_ITEMS: 0})).result is CrawlResult.EMPTY
    healthy = decide(_stats(10, {"404": 1}, **{RUN_NOTE: "3 councils: 3 ok"}))
    assert healthy.result is CrawlResult.OK
    assert healthy.reason == (
        "3 councils: 3 ok; 1 of 10 report PDFs failed (404),"
        " e.g. https://files.ofsted.gov.uk/v1/file/50252437"
    )


def test_the_json_report_has_the_documented_fields_and_reads_back() -> None:
    from crawler.report import JSON_FIELDS, read_report

    report = CrawlReport.from_stats("ofsted", _stats(0, {}, **{LISTING_ITEMS: 0}))
    data = report.to_json()
    assert (
        list(data)
        == list(JSON_FIELDS)
        == [
            "source",
            "found",
            "new",
            "updated",
            "seen",
            "errors",
            "new_events",
            "result",
            "reason",
            "alarms",
        ]
    )
    assert (data["result"], data["reason"], data["alarms"]) == (
        "empty",
        "the listing parsed to zero items",
        [],
    )
    output = f"noise\n{report.json_line()}\n"
    assert read_report("ofsted", output) == report
    assert read_report("govuk", output) is None
    assert read_report("ofsted", '{"source": "ofsted", "result": "nonsense"}') is None
