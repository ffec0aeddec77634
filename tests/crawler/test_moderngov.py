"""The moderngov spider on saved web-service answers (GetMeetings, GetMeeting): exact fields."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import DNSLookupError
from twisted.python.failure import Failure

from crawler.items import MarkItem, SourceItem
from crawler.spiders.moderngov import NOT_MODERNGOV, Meeting, ModernGovSpider
from crawler.verdict import decide, listing_failures
from sendwatch.vocab import CrawlResult, Kind
from tests.crawler.conftest import file_response

LBBD, LBBD_CODE = "https://lbbd.moderngov.co.uk", "E09000002"
WOR, WOR_CODE = "https://worcestershire.moderngov.co.uk", "E10000034"
BARNET, BARNET_CODE = "https://barnet.moderngov.co.uk", "E09000003"
SITES = {LBBD_CODE: LBBD, WOR_CODE: WOR, BARNET_CODE: BARNET}
TODAY = dt.date(2026, 3, 16)
PRSC = "People and Resilience Select Committee"


def _spider(marks: dict[str, str] | None = None, today: dt.date = TODAY) -> ModernGovSpider:
    return ModernGovSpider(
        base_url="https://www.moderngov.co.uk",
        marks=marks,
        sites=SITES,
        councils=list(SITES),
        today=today,
    )


def _meetings(spider: ModernGovSpider, council: str, code: str, base: str) -> list[Request]:
    url = f"{base}/mgWebService.asmx/GetMeetings?lCommitteeId=0&sFromDate=14/02/2026&sToDate=15/05/2026"
    response = file_response(f"moderngov/{council}/GetMeetings.xml", url)
    return list(spider.parse_meetings(response, code=code))


def _meeting(
    spider: ModernGovSpider, council: str, code: str, base: str, meeting: Meeting, name: str = ""
) -> list[Any]:
    name = name or f"GetMeeting-{meeting.id}"
    url = f"{base}/mgWebService.asmx/GetMeeting?lMeetingId={meeting.id}"
    response = file_response(f"moderngov/{council}/{name}.xml", url)
    return list(spider.parse_meeting(response, code=code, meeting=meeting))


def _ids(requests: list[Request]) -> list[str]:
    return [r.cb_kwargs["meeting"].id for r in requests]


SCRUTINY = Meeting("12001", dt.date(2026, 3, 4), "560", PRSC, "Confirmed", "7.00 pm")
CABINET = Meeting("12010", dt.date(2026, 3, 10), "180", "Cabinet", "Confirmed", "7.00 pm")
WOR_PANEL = Meeting(
    "5001",
    dt.date(2026, 2, 26),
    "140",
    "Children and Families Overview and Scrutiny Panel",
    "Confirmed",
    "2.00 pm",
)


def test_start_asks_each_council_for_the_window_around_today() -> None:
    spider = _spider()
    request = spider._meetings_request(LBBD_CODE)
    assert request.url == (
        "https://lbbd.moderngov.co.uk/mgWebService.asmx/GetMeetings?lCommitteeId=0"
        "&sFromDate=14/02/2026&sToDate=15/05/2026"
    )
    assert request.headers.get("Cache-Control") == b"max-age=0"  # a listing: revalidated
    assert request.cb_kwargs == {"code": LBBD_CODE}


def test_meetings_in_the_window_are_read_with_their_committee_cancelled_ones_not() -> None:
    spider = _spider()
    requests = _meetings(spider, "barking-and-dagenham", LBBD_CODE, LBBD)
    assert [r.url for r in requests] == [
        f"{LBBD}/mgWebService.asmx/GetMeeting?lMeetingId=12010",
        f"{LBBD}/mgWebService.asmx/GetMeeting?lMeetingId=12011",
        f"{LBBD}/mgWebService.asmx/GetMeeting?lMeetingId=12001",
        f"{LBBD}/mgWebService.asmx/GetMeeting?lMeetingId=12020",
    ]  # 12005 was cancelled
    assert requests[0].cb_kwargs == {"code": LBBD_CODE, "meeting": CABINET}
    assert requests[2].cb_kwargs["meeting"] == SCRUTINY
    assert requests[0].meta["dont_cache"] is True  # a detail: the marks remember it
    assert spider.councils == {LBBD_CODE: "ok"}
    assert spider.meetings_listed == 5


def test_a_council_ignoring_the_dates_is_filtered_to_the_window() -> None:
    spider = _spider()
    requests = _meetings(spider, "worcestershire", WOR_CODE, WOR)
    # 87 meetings from 2019 to October 2026 listed; two in the window.
    assert _ids(requests) == ["5002", "5001"]
    assert spider.meetings_listed == 2


def test_a_meeting_is_read_again_only_when_its_papers_may_have_changed() -> None:
    spider = _spider()
    first = _meetings(spider, "barking-and-dagenham", LBBD_CODE, LBBD)
    marks = {}
    for request in first:
        meeting = request.cb_kwargs["meeting"]
        for item in _meeting(spider, "barking-and-dagenham", LBBD_CODE, LBBD, meeting):
            if isinstance(item, MarkItem):
                marks[item.key] = item.value
    assert marks == {
        "meeting:E09000002:12001": "2026-03-04/7.00 pm/Confirmed|minutes|2026-03-16",
        "meeting:E09000002:12010": "2026-03-10/7.00 pm/Confirmed|agenda|2026-03-16",
        "meeting:E09000002:12011": "2026-04-21/7.00 pm/Confirmed|none|2026-03-16",
        "meeting:E09000002:12020": "2026-03-25/4.00 pm/Confirmed|none|2026-03-16",
    }

    def due(today: dt.date) -> list[str]:
        return _ids(_meetings(_spider(marks, today), "barking-and-dagenham", LBBD_CODE, LBBD))

    assert due(TODAY) == []  # the same day: nothing
    # The Schools Forum's agenda is due (checked daily from ten days ahead); Cabinet's minutes
    # every three days after the meeting; the scrutiny meeting's minutes are out: done.
    assert due(TODAY + dt.timedelta(days=1)) == ["12020"]
    assert due(TODAY + dt.timedelta(days=3)) == ["12010", "12020"]
    # A meeting moved or re-timed is read again whatever its stage.
    moved = {**marks, "meeting:E09000002:12001": "2026-03-05/7.00 pm/Confirmed|minutes|2026-03-16"}
    assert _ids(_meetings(_spider(moved), "barking-and-dagenham", LBBD_CODE, LBBD)) == ["12001"]


def test_due_rules() -> None:
    spider = _spider()
    meeting = Meeting("1", dt.date(2026, 4, 21), "9", "Cabinet", "Confirmed", "7.00 pm")
    key = "meeting:E09000002:1"
    listed = meeting.listed

    def due(mark: str, today: dt.date) -> bool:
        spider.marks, spider.today = {key: mark}, today
        return spider.due(key, meeting)

    no_agenda = f"{listed}|none|2026-03-16"
    assert not due(no_agenda, dt.date(2026, 4, 10))  # too early for an agenda
    assert due(no_agenda, dt.date(2026, 4, 11))  # ten days before: looked for daily
    assert not due(f"{listed}|none|2026-04-11", dt.date(2026, 4, 11))
    assert due(f"{listed}|none|2026-04-11", dt.date(2026, 4, 12))
    agenda = f"{listed}|agenda|2026-04-14"
    assert not due(agenda, dt.date(2026, 4, 21))  # minutes come after the meeting
    assert due(agenda, dt.date(2026, 4, 22))  # the day after: once
    assert not due(f"{listed}|agenda|2026-04-22", dt.date(2026, 4, 24))
    assert due(f"{listed}|agenda|2026-04-22", dt.date(2026, 4, 25))  # then every three days
    assert not due(f"{listed}|minutes|2026-04-30", dt.date(2026, 5, 20))
    assert due("garbled", dt.date(2026, 4, 1))


def test_scrutiny_minutes_on_the_inspection_feedback_letter() -> None:
    items = _meeting(_spider(), "barking-and-dagenham", LBBD_CODE, LBBD, SCRUTINY)
    # Declarations, the minutes of the last meeting and the SEND strategy refresh are not
    # part of the SEND case: only the feedback item is recorded, then the meeting's mark.
    assert [type(i) for i in items] == [SourceItem, MarkItem]
    item, mark = items
    assert item.source == "moderngov"
    assert item.identity == "E09000002:12001:48203"
    assert item.url == "https://lbbd.moderngov.co.uk/mgAi.aspx?ID=48203"
    assert item.title == (
        "People and Resilience Select Committee, 4 March 2026: Area SEND Inspection - Feedback"
    )
    assert item.published_on == dt.date(2026, 3, 4)
    assert item.kind_hint == Kind.COUNCIL_PAPER
    # The minutes never name the council: it is the one whose site published them.
    assert "Barking" not in item.text and "Dagenham" not in item.text
    assert item.la_hint == "Barking and Dagenham"
    assert item.text.startswith(
        "Area SEND Inspection - Feedback\nThe Strategic Director, Children and Adults, will"
        " present the findings of the recent inspection of the local area.\nThe Strategic"
        " Director, Children and Adults, presented the inspectors' feedback letter, made public"
        " that morning,"
    )
    assert item.text.endswith(
        "asked for a progress report at its next meeting.\nArea SEND inspection feedback letter\n"
        "Presentation - inspection findings"
    )
    assert item.extra == {
        "committee": PRSC,
        "meeting_date": "2026-03-04",
        "item_title": "Area SEND Inspection - Feedback",
        "item_url": "https://lbbd.moderngov.co.uk/mgAi.aspx?ID=48203",
        "meeting_url": "https://lbbd.moderngov.co.uk/ieListDocuments.aspx?CId=560&MId=12001",
        "documents": [
            {
                "title": "Area SEND inspection feedback letter",
                # as ModernGov gave it, http:// and all
                "url": "http://lbbd.moderngov.co.uk/mgConvert2PDF.aspx?ID=150120",
            },
            {
                "title": "Presentation - inspection findings",
                "url": "https://lbbd.moderngov.co.uk/documents/s150121/Presentation.pdf",
            },
        ],
        "ons_code": "E09000002",
    }
    assert item.mark is None
    assert mark == MarkItem(
        "meeting:E09000002:12001", "2026-03-04/7.00 pm/Confirmed|minutes|2026-03-16"
    )


def test_an_agenda_then_its_minutes() -> None:
    spider = _spider()
    item, mark = _meeting(spider, "barking-and-dagenham", LBBD_CODE, LBBD, CABINET)
    assert item.identity == "E09000002:12010:48251"
    assert item.title == "Cabinet, 10 March 2026: SEND Priority Action Plan"
    assert item.extra["documents"] == [
        {
            "title": "Priority Action Plan - Appendix A",
            "url": "http://lbbd.moderngov.co.uk/mgConvert2PDF.aspx?ID=150210",
        }
    ]
    assert mark.value == "2026-03-10/7.00 pm/Confirmed|agenda|2026-03-16"

    later = _spider(today=dt.date(2026, 3, 19))
    item, mark = _meeting(
        later, "barking-and-dagenham", LBBD_CODE, LBBD, CABINET, "GetMeeting-12010-minutes"
    )
    assert item.identity == "E09000002:12010:48251"  # the same paper, now with its minutes
    assert "Cabinet agreed the priority action plan for submission" in item.text
    assert mark.value == "2026-03-10/7.00 pm/Confirmed|minutes|2026-03-19"


def test_an_improvement_board_report_in_another_council() -> None:
    items = _meeting(_spider(), "worcestershire", WOR_CODE, WOR, WOR_PANEL)
    item, mark = items
    assert item.identity == "E10000034:5001:9102"
    assert item.title == (
        "Children and Families Overview and Scrutiny Panel, 26 February 2026:"
        " SEND Improvement Board - Progress Update"
    )
    assert item.la_hint == "Worcestershire"
    assert item.url == "https://worcestershire.moderngov.co.uk/mgAi.aspx?ID=9102"
    assert mark.key == "meeting:E10000034:5001"


def test_a_meeting_without_an_agenda_is_only_marked() -> None:
    meeting = Meeting("12020", dt.date(2026, 3, 25), "601", "Schools Forum", "Confirmed", "4.00 pm")
    assert _meeting(_spider(), "barking-and-dagenham", LBBD_CODE, LBBD, meeting) == [
        MarkItem("meeting:E09000002:12020", "2026-03-25/4.00 pm/Confirmed|none|2026-03-16")
    ]


def test_an_item_without_an_id_is_known_by_its_place_and_the_meeting_page() -> None:
    body = (
        b'<?xml version="1.0" encoding="utf-8"?><meeting><meetingid>7</meetingid>'
        b"<meetingdate>04/03/2026</meetingdate><agendapublished>True</agendapublished>"
        b"<minutepublished>False</minutepublished><agendaitems>"
        b"<agendaitem><agendaitemtitle>Apologies</agendaitemtitle></agendaitem>"
        b"<agendaitem><agendaitemtitle>Written Statement of Action (SEND)</agendaitemtitle>"
        b"</agendaitem></agendaitems></meeting>"
    )
    meeting = Meeting("7", dt.date(2026, 3, 4), "180", "Cabinet", "Confirmed", "7.00 pm")
    url = f"{LBBD}/mgWebService.asmx/GetMeeting?lMeetingId=7"
    response = Response(url=url, body=body, request=Request(url))
    item, _ = list(_spider().parse_meeting(response, code=LBBD_CODE, meeting=meeting))
    assert item.identity == "E09000002:7:2"
    assert item.url == "https://lbbd.moderngov.co.uk/ieListDocuments.aspx?CId=180&MId=7"
    assert item.extra["item_url"] == ""


def test_not_the_web_service_xml() -> None:
    spider = _spider()
    url = f"{LBBD}/mgWebService.asmx/GetMeetings?lCommitteeId=0"
    page = Response(url=url, body=b"<html><body>Please wait...</body></html>", request=Request(url))
    assert list(spider.parse_meetings(page, code=LBBD_CODE)) == []
    assert spider.councils == {LBBD_CODE: "failed"}
    meeting_url = f"{LBBD}/mgWebService.asmx/GetMeeting?lMeetingId=1"
    page = Response(url=meeting_url, body=b"<html/>", request=Request(meeting_url))
    assert list(spider.parse_meeting(page, code=LBBD_CODE, meeting=CABINET)) == []


def _failure(error: BaseException, code: str) -> Failure:
    failure = Failure(error)
    failure.request = Request(f"{BARNET}/mgWebService.asmx/GetMeetings", cb_kwargs={"code": code})  # type: ignore[attr-defined]
    return failure


def _http_error(status: int, url: str) -> HttpError:
    return HttpError(Response(url=url, status=status), "Ignoring non-200 response")


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (_http_error(403, BARNET), "blocked"),
        (IgnoreRequest("Forbidden by robots.txt"), "disallowed"),
        (DNSLookupError("no such host"), "unreachable"),
        (_http_error(500, BARNET), "failed"),
    ],
)
def test_a_council_that_does_not_answer(error: BaseException, outcome: str) -> None:
    spider = _spider()
    spider.council_failed(_failure(error, BARNET_CODE))
    assert spider.councils == {BARNET_CODE: outcome}


#: What Scrapy records once the spider has closed, which the verdict reads.
FINISHED = {"finish_reason": "finished"}


class _Stats:
    """Scrapy's stats collector, as much of it as the spider uses."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get_value(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set_value(self, key: str, value: Any) -> None:
        self.values[key] = value

    def inc_value(self, key: str, count: int = 1) -> None:
        self.values[key] = self.values.get(key, 0) + count


def test_the_run_fails_only_when_no_council_answered() -> None:
    def close(councils: dict[str, str]) -> dict[str, Any]:
        spider = _spider()
        spider.crawler = type("C", (), {"stats": _Stats()})()  # type: ignore[assignment]
        spider.councils = councils
        spider.closed("finished")
        values: dict[str, Any] = spider.crawler.stats.values  # type: ignore[attr-defined]
        return values | FINISHED

    stats = close({LBBD_CODE: "ok", BARNET_CODE: "blocked", WOR_CODE: "disallowed"})
    assert stats["sendwatch/moderngov/blocked"] == [BARNET_CODE]
    assert stats["sendwatch/moderngov/disallowed"] == [WOR_CODE]
    assert stats["sendwatch/moderngov/councils"] == {
        BARNET_CODE: "blocked",
        LBBD_CODE: "ok",
        WOR_CODE: "disallowed",
    }
    assert not listing_failures(stats) and "sendwatch/listing_errors" not in stats
    listed = {"finish_reason": "finished", "sendwatch/listing_items": 2}
    assert decide(stats | listed).result is CrawlResult.OK
    # Every council blocked: the fact of a listing answering 403, which the verdict calls blocked.
    blocked = close({BARNET_CODE: "blocked"})
    assert listing_failures(blocked) == {"403": "?"} and "sendwatch/listing_errors" not in blocked
    assert decide(blocked).result is CrawlResult.BLOCKED
    mixed = close({BARNET_CODE: "blocked", LBBD_CODE: "unreachable"})
    assert list(listing_failures(mixed)) == ["no council answered (unreachable)"]
    assert mixed["sendwatch/listing_errors"] == 1
    assert (decide(mixed).result, decide(mixed).unreachable) == (CrawlResult.FAILED, False)
    assert "sendwatch/listing_errors" not in close({WOR_CODE: "disallowed"})


def test_no_council_reached_is_a_site_never_reached() -> None:
    """Every polled council unreachable: the first one's failure is the listing's, so the
    verdict says the site was never reached, and `sendwatch check` says it in one line."""
    spider = _spider()
    spider.crawler = type("C", (), {"stats": _Stats()})()  # type: ignore[assignment]
    spider.councils = {
        WOR_CODE: "unreachable",
        LBBD_CODE: "unreachable",
        "E06000001": NOT_MODERNGOV,  # Hartlepool publishes on its own website
    }
    spider.reasons = {
        WOR_CODE: ("timeout", f"{WOR}/x"),
        LBBD_CODE: ("connection refused", f"{LBBD}/x"),
    }
    spider.closed("finished")
    stats: dict[str, Any] = spider.crawler.stats.values  # type: ignore[attr-defined]
    verdict = decide(stats | FINISHED)
    assert (verdict.result, verdict.unreachable) == (CrawlResult.FAILED, True)
    assert verdict.reason == f"listing failed (connection refused) at {LBBD}/x"
    assert spider.cannot_reach(verdict) == (
        f"moderngov: cannot reach {LBBD}/x (connection refused), nor the other 1 councils' sites"
    )
