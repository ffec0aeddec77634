"""iCalendar feeds of what is due: notice deadlines, expected monitoring inspections and
full area SEND inspections, for one council, one region or every council.

`/calendar/la/<slug or ONS code>.ics`, `/calendar/region/<slug>.ics`, `/calendar/all.ics`
(served by alerts.web, with the feeds' ETag and 304).
Each date is an all-day event (`DTSTART;VALUE=DATE`, `DTEND` the day after, as Outlook
wants) whose UID is made of the council, what is due and the id of the event it follows
(the notice, or the inspection report), on the host of sendwatch's own address
(`Settings.own_url`): the same on every request and after restarts, so a calendar app updates an entry rather than adding a
second one when a date moves. DTSTAMP is when that event last changed, so a calendar
nothing changed in is the same bytes (and the same ETag).

Dates come from each council's case (`sendwatch.case`): what the report states, else the
framework's interval (see FULL_INSPECTION_MONTHS there); inspectors give no exact day, so the entries say
"approximately". Built with the `icalendar` library, which folds lines and escapes text
as RFC 5545 requires (Google Calendar, Outlook and Apple Calendar read it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from icalendar import Calendar
from icalendar import Event as CalendarEvent
from icalendar.prop import vDuration
from sqlalchemy import select

from alerts.summary import format_date, kind_label
from sendwatch.case import CaseState
from sendwatch.config import Settings
from storage.las import LocalAuthority, register
from storage.models import Event
from storage.queries import cases
from storage.store import Store

CONTENT_TYPE = "text/calendar; charset=utf-8"
PRODID = "-//sendwatch//SEND deadlines and inspections due//EN"
#: How often calendar apps are asked to look again (they mostly decide for themselves).
REFRESH = dt.timedelta(hours=12)
#: What is due, as named in UIDs.
NOTICE_DEADLINE, MONITORING_INSPECTION, FULL_INSPECTION = (
    "notice-deadline",
    "monitoring-inspection",
    "full-inspection",
)


@dataclass(frozen=True)
class Due:
    """One date in a calendar: what is due for which council, and the event it follows."""

    la: LocalAuthority
    what: str
    event_id: int
    day: dt.date
    summary: str
    description: str


@dataclass(frozen=True)
class CalendarSpec:
    """Which councils a calendar covers, what it is called, its path under /calendar/ (without
    ".ics") and the name it downloads as."""

    name: str
    la_codes: tuple[str, ...] | None  # None: every council
    path: str
    filename: str


def calendar_url(base: str, spec: CalendarSpec) -> str:
    """The calendar's address on sendwatch's own address `base`."""
    return f"{base}/calendar/{spec.path}.ics"


def spec_for(section: str, key: str) -> CalendarSpec | None:
    """The calendar at /calendar/<section>/<key>.ics, or None when there is none."""
    las = register()
    if section == "la":
        la = las.lookup(key)
        if la is None:
            return None
        return CalendarSpec(
            f"sendwatch: {la.name}, SEND dates", (la.ons_code,), f"la/{la.slug}", f"{la.slug}.ics"
        )
    if section == "region":
        members = [la for la in las if la.region_slug == key]
        if not members:
            return None
        return CalendarSpec(
            f"sendwatch: {members[0].region}, SEND dates",
            tuple(la.ons_code for la in members),
            f"region/{key}",
            f"{key}.ics",
        )
    return None


ALL = CalendarSpec("sendwatch: SEND dates, every council in England", None, "all", "england.ics")


def dues_of(la: LocalAuthority, state: CaseState, page: str) -> list[Due]:
    """What is due for one council: its notice's deadline while the notice is in force, the
    monitoring inspection still expected, and the next full inspection. `page` is the
    council's page, linked from each entry."""
    dues: list[Due] = []
    notice = state.notice
    if notice is not None and notice.in_force and notice.deadline and notice.event_id:
        label = kind_label(notice.kind or "").removesuffix(" issued").lower()
        dues.append(
            Due(
                la,
                NOTICE_DEADLINE,
                notice.event_id,
                notice.deadline,
                f"{la.name}: {label} deadline",
                f"The deadline of the Department for Education's {label} to {la.name} "
                f"of {format_date(notice.issued_on)}.\n\nMore: {page}",
            )
        )
    inspection = state.inspection
    if inspection is None:
        return dues
    report = f"the area SEND inspection report published {format_date(inspection.published_on)}"
    if state.monitoring_due:
        dues.append(
            Due(
                la,
                MONITORING_INSPECTION,
                inspection.event_id,
                state.monitoring_due,
                f"{la.name}: area SEND monitoring inspection expected",
                f"Ofsted and CQC's monitoring inspection of {la.name} is expected by about "
                f"this date, after {report}.\n\nMore: {page}",
            )
        )
    if state.full_inspection_due:
        dues.append(
            Due(
                la,
                FULL_INSPECTION,
                inspection.event_id,
                state.full_inspection_due,
                f"{la.name}: next full area SEND inspection due",
                f"The next full area SEND inspection of {la.name} is due by about this date, "
                f"after {report}.\n\nMore: {page}",
            )
        )
    return dues


def uid(due: Due, domain: str) -> str:
    """Stable across requests and restarts: the council, what is due, the event it follows."""
    return f"{due.la.ons_code}-{due.what}-{due.event_id}@{domain}"


def render_calendar(
    settings: Settings, store: Store, spec: CalendarSpec, base: str | None = None
) -> bytes:
    """The calendar as iCalendar bytes (CRLF lines, folded at 75 octets); its links and UIDs on
    `base`, sendwatch's own address (default: `Settings.own_url` without a listening address)."""
    base = (base or settings.own_url()).rstrip("/")
    domain = urlsplit(base).hostname or "sendwatch"
    states = cases(store, spec.la_codes)
    wanted = set(spec.la_codes) if spec.la_codes is not None else None
    las = register()
    dues = [
        due
        for code, state in sorted(states.items())
        if (wanted is None or code in wanted) and (la := las.get(code)) is not None
        for due in dues_of(la, state, f"{base}/la/{la.slug}")
    ]
    stamps = _changed_at(store, {due.event_id for due in dues})
    calendar = _calendar(spec.name)
    for due in sorted(dues, key=lambda d: (d.day, d.la.name, d.what)):
        calendar.add_component(_entry(due, domain, stamps, f"{base}/la/{due.la.slug}"))
    body: bytes = calendar.to_ical()
    return body


def _calendar(name: str) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add(
        "x-wr-caldesc",
        "Improvement notice deadlines and area SEND inspections due, from sendwatch",
    )
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH))  # Outlook's name for it
    return calendar


def _entry(due: Due, domain: str, stamps: dict[int, dt.datetime], page: str) -> CalendarEvent:
    entry = CalendarEvent()
    entry.add("uid", uid(due, domain))
    entry.add("dtstamp", stamps.get(due.event_id, dt.datetime(2024, 1, 1, tzinfo=dt.UTC)))
    entry.add("dtstart", due.day)
    entry.add("dtend", due.day + dt.timedelta(days=1))
    entry.add("summary", due.summary)
    entry.add("description", due.description)
    entry.add("url", page)
    entry.add("transp", "TRANSPARENT")  # a date to note, not a meeting: never "busy"
    return entry


def _changed_at(store: Store, event_ids: Iterable[int]) -> dict[int, dt.datetime]:
    """When each event last changed, in UTC: the entries' DTSTAMP."""
    ids = sorted(event_ids)
    if not ids:
        return {}
    with store.sessions() as session:
        rows = session.execute(select(Event.id, Event.updated_at).where(Event.id.in_(ids))).all()
    return {event_id: _utc(changed) for event_id, changed in rows}


def _utc(moment: dt.datetime) -> dt.datetime:
    """Aware in UTC, whole seconds (DTSTAMP is UTC; a naive value from the store is UTC)."""
    aware = moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
    return aware.replace(microsecond=0)
