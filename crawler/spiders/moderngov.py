"""Councils' meeting papers, through each council's ModernGov XML web service.

Every council in `sites` (ONS code -> its ModernGov site) is polled at once: Scrapy
keeps one slot per host, so the hosts run in parallel and each is asked politely.
Per council, one listing a poll, the meetings of a window around today::

    GET <base>/mgWebService.asmx/GetMeetings?lCommitteeId=0&sFromDate=dd/mm/yyyy&sToDate=dd/mm/yyyy
    <getmeetings>
      <committee>
        <committeeid>560</committeeid>
        <committeetitle>People and Resilience Select Committee</committeetitle>
        <committeemeetings>
          <meeting>
            <meetingid>12001</meetingid>
            <meetingdate>04/03/2026</meetingdate>
            <meetingstatus>Confirmed</meetingstatus>
            <meetingtime>7.00 pm</meetingtime>
          </meeting>
        </committeemeetings>
      </committee>
    </getmeetings>

(some councils ignore the dates and answer with years of meetings: the window is applied
here too), then each meeting whose papers may have changed since it was last read::

    GET <base>/mgWebService.asmx/GetMeeting?lMeetingId=12001
    <meeting>
      <meetingid/> <meetingdate/> <agendapublished>True</agendapublished>
      <minutepublished>True</minutepublished>
      <agendaitems>
        <agendaitem>
          <agendaitemid>48213</agendaitemid>
          <agendaitemtitle>Area SEND inspection: feedback letter</agendaitemtitle>
          <agendatext>&lt;p&gt;…&lt;/p&gt;</agendatext>
          <minutesnonemptyhtmlbody>&lt;p&gt;The Panel received …&lt;/p&gt;</minutesnonemptyhtmlbody>
          <linkeddocuments>
            <linkeddoc><attachmentid/><title/><url>http://…/mgConvert2PDF.aspx?ID=…</url></linkeddoc>
          </linkeddocuments>
        </agendaitem>
      </agendaitems>
    </meeting>

GetMeetings says nothing of papers, only a meeting's date, time and status, so a meeting's
mark records what GetMeeting showed and when: "<date/time/status>|<stage>|<read on>", the
stage being `none` (no agenda yet), `agenda` or `minutes`. A meeting is read again when
GetMeetings changes it (moved, cancelled), and while its next papers are due: an agenda
from ten days before the meeting (checked daily), minutes from the day after it (checked
every few days) until they appear or the meeting leaves the window. With minutes, a
meeting is done. A poll with nothing due is one request per council.

Only agenda items about the area SEND inspection and what follows it are recorded
(`crawler.extract.about_the_send_case`); the council is the one whose site published the
papers, since minutes rarely name it ("the local area").

A council whose site answers 403 is `blocked`, one whose robots.txt disallows the web
service `disallowed`, one that cannot be reached `unreachable`, one whose answer is not
the web service's `failed` (`councils`, and the sendwatch/moderngov/<outcome> stats):
none of them fails the run while other councils answer. Each council's outcome is logged at
DEBUG only; the run says each outcome in one line when it closes ("3 of 136 councils
unreachable (timeout), e.g. https://…"), so a machine offline is one line, not 136.

CMIS councils (the register's `software` says which) have no web service: their papers are
read from the HTML of their CMIS site, a DotNetNuke "Meetings" module, with the same window,
marks, stages, relevance and outcomes. What the pages look like is taken from DemocracyClub's
LGSF (`lgsf/minutes/scrapers.py` CMISMinutesScraper and its fixtures; poteris/council-scraper
reads the same month view). The register gives the site's meetings page; once, it is read for
a link to one meeting, whose path carries the module's tabid and id::

    GET <meetings page>   (e.g. https://birmingham.cmis.uk.com/birmingham/Meetings.aspx)
      <a href="…/Meetings/tabid/70/ctl/ViewMeetingPublic/mid/397/Meeting/15042/Committee/4/…">
    (no link there: the module id from `dnn$ctr397$MeetingCalendarPublic…$`, and its list view)
    GET <meetings page>?ctl=MeetingCalendarListView&mid=397

then the module's month calendar, any month as a plain GET, one page a month::

    GET …/Meetings/tabid/70/ctl/MeetingCalendarPublicNoJava/mid/397/Date/2026-03-01/Default.aspx
      <tr><td class="SimpleCalendarDate">Tuesday, 10 March</td>
          <td><p class="Meeting"><a href="…/ctl/ViewMeetingPublic/mid/397/Meeting/15030/
               Committee/7/SelectedTab/Documents/Default.aspx">10:00 Cabinet</a></p></td></tr>

and a meeting's page, whose papers are a list of documents (the agenda's items are not
shown in any public sample: each document stands for its item)::

    <div class="holder"><div class="DNNLabel">…Committee:…</div><div class="Value">Cabinet</div>
    <li class="DocumentListItem"><a class="TitleLink" href="/birmingham/Document.ashx?…">…</a>

The calendar's prefix (tabid, module id) and the day the council was last listed are its
mark (`CALENDAR_MARK`). The first poll lists the whole window; later ones only the days since
the last poll up to when an agenda may be due (`AGENDA_DAYS` ahead): at most two month pages.
Meetings listed before are read again from their marks while their papers are due, as above.
A page that is not what is drawn here makes the council `failed`, with what was missing.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar
from urllib.parse import urlsplit

from parsel import Selector, SelectorList
from scrapy import Request
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from crawler.dates import spoken_date
from crawler.extract import about_the_send_case
from crawler.items import MarkItem, SourceItem
from crawler.spiders.base import Found, Row, SourceSpider, failure_reason, html_text
from crawler.verdict import FORBIDDEN, RUN_NOTE, STANDING_ALARM, Verdict
from sendwatch.vocab import Kind
from storage.las import meeting_sites, register

log = logging.getLogger(__name__)

SERVICE = "/mgWebService.asmx"
DATE_FORMAT = "%d/%m/%Y"
MEETING_MARK = "meeting:"
#: What GetMeeting showed of a meeting's papers.
NONE, AGENDA, MINUTES = "none", "agenda", "minutes"
#: Agendas are published five clear working days ahead: looked for from this many days before.
AGENDA_DAYS = 10
#: How often a meeting is read again while its agenda, or its minutes, are due.
AGENDA_RECHECK_DAYS = 1
MINUTES_RECHECK_DAYS = 3
CANCELLED = "cancelled"
#: A council's outcome this poll, as `status` and `sendwatch check` show it.
OK, BLOCKED_COUNCIL, DISALLOWED, UNREACHABLE, FAILED, NOT_MODERNGOV = (
    "ok",
    "blocked",
    "disallowed",
    "unreachable",
    "failed",
    "not ModernGov or CMIS",
)
OUTCOMES = (OK, BLOCKED_COUNCIL, DISALLOWED, UNREACHABLE, FAILED, NOT_MODERNGOV)
#: Outcomes that are no failure of the run: the council said no, or has no site read here.
NOT_POLLED = frozenset({DISALLOWED, NOT_MODERNGOV})
_OUTCOME_OF = {
    "403": BLOCKED_COUNCIL,
    "disallowed by robots.txt": DISALLOWED,
    "DNS lookup failed": UNREACHABLE,
    "connection refused": UNREACHABLE,
    "timeout": UNREACHABLE,
}
STATS = "sendwatch/moderngov/"
#: A council's outcome as `sendwatch check` shows it, and whether it is as expected: a
#: firewall or robots.txt is the council's choice (shown, not failing); no answer is not.
COUNCIL_OUTCOMES = {
    OK: ("reachable", True),
    BLOCKED_COUNCIL: ("blocked (403)", True),
    DISALLOWED: ("disallowed by robots.txt: not polled", True),
    UNREACHABLE: ("unreachable", False),
    FAILED: ("not the answer of a ModernGov web service or a CMIS calendar", False),
    NOT_MODERNGOV: ("not ModernGov or CMIS: not polled", True),
}
#: The software of the councils read here (the register's `software` column).
MODERNGOV, CMIS = "moderngov", "cmis"


@dataclass(frozen=True)
class Meeting:
    """A meeting as GetMeetings lists it."""

    id: str
    held_on: dt.date
    committee_id: str
    committee: str
    status: str
    time: str
    #: Its page, on a CMIS site (ModernGov's are built from the ids).
    url: str = ""

    @property
    def listed(self) -> str:
        """What GetMeetings says of it: a change here means the meeting must be read again."""
        return f"{self.held_on:%Y-%m-%d}/{self.time}/{self.status}"


def polled_sites(overrides: dict[str, str], councils: list[str]) -> dict[str, str]:
    """ONS code -> ModernGov site or CMIS meetings page for every council polled: the
    register's, with the configured ones over them, narrowed to `councils` when any are named."""
    sites = {
        code: site.base_url
        for code, site in meeting_sites().items()
        if site.software in (MODERNGOV, CMIS) and site.base_url
    } | dict(overrides)
    if councils:
        sites = {code: url for code, url in sites.items() if code in councils}
    return {code: url.rstrip("/") for code, url in sites.items()}


def software_of(code: str) -> str:
    """How a council's site is read: CMIS when the register says so, else ModernGov (a site
    configured for a council the register has no site for is taken as ModernGov)."""
    site = meeting_sites().get(code)
    return CMIS if site is not None and site.software == CMIS else MODERNGOV


class ModernGovSpider(SourceSpider):
    name = "moderngov"
    document_noun = "meetings"
    #: A check reads each council's latest meeting (the spider asks for no more).
    check_sample: ClassVar[Mapping[str, int]] = {"meetings": 10_000}

    def __init__(
        self,
        *args: Any,
        sites: dict[str, str] | None = None,
        councils: list[str] | None = None,
        days_back: int = 30,
        days_ahead: int = 60,
        today: dt.date | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.sites = polled_sites(sites or {}, councils or [])
        #: ONS code -> the software its site is read as (ModernGov or CMIS).
        self.software = {code: software_of(code) for code in self.sites}
        #: A CMIS council's month pages still to come this poll, and its meetings listed.
        self.months_due: dict[str, int] = {}
        self.listed_keys: dict[str, set[str]] = {}
        #: The councils asked for (empty: all), for `sendwatch check`.
        self.asked = list(councils or [])
        self.days_back = days_back
        self.days_ahead = days_ahead
        if isinstance(today, str):  # as configured: YYYY-MM-DD, or empty for today
            today = dt.date.fromisoformat(today) if today else None
        self.today: dt.date = today or dt.date.today()
        #: ONS code -> this poll's outcome: ok, blocked, disallowed, unreachable or failed;
        #: a council asked for (or, asking for none, in the register) with no ModernGov site
        #: is "not ModernGov" from the start, and never polled.
        self.councils: dict[str, str] = {
            code: NOT_MODERNGOV
            for code in (self.asked or [la.ons_code for la in register()])
            if code not in self.sites
        }
        #: ONS code -> why its council was not polled or did not answer, and at which URL.
        self.reasons: dict[str, tuple[str, str]] = {}
        #: Meetings in the window, and meetings read, this poll (for `sendwatch check`).
        self.meetings_listed = 0
        self.meetings_read = 0

    @property
    def window(self) -> tuple[dt.date, dt.date]:
        return (
            self.today - dt.timedelta(days=self.days_back),
            self.today + dt.timedelta(days=self.days_ahead),
        )

    async def start(self) -> AsyncIterator[Request]:
        for code in sorted(self.sites):
            if self.software[code] == CMIS:
                for request in self._cmis_requests(code):
                    yield request
            else:
                yield self._meetings_request(code)

    def _meetings_request(self, code: str) -> Request:
        start, end = self.window
        url = (
            f"{self.sites[code]}{SERVICE}/GetMeetings?lCommitteeId=0"
            f"&sFromDate={start:%d/%m/%Y}&sToDate={end:%d/%m/%Y}"
        )
        return self.listing_request(url, self.parse_meetings, self.council_failed, code=code)

    # -- the listing ------------------------------------------------------------------

    def parse_meetings(self, response: Response, code: str) -> Iterator[Request]:
        xml = Selector(body=response.body, type="xml")
        if not xml.xpath("/getmeetings"):
            self._council_done(code, FAILED, response.url, "not the GetMeetings XML")
            return
        self._council_done(code, OK, response.url)
        yield from self._read_listed(code, list(_meetings(xml)), self._get_meeting)

    def _get_meeting(self, code: str, meeting: Meeting) -> Request:
        return self.detail_request(
            f"{self.sites[code]}{SERVICE}/GetMeeting?lMeetingId={meeting.id}",
            self.parse_meeting,
            code=code,
            meeting=meeting,
        )

    def _read_listed(
        self, code: str, meetings: list[Meeting], read: Callable[[str, Meeting], Request]
    ) -> Iterator[Request]:
        """A listing's meetings in the window, each read when its papers may have changed (in
        a check, only the latest held), whatever software listed them."""
        start, end = self.window
        meetings = [m for m in meetings if start <= m.held_on <= end]
        self.meetings_listed += len(meetings)
        self.count_listing(len(meetings))
        if self.check:  # a sample: the latest meeting held, whatever was read before
            held = [m for m in meetings if m.held_on <= self.today and not _cancelled(m)]
            meetings = sorted(held, key=lambda m: m.held_on)[-1:]
        for meeting in meetings:
            if _cancelled(meeting):
                continue  # no papers to read
            if self.check or self.due(self.key_of(code, meeting), meeting):
                yield read(code, meeting)

    def key_of(self, code: str, meeting: Meeting) -> str:
        """A meeting's mark: a CMIS meeting's carries its committee, which its page's URL needs
        when it is read again from the mark alone."""
        if self.software.get(code) == CMIS:
            return meeting_key(code, f"{meeting.id}/{meeting.committee_id}")
        return meeting_key(code, meeting.id)

    def due(self, key: str, meeting: Meeting) -> bool:
        """Whether a meeting's papers may have changed since it was last read."""
        mark = self.marks.get(key)
        if mark is None:
            return True
        listed, stage, read_on = _read_mark(mark)
        if listed != meeting.listed or read_on is None:
            return True
        if stage == MINUTES:
            return False
        if stage == AGENDA or self.today > meeting.held_on:  # minutes are due
            due_from, every = meeting.held_on + dt.timedelta(days=1), MINUTES_RECHECK_DAYS
        else:  # the agenda is due
            due_from = meeting.held_on - dt.timedelta(days=AGENDA_DAYS)
            every = AGENDA_RECHECK_DAYS
        if self.today < due_from:
            return False
        return read_on < due_from or (self.today - read_on).days >= every

    def council_failed(self, failure: Failure) -> None:
        request = getattr(failure, "request", None)
        code = request.cb_kwargs["code"] if request is not None else "?"
        url = request.url if request is not None else "?"
        why = failure_reason(failure)
        self._council_done(code, _OUTCOME_OF.get(why, FAILED), url, why)

    def _council_done(self, code: str, outcome: str, url: str, why: str = "") -> None:
        if self.councils.get(code, OK) != OK:
            return  # a council read in several pages is as good as its worst
        self.councils[code] = outcome
        if outcome == OK:
            return
        self.reasons[code] = (why, url)
        self._first(f"{STATS}example/{outcome}", url)
        # Each council at DEBUG: the run says them in one line an outcome when it closes.
        log.debug("moderngov: %s %s: %s (%s)", code, outcome, url, why)

    def closed(self, reason: str) -> None:
        """Each council's outcome in the stats, and a listing failure when no council answered
        (the one that fails the run: a council or two not answering is the councils' affair)."""
        super().closed(reason)
        stats = self.stats
        if stats is not None:
            stats.set_value(STATS + "councils", dict(sorted(self.councils.items())))
            for outcome in OUTCOMES:
                codes = sorted(code for code, got in self.councils.items() if got == outcome)
                stats.set_value(STATS + outcome, codes)
            stats.set_value(RUN_NOTE, self._note())
            blocked = self._names(BLOCKED_COUNCIL)
            if blocked:
                stats.set_value(
                    STANDING_ALARM,
                    f"{len(blocked)} {'council answers' if len(blocked) == 1 else 'councils answer'}"
                    f" 403 (a firewall), their meeting papers unread: {', '.join(blocked)}",
                )
        if reason == "shutdown":
            return  # stopped: it says nothing of the councils
        outcomes = set(self._polled().values())
        if outcomes and OK not in outcomes:
            self._no_council_answered(outcomes)
        else:
            for outcome in (BLOCKED_COUNCIL, UNREACHABLE, FAILED, DISALLOWED):
                if outcome in self.councils.values():
                    level = logging.INFO if outcome == DISALLOWED else logging.WARNING
                    self._say(level, self.councils_sentence(outcome))

    def councils_sentence(self, outcome: str) -> str:
        """ "136 of 136 councils unreachable (DNS lookup failed), e.g. https://…": the councils
        of one outcome, counted, with their reasons and the first one's URL."""
        codes = sorted(code for code, got in self.councils.items() if got == outcome)
        whys = Counter(self.reasons[code][0] for code in codes if code in self.reasons)
        because = ", ".join(
            why if len(whys) == 1 else f"{why} x{n}" for why, n in whys.most_common()
        )
        example = self.reasons[codes[0]][1] if codes[0] in self.reasons else ""
        noun = "council" if len(self.sites) == 1 else "councils"
        return (
            f"{len(codes)} of {len(self.sites)} {noun} {outcome}"
            + (f" ({because})" if because else "")
            + (f", e.g. {example}" if example else "")
        )

    def _say(self, level: int, sentence: str) -> None:
        """One line of the run's, at DEBUG in `sendwatch check` (its rows say it)."""
        log.log(logging.DEBUG if self.check else level, "moderngov: %s", sentence)

    def _polled(self) -> dict[str, str]:
        """ONS code -> outcome of each council polled (not those that said no, or have no site)."""
        return {code: got for code, got in self.councils.items() if got not in NOT_POLLED}

    def _no_council_answered(self, outcomes: set[str]) -> None:
        """The listing failure of a poll no council answered, with why, and its one line: 403
        when every one was blocked; the first council's network failure when none could be
        reached ("136 of 136 councils unreachable (DNS lookup failed), e.g. …"); else that no
        council answered, and the worst reason."""
        if outcomes == {BLOCKED_COUNCIL}:
            self.listing_failed_at(self._stat(f"{STATS}example/{BLOCKED_COUNCIL}"), FORBIDDEN)
            self._say(logging.WARNING, self.councils_sentence(BLOCKED_COUNCIL))
        elif outcomes == {UNREACHABLE}:
            why, url = self.reasons[min(self._polled())]
            self.listing_counted(url, why)
            self._say(logging.ERROR, self.councils_sentence(UNREACHABLE))
        else:
            worst = UNREACHABLE if UNREACHABLE in outcomes else FAILED
            url = self._stat(f"{STATS}example/{worst}")
            self.listing_counted(url, f"no council answered ({worst})")
            sentences = [self.councils_sentence(o) for o in OUTCOMES if o in outcomes]
            self._say(logging.ERROR, "no council answered: " + "; ".join(sentences))

    def cannot_reach(self, verdict: Verdict) -> str:
        """ "moderngov: cannot reach <the first council's URL> (why), nor the other 2 councils'
        sites": the one line of `sendwatch check` when no council's site answered."""
        line = super().cannot_reach(verdict)
        others = len(self._polled()) - 1
        return f"{line}, nor the other {others} councils' sites" if others > 0 else line

    def self_check(self, stats: Mapping[str, Any], found: Found) -> list[Row]:
        """The councils by outcome, then a row per council: its outcome, and the software it
        uses instead when it has no ModernGov site."""
        las = register()
        outcomes = Counter(self.councils.values())
        rows = [
            Row(
                "councils",
                outcomes[OK] > 0,
                ", ".join(f"{n} {COUNCIL_OUTCOMES[o][0]}" for o, n in sorted(outcomes.items()))
                or "no council polled",
            )
        ]
        sites = meeting_sites()
        for code, outcome in sorted(self.councils.items(), key=lambda pair: pair[0]):
            word, ok = COUNCIL_OUTCOMES.get(outcome, (outcome, False))
            if code in sites and code not in self.sites:  # what it uses instead
                word = f"{word} ({sites[code].software})"
            elif outcome == FAILED and code in self.reasons:  # what was not as expected
                word = f"{word}: {self.reasons[code][0]}"
            la = las.get(code)
            rows.append(Row(f"{la.name if la else code}", ok, word, self.sites.get(code, "")))
        return rows

    def _names(self, outcome: str) -> list[str]:
        las = register()
        return sorted(
            (la.name if (la := las.get(code)) else code)
            for code, got in self.councils.items()
            if got == outcome
        )

    def _note(self) -> str:
        """ "3 councils: 2 ok, 1 blocked (Barnet)": what `sendwatch status` shows of a run."""
        parts = []
        for outcome in OUTCOMES:
            names = self._names(outcome)
            if names:
                listed = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if names[5:] else "")
                parts.append(f"{len(names)} {outcome}" + (f" ({listed})" if outcome != OK else ""))
        return f"{len(self.councils)} councils: " + ", ".join(parts)

    def _stat(self, key: str) -> str:
        stats = self.stats
        return str(stats.get_value(key, "?")) if stats is not None else "?"

    # -- one meeting ------------------------------------------------------------------

    def parse_meeting(
        self, response: Response, code: str, meeting: Meeting
    ) -> Iterator[SourceItem | MarkItem]:
        xml = Selector(body=response.body, type="xml")
        root = xml.xpath("/meeting")
        if not root:
            self.item_error(response.url, "not the GetMeeting XML")
            return
        self.meetings_read += 1
        base = self.sites[code]
        held_on = _date(_field(root, "meetingdate")) or meeting.held_on
        meeting_url = f"{base}/ieListDocuments.aspx?CId={meeting.committee_id}&MId={meeting.id}"
        has_minutes = _flag(root, "minutepublished")
        for index, item in enumerate(root.xpath("agendaitems/agendaitem"), start=1):
            title = _field(item, "agendaitemtitle")
            minutes = html_text(_field(item, "minutesnonemptyhtmlbody", strip=False))
            has_minutes = has_minutes or bool(minutes)
            documents = _documents(item)
            text = "\n".join(
                part
                for part in (
                    title,
                    html_text(_field(item, "agendatext", strip=False)),
                    minutes,
                    *(doc["title"] for doc in documents),
                )
                if part
            )
            item_id = _field(item, "agendaitemid")
            item_url = f"{base}/mgAi.aspx?ID={item_id}" if item_id else ""
            paper = self._paper(
                code,
                meeting,
                held_on,
                Paper(item_id or str(index), title, text, item_url, meeting_url, documents),
            )
            if paper is not None:
                yield paper
        if has_minutes:
            stage = MINUTES
        elif _flag(root, "agendapublished") or root.xpath("agendaitems/agendaitem"):
            stage = AGENDA
        else:
            stage = NONE
        yield self._read_mark_item(self.key_of(code, meeting), meeting, stage)

    # -- a CMIS council ------------------------------------------------------------------

    def _cmis_requests(self, code: str) -> Iterator[Request]:
        """The month pages to list, when the calendar is known from the council's mark; else
        its meetings page, to find the calendar."""
        prefix, _ = _calendar_mark(self.marks.get(calendar_key(code), ""))
        if prefix:
            yield from self._month_requests(code, prefix)
        else:
            yield self.listing_request(
                self.sites[code], self.parse_meetings_page, self.council_failed, code=code
            )

    def parse_meetings_page(self, response: Response, code: str) -> Iterator[Request]:
        """The meetings page: the calendar from a meeting link on it, or else from the module's
        list view, whose id the page names."""
        page = _html(response)
        prefix = _calendar_prefix(response, page)
        if prefix:
            yield from self._month_requests(code, prefix)
            return
        module = MODULE_ID.search(page.get() if page is not None else "")
        if module is None:
            self._council_done(code, FAILED, response.url, "no CMIS meetings calendar on the page")
            return
        separator = "&" if "?" in self.sites[code] else "?"
        yield self.listing_request(
            f"{self.sites[code]}{separator}ctl={LIST_VIEW}&mid={module.group(1)}",
            self.parse_list_view,
            self.council_failed,
            code=code,
        )

    def parse_list_view(self, response: Response, code: str) -> Iterator[Request]:
        prefix = _calendar_prefix(response, _html(response))
        if not prefix:
            self._council_done(code, FAILED, response.url, "no meeting link in the CMIS list view")
            return
        yield from self._month_requests(code, prefix)

    def listing_days(self, code: str) -> tuple[dt.date, dt.date]:
        """The days a CMIS council's calendar is listed for this poll: the window the first
        time (and in a check); after that, from the day after the last listing up to when an
        agenda may be due, since meetings listed before are read again from their marks."""
        start, end = self.window
        _, last = _calendar_mark(self.marks.get(calendar_key(code), ""))
        if last is None or self.check:
            return start, end
        first = max(start, min(self.today, last + dt.timedelta(days=1)))
        return first, max(first, min(end, self.today + dt.timedelta(days=AGENDA_DAYS)))

    def _month_requests(self, code: str, prefix: str) -> Iterator[Request]:
        months = _months(*self.listing_days(code))
        self.months_due[code] = len(months)
        self.listed_keys[code] = set()
        for month in months:
            yield self.listing_request(
                f"{prefix.format(view=MONTH_VIEW)}/Date/{month.isoformat()}/Default.aspx",
                self.parse_month,
                self.council_failed,
                code=code,
                prefix=prefix,
                month=month,
            )

    def parse_month(
        self, response: Response, code: str, prefix: str, month: dt.date
    ) -> Iterator[Request | MarkItem]:
        """One month of the calendar: its meetings in the listed days read when due; with the
        council's last month, its meetings listed before and due, and the council's mark."""
        page = _html(response)
        if page is None or not page.css(CALENDAR):
            self._council_done(code, FAILED, response.url, "not a CMIS month calendar")
            return
        self._council_done(code, OK, response.url)
        first, last = self.listing_days(code)
        meetings = [
            m
            for m in _calendar_meetings(response, page, month, prefix)
            if first <= m.held_on <= last
        ]
        self.listed_keys[code].update(self.key_of(code, m) for m in meetings)
        yield from self._read_listed(code, meetings, self._view_meeting)
        self.months_due[code] -= 1
        if self.months_due[code] == 0 and self.councils.get(code) == OK:
            if not self.check:
                yield from self._read_known(code, prefix)
            yield MarkItem(calendar_key(code), f"{prefix}|{self.today}")

    def _read_known(self, code: str, prefix: str) -> Iterator[Request]:
        """Meetings listed on an earlier poll and not this one, read again while due."""
        start, end = self.window
        for key, mark in sorted(self.marks.items()):
            if not key.startswith(meeting_key(code, "")) or key in self.listed_keys[code]:
                continue
            meeting = _known_meeting(key.removeprefix(meeting_key(code, "")), mark, prefix)
            if meeting is not None and start <= meeting.held_on <= end and self.due(key, meeting):
                yield self._view_meeting(code, meeting)

    def _view_meeting(self, code: str, meeting: Meeting) -> Request:
        return self.detail_request(meeting.url, self.parse_meeting_page, code=code, meeting=meeting)

    def parse_meeting_page(
        self, response: Response, code: str, meeting: Meeting
    ) -> Iterator[SourceItem | MarkItem]:
        """A CMIS meeting's page: each listed document about the SEND case is a paper."""
        page = _html(response)
        if page is None or not page.css(MEETING_PAGE):
            self.item_error(response.url, "not a CMIS meeting page")
            return
        self.meetings_read += 1
        summary = _summary(page)
        meeting = replace(meeting, committee=summary.get("Committee") or meeting.committee)
        documents = _cmis_documents(response, page)
        for document in documents:
            paper = Paper(
                urlsplit(document["url"]).query or document["url"],
                document["title"],
                document["title"],
                document["url"],
                response.url,
                [document],
            )
            found = self._paper(code, meeting, meeting.held_on, paper)
            if found is not None:
                yield found
        if any(_minutes_of_the_meeting(document["title"]) for document in documents):
            stage = MINUTES
        else:
            stage = AGENDA if documents else NONE
        yield self._read_mark_item(self.key_of(code, meeting), meeting, stage)

    def _paper(
        self, code: str, meeting: Meeting, held_on: dt.date, paper: Paper
    ) -> SourceItem | None:
        """The `council_paper` of an agenda item about the council's SEND case (None for any
        other), whichever software published it; the council is the site's."""
        if not paper.title or not about_the_send_case(paper.title, paper.text):
            return None
        authority = register().get(code)
        return SourceItem(
            source=self.name,
            identity=f"{code}:{meeting.id}:{paper.id}",
            url=paper.item_url or paper.meeting_url,
            title=f"{meeting.committee}, {spoken_date(held_on)}: {paper.title}",
            text=paper.text,
            published_on=held_on,
            kind_hint=Kind.COUNCIL_PAPER,
            la_hint=authority.name if authority else "",
            extra={
                "committee": meeting.committee,
                "meeting_date": held_on.isoformat(),
                "item_title": paper.title,
                "item_url": paper.item_url,
                "meeting_url": paper.meeting_url,
                "documents": paper.documents,
                "ons_code": code,
            },
        )

    def _read_mark_item(self, key: str, meeting: Meeting, stage: str) -> MarkItem:
        """What was read of a meeting, and when: what `due` decides from next time."""
        return MarkItem(key, f"{meeting.listed}|{stage}|{self.today}")


@dataclass(frozen=True)
class Paper:
    """An agenda item as either software shows it, before the relevance rule."""

    id: str
    title: str
    text: str
    item_url: str
    meeting_url: str
    documents: list[dict[str, str]]


def meeting_key(code: str, meeting_id: str) -> str:
    return f"{MEETING_MARK}{code}:{meeting_id}"


# -- CMIS pages (DemocracyClub/LGSF lgsf/minutes/scrapers.py CMISMinutesScraper, its fixtures) --

CALENDAR_MARK = "cmis:"
#: The module's views: its list of this month's meetings, any month's calendar, a meeting.
LIST_VIEW, MONTH_VIEW, MEETING_VIEW = (
    "MeetingCalendarListView",
    "MeetingCalendarPublicNoJava",
    "ViewMeetingPublic",
)
#: The meetings module's id, as its form names it ("MeetingCalendarPublicList" on some sites).
MODULE_ID = re.compile(r"dnn\$ctr(\d+)\$MeetingCalendarPublic\w*\$")
#: A link to any view of the module, in DNN's path form: its page's tabid and the module id.
MODULE_LINK = re.compile(r"^(?P<page>\S*/tabid/\d+)/ctl/\w+/(?P<mid>mid/\d+)/", re.IGNORECASE)
MEETING_LINK = re.compile(r"/Meeting/(?P<meeting>\d+)/Committee/(?P<committee>\d+)/", re.IGNORECASE)
#: A day of the month calendar ("Tuesday, 10 March"; the year is the month's asked for).
CALENDAR_DAY = re.compile(
    r"^\w+day,\s+(?P<day>\d{1,2})\s+(?P<month>[A-Za-z]+)(?:\s+(?P<year>\d{4}))?$"
)
#: A meeting on that day ("10:00 Cabinet").
CALENDAR_ENTRY = re.compile(r"^(?:(?P<time>\d{1,2}[:.]\d{2})\s+)?(?P<committee>.+)$")
CALENDAR = "td.SimpleCalendarDate, [id*='MeetingCalendarPublic']"
MEETING_PAGE = ".ModCMISMeetingsC, [id*='ViewMeetingPublic']"
DOCUMENT_LINKS = "li.DocumentListItem a.TitleLink[href]"
#: The minutes of the meeting itself (not "Minutes of the previous meeting", an agenda paper).
MINUTES_TITLE = re.compile(r"\bminutes\b", re.IGNORECASE)
EARLIER_MINUTES = re.compile(r"\b(previous|last|earlier)\b", re.IGNORECASE)


def calendar_key(code: str) -> str:
    """A CMIS council's mark: "<its calendar's URL, with {view}>|<the day it was last listed>"."""
    return f"{CALENDAR_MARK}{code}"


def _calendar_mark(mark: str) -> tuple[str, dt.date | None]:
    prefix, _, listed_on = mark.rpartition("|")
    try:
        return prefix, dt.date.fromisoformat(listed_on)
    except ValueError:
        return "", None


def _html(response: Response) -> Selector | None:
    """The page's HTML, or None for an answer that is not text."""
    if not isinstance(response, TextResponse):
        return None
    return Selector(text=response.text)


def _calendar_prefix(response: Response, page: Selector | None) -> str:
    """ "<site>/…/tabid/70/ctl/{view}/mid/397": any view of the meetings module, from the first
    link to one on the page ("" when none)."""
    for href in page.css("a::attr(href)").getall() if page is not None else []:
        link = MODULE_LINK.match(response.urljoin(href))
        if link:
            return f"{link['page']}/ctl/{{view}}/{link['mid']}"
    return ""


def _months(first: dt.date, last: dt.date) -> list[dt.date]:
    """The first day of each month from `first` to `last`: one calendar page each."""
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return months


def _calendar_meetings(
    response: Response, page: Selector, month: dt.date, prefix: str
) -> Iterator[Meeting]:
    """Every meeting of a month's calendar, once: a day cell, then its meetings' links."""
    seen = set()
    for cell in page.xpath("//td[following-sibling::td]"):
        day = CALENDAR_DAY.match(" ".join(cell.xpath("normalize-space(.)").get("").split()))
        if day is None:
            continue
        try:
            held_on = dt.datetime.strptime(
                f"{day['day']} {day['month']} {day['year'] or month.year}", "%d %B %Y"
            ).date()
        except ValueError:
            continue
        for link in cell.xpath("following-sibling::td[1]//a[@href]"):
            url = response.urljoin(link.attrib["href"])
            ids = MEETING_LINK.search(url)
            entry = CALENDAR_ENTRY.match(" ".join(link.xpath("normalize-space(.)").get("").split()))
            if ids is None or entry is None or ids["meeting"] in seen:
                continue
            seen.add(ids["meeting"])
            yield Meeting(
                id=ids["meeting"],
                held_on=held_on,
                committee_id=ids["committee"],
                committee=entry["committee"],
                status="",
                time=entry["time"] or "",
                url=_meeting_url(prefix, ids["meeting"], ids["committee"]),
            )


def _meeting_url(prefix: str, meeting_id: str, committee_id: str) -> str:
    """A meeting's page, as the real sites link it (…/ctl/ViewMeetingPublic/mid/397/Meeting/
    11151/Committee/3/Default.aspx)."""
    return f"{prefix.format(view=MEETING_VIEW)}/Meeting/{meeting_id}/Committee/{committee_id}/Default.aspx"


def _known_meeting(ids: str, mark: str, prefix: str) -> Meeting | None:
    """A meeting listed on an earlier poll, from its mark ("<id>/<committee id>" ->
    "<date>/<time>/<status>|<stage>|<read on>")."""
    meeting_id, _, committee_id = ids.partition("/")
    listed, _, _ = _read_mark(mark)
    held_on, _, rest = listed.partition("/")
    time, _, status = rest.partition("/")
    try:
        day = dt.date.fromisoformat(held_on)
    except ValueError:
        return None
    if not meeting_id or not committee_id:
        return None
    url = _meeting_url(prefix, meeting_id, committee_id)
    return Meeting(meeting_id, day, committee_id, "", status, time, url)


def _summary(page: Selector) -> dict[str, str]:
    """The meeting's summary, label -> value ("Committee", "Status", "Venue"): labels, not
    classes, name the fields (a site marks its status and its venue alike)."""
    summary: dict[str, str] = {}
    for holder in page.css("div.holder"):
        label = " ".join(holder.xpath("./div[contains(@class, 'DNNLabel')]//text()").getall())
        value = " ".join(holder.xpath("./div[contains(@class, 'Value')][1]//text()").getall())
        label, value = " ".join(label.split()).rstrip(":").strip(), " ".join(value.split())
        if label and value:
            summary.setdefault(label, value)
    return summary


def _cmis_documents(response: Response, page: Selector) -> list[dict[str, str]]:
    """A meeting's documents, each once, with absolute URLs."""
    documents, seen = [], set()
    for link in page.css(DOCUMENT_LINKS):
        url = response.urljoin(link.attrib["href"])
        title = " ".join(" ".join(link.xpath(".//text()").getall()).split())
        if url not in seen and title:
            seen.add(url)
            documents.append({"title": title, "url": url})
    return documents


def _minutes_of_the_meeting(title: str) -> bool:
    return bool(MINUTES_TITLE.search(title)) and not EARLIER_MINUTES.search(title)


def _meetings(xml: Selector) -> Iterator[Meeting]:
    """Every meeting GetMeetings lists, once, with its committee."""
    seen = set()
    for committee in xml.xpath("/getmeetings/committee"):
        committee_id = _field(committee, "committeeid")
        title = _field(committee, "committeetitle") or f"Committee {committee_id}"
        for meeting in committee.xpath("committeemeetings/meeting"):
            meeting_id = _field(meeting, "meetingid")
            held_on = _date(_field(meeting, "meetingdate"))
            if not meeting_id or held_on is None or meeting_id in seen:
                continue
            seen.add(meeting_id)
            yield Meeting(
                id=meeting_id,
                held_on=held_on,
                committee_id=committee_id,
                committee=title,
                status=_field(meeting, "meetingstatus"),
                time=_field(meeting, "meetingtime"),
            )


def _documents(item: Selector) -> list[dict[str, str]]:
    """An agenda item's linked documents, as given (ModernGov may answer with http:// URLs)."""
    documents, seen = [], set()
    for doc in item.xpath("linkeddocuments/linkeddoc"):
        url = _field(doc, "url")
        if url and url not in seen:
            seen.add(url)
            documents.append({"title": _field(doc, "title"), "url": url})
    return documents


def _field(node: Selector | SelectorList[Selector], name: str, strip: bool = True) -> str:
    value = "".join(node.xpath(f"{name}/text()").getall())
    return " ".join(value.split()) if strip else value


def _flag(node: Selector | SelectorList[Selector], name: str) -> bool:
    return _field(node, name).lower() == "true"


def _date(text: str) -> dt.date | None:
    """ModernGov's dd/mm/yyyy."""
    try:
        return dt.datetime.strptime(text.strip(), DATE_FORMAT).date()
    except ValueError:
        return None


def _cancelled(meeting: Meeting) -> bool:
    return meeting.status.lower() == CANCELLED


def _read_mark(mark: str) -> tuple[str, str, dt.date | None]:
    """ "<listed>|<stage>|<read on>" -> its parts (a malformed mark reads as never read)."""
    listed, _, rest = mark.partition("|")
    stage, _, read_on = rest.partition("|")
    try:
        return listed, stage, dt.date.fromisoformat(read_on)
    except ValueError:
        return listed, stage, None
