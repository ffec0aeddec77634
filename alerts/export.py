"""Open data: every event as JSON or CSV, for `sendwatch export` and the read-only HTTP API.

One record shape for both, built here once:

    {"id", "kind", "local_authority": {"name", "ons_code", "dfe_code", "region"} | null,
     "happened_on", "first_seen_at", "deadline", "outcome", "title", "summary",
     "sources": [{"source", "url", "title", "published_at"}],
     "thread": {"id", "kind", "title", "happened_on"} | null,
     "deadline_passed", "next_inspection_due", "overdue"}

`thread`, `deadline`, `deadline_passed`, `next_inspection_due` and `overdue` are what the
council's case (`sendwatch.case`, read when asked) says of the event: the thread it belongs
to (the council's inspection or notice), an issued notice's deadline and whether it is before
today, and on an area SEND inspection report when the inspection after it is due and whether
that date has passed while the report is still the council's latest (null and false on other
events). `case_record` is a council's case itself, for `/api/las`, with its record with the
Ombudsman: `"ombudsman": {"decisions_12_months", "upheld_12_months", "remedies_12_months_gbp"}`.

CSV flattens it (the LA's fields as columns, the sources joined with " | ") and is
written as UTF-8 with a byte-order mark when it goes to a file, so spreadsheets open
it with the right characters.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import selectinload

from alerts.filters import resolve_kind, resolve_la
from sendwatch.case import CaseState, EventFacts, FollowUp
from sendwatch.errors import SendwatchError
from sendwatch.ombudsman import OmbudsmanRecord
from sendwatch.text import quoted
from storage.las import LocalAuthority, register
from storage.models import Event
from storage.queries import (
    HAPPENED_DAY,
    NEWEST_HAPPENED_FIRST,
    cases,
    event_facts,
    ombudsman_records,
)
from storage.store import Store

CSV_COLUMNS = (
    "id",
    "kind",
    "la_name",
    "la_ons_code",
    "la_dfe_code",
    "la_region",
    "happened_on",
    "first_seen_at",
    "deadline",
    "outcome",
    "title",
    "summary",
    "source_names",
    "source_urls",
    "thread_id",
    "thread_kind",
    "deadline_passed",
    "next_inspection_due",
    "overdue",
)
MAX_LIMIT = 500
#: The largest integer the databases store (SQLite INTEGER, PostgreSQL BIGINT).
MAX_ID = 2**63 - 1


class BadParameter(SendwatchError):
    """A filter the user gave is not valid; names the parameter."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter


def whole_number(parameter: str, raw: str, low: int, high: int) -> int:
    """`raw` as a whole number from `low` to `high` (ASCII digits only: "²".isdigit() is true but
    int() refuses it), or BadParameter naming `parameter`."""
    if not (raw.isascii() and raw.isdigit() and len(raw) <= len(str(high))) or not (
        low <= int(raw) <= high
    ):
        raise BadParameter(parameter, f"a whole number from {low} to {high}, not {quoted(raw)}")
    return int(raw)


@dataclass(frozen=True)
class EventFilter:
    since: dt.date | None = None
    la_code: str | None = None
    kind: str | None = None

    @classmethod
    def parse(cls, since: str | None, la: str | None, kind: str | None) -> EventFilter:
        """From user input, each problem reported against its parameter."""
        day = None
        if since:
            try:
                day = dt.date.fromisoformat(since)
            except ValueError:
                raise BadParameter("since", f"not a date (YYYY-MM-DD): {quoted(since)}") from None
        try:
            la_code = resolve_la(la) if la else None
        except SendwatchError as exc:
            raise BadParameter("la", str(exc)) from None
        try:
            kind_value = resolve_kind(kind) if kind else None
        except SendwatchError as exc:
            raise BadParameter("kind", str(exc)) from None
        return cls(day, la_code, kind_value)

    def apply(self, query: Any) -> Any:
        if self.since:
            query = query.where(self.since <= HAPPENED_DAY)
        if self.la_code:
            query = query.where(Event.la_code == self.la_code)
        if self.kind:
            query = query.where(Event.kind == self.kind)
        return query


def select_events(
    store: Store,
    where: EventFilter,
    *,
    newest_first: bool = False,
    before_id: int | None = None,
    limit: int | None = None,
) -> list[Event]:
    """Events with their findings. Export: oldest first. API: newest first, by id (a stable cursor)."""
    with store.sessions() as session:
        query = where.apply(select(Event).options(selectinload(Event.findings)))
        if before_id is not None:
            query = query.where(Event.id < before_id)
        query = query.order_by(Event.id.desc() if newest_first else Event.id)
        if limit is not None:
            query = query.limit(limit)
        return list(session.scalars(query))


def newest_events(
    store: Store,
    where: EventFilter,
    *,
    before: tuple[dt.date, int] | None = None,
    limit: int,
) -> list[tuple[Event, dt.date]]:
    """Events with their findings, newest happened first (id breaking ties), each with the
    day it is ordered by; `before` is the (day, id) of the last event of the previous page,
    so keyset paging neither repeats nor skips an event."""
    happened = HAPPENED_DAY
    with store.sessions() as session:
        query = where.apply(
            select(Event, happened.label("day")).options(selectinload(Event.findings))
        )
        if before is not None:
            day, event_id = before
            query = query.where(or_(happened < day, and_(happened == day, Event.id < event_id)))
        query = query.order_by(*NEWEST_HAPPENED_FIRST).limit(limit)
        return [(event, _as_date(day)) for event, day in session.execute(query)]


def _as_date(value: dt.date | str) -> dt.date:
    """SQLite may hand back date() as text; PostgreSQL hands back a date."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def records_of(
    store: Store, events: Sequence[Event], *, today: dt.date | None = None
) -> list[dict[str, Any]]:
    """The records of `events`, with what their councils' cases say of them (read once for all
    of them), as of `today` (the real today unless given)."""
    facts = event_facts(store, events, today=today)
    return [record_of(event, facts[event.id]) for event in events]


def record_of(event: Event, facts: EventFacts) -> dict[str, Any]:
    """The event's record: its own fields, and what its council's case says of it (`facts`:
    the thread, the deadline and whether it has passed, what is due after a report)."""
    la = register().get(event.la_code) if event.la_code else None
    thread = facts.thread
    return {
        "id": event.id,
        "kind": event.kind,
        "local_authority": {
            "name": la.name,
            "ons_code": la.ons_code,
            "dfe_code": la.dfe_code,
            "region": la.region,
        }
        if la
        else None,
        "happened_on": _iso(event.happened_on),
        "first_seen_at": event.created_at.isoformat(timespec="seconds"),
        "deadline": _iso(facts.deadline),
        "outcome": event.outcome,
        "title": event.title,
        "summary": event.summary,
        "sources": [
            {
                "source": finding.source,
                "url": finding.url,
                "title": finding.title,
                "published_at": _iso(finding.published_on),
            }
            # Oldest publication first: the official notice or report, then the news about it.
            for finding in sorted(
                event.findings, key=lambda f: (f.published_on or dt.date.max, f.id)
            )
        ],
        "thread": {
            "id": thread.id,
            "kind": thread.kind,
            "title": thread.title,
            "happened_on": _iso(thread.happened_on),
        }
        if thread is not None
        else None,
        "deadline_passed": facts.deadline_passed,
        "follow_up": follow_up_record(facts.follow_up) if facts.follow_up else None,
        "next_inspection_due": _iso(facts.next_inspection_due),
        "overdue": facts.overdue,
    }


def case_record(
    la: LocalAuthority, state: CaseState | None, ombudsman: OmbudsmanRecord | None = None
) -> dict[str, Any]:
    """A council and its case today, as `/api/las` serves it and `sendwatch status --la
    --json` prints it, with its record with the Ombudsman (`ombudsman_record`)."""
    notice = state.notice if state else None
    inspection = state.inspection if state else None
    return {
        "name": la.name,
        "ons_code": la.ons_code,
        "dfe_code": la.dfe_code,
        "region": la.region,
        "latest_inspection": {
            "outcome": inspection.outcome,
            "date": inspection.published_on.isoformat(),
            "follow_up": follow_up_record(state.monitoring) if state and state.monitoring else None,
        }
        if inspection
        else None,
        "case_closed": bool(state and state.closed),
        "notice_in_force": bool(state and state.notice_in_force),
        "notice": {
            "kind": notice.kind,
            "issued_on": _iso(notice.issued_on),
            "deadline": _iso(notice.deadline),
            "deadline_passed": bool(state and state.deadline_passed),
            "lifted_on": _iso(notice.lifted_on),
        }
        if notice
        else None,
        "next_inspection_due": _iso(state.next_inspection_due) if state else None,
        "next_inspection_kind": state.next_inspection_kind if state else None,
        "overdue": bool(state and state.overdue),
        "last_event_on": _iso(state.latest_event_on) if state else None,
        "ombudsman": ombudsman_record(ombudsman),
    }


def council_records(store: Store, la_code: str | None = None) -> list[dict[str, Any]]:
    """Every council's case (or one's), as `/api/las` serves it, `sendwatch export --las`
    writes it and `sendwatch status --la --json` prints it: the cases and the Ombudsman
    records read once for all of them."""
    las = [la for la in register() if la_code is None or la.ons_code == la_code]
    codes = None if la_code is None else [la_code]
    states = cases(store, codes)
    records = ombudsman_records(store, codes)
    return [case_record(la, states.get(la.ons_code), records.get(la.ons_code)) for la in las]


#: `sendwatch export --las --format csv`: a council's case flattened, a row a council.
LA_CSV_COLUMNS = (
    "name",
    "ons_code",
    "dfe_code",
    "region",
    "latest_inspection_outcome",
    "latest_inspection_date",
    "follow_up_kind",
    "follow_up_date",
    "follow_up_outcome",
    "follow_up_areas_left",
    "case_closed",
    "notice_in_force",
    "notice_kind",
    "notice_issued_on",
    "notice_deadline",
    "notice_lifted_on",
    "next_inspection_due",
    "next_inspection_kind",
    "overdue",
    "last_event_on",
    "ombudsman_decisions_12_months",
    "ombudsman_upheld_12_months",
    "ombudsman_remedies_12_months_gbp",
)


def las_to_csv(records: Iterable[dict[str, Any]]) -> str:
    return _csv(LA_CSV_COLUMNS, (_la_row(record) for record in records))


def _la_row(record: dict[str, Any]) -> dict[str, Any]:
    """A council's case (`case_record`) as one CSV row."""
    inspection = record["latest_inspection"] or {}
    follow = inspection.get("follow_up") or {}
    notice = record["notice"] or {}
    ombudsman = record["ombudsman"]
    return {
        "name": record["name"],
        "ons_code": record["ons_code"],
        "dfe_code": record["dfe_code"] or "",
        "region": record["region"],
        "latest_inspection_outcome": inspection.get("outcome") or "",
        "latest_inspection_date": inspection.get("date") or "",
        "follow_up_kind": follow.get("kind") or "",
        "follow_up_date": follow.get("date") or "",
        "follow_up_outcome": follow.get("outcome") or "",
        "follow_up_areas_left": _blank_none(follow.get("areas_left")),
        "case_closed": _yes_no(record["case_closed"]),
        "notice_in_force": _yes_no(record["notice_in_force"]),
        "notice_kind": notice.get("kind") or "",
        "notice_issued_on": notice.get("issued_on") or "",
        "notice_deadline": notice.get("deadline") or "",
        "notice_lifted_on": notice.get("lifted_on") or "",
        "next_inspection_due": record["next_inspection_due"] or "",
        "next_inspection_kind": record["next_inspection_kind"] or "",
        "overdue": _yes_no(record["overdue"]),
        "last_event_on": record["last_event_on"] or "",
        "ombudsman_decisions_12_months": ombudsman["decisions_12_months"],
        "ombudsman_upheld_12_months": ombudsman["upheld_12_months"],
        "ombudsman_remedies_12_months_gbp": ombudsman["remedies_12_months_gbp"],
    }


def _csv(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> str:
    """Rows under a header, CRLF-ended as RFC 4180 has it."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _blank_none(value: Any) -> Any:
    return "" if value is None else value


def ombudsman_record(record: OmbudsmanRecord | None) -> dict[str, Any]:
    """The council's Ombudsman decisions of the last 12 months: how many, how many upheld, the
    remedies they state in total (pounds); zeros for a council with none."""
    return {
        "decisions_12_months": record.decisions if record else 0,
        "upheld_12_months": record.upheld if record else 0,
        "remedies_12_months_gbp": record.remedies_gbp if record else 0,
    }


def follow_up_record(follow: FollowUp) -> dict[str, Any]:
    """The monitoring inspection or revisit since an inspection, and what it found."""
    return {
        "kind": "revisit" if follow.revisit else "monitoring_inspection",
        "date": follow.published_on.isoformat(),
        "outcome": follow.outcome,
        "areas_addressed": follow.areas_addressed,
        "areas_total": follow.areas_total,
        "areas_left": follow.areas_left,
    }


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def to_json(records: Sequence[dict[str, Any]]) -> str:
    return json.dumps(list(records), ensure_ascii=False, indent=2) + "\n"


def to_csv(records: Iterable[dict[str, Any]]) -> str:
    return _csv(CSV_COLUMNS, (_event_row(record) for record in records))


def _event_row(record: dict[str, Any]) -> dict[str, Any]:
    """An event's record as one CSV row."""
    la = record["local_authority"] or {}
    return {
        "id": record["id"],
        "kind": record["kind"],
        "la_name": la.get("name", ""),
        "la_ons_code": la.get("ons_code", ""),
        "la_dfe_code": la.get("dfe_code", ""),
        "la_region": la.get("region", ""),
        "happened_on": record["happened_on"] or "",
        "first_seen_at": record["first_seen_at"],
        "deadline": record["deadline"] or "",
        "outcome": record["outcome"] or "",
        "title": record["title"],
        "summary": record["summary"],
        "source_names": " | ".join(s["source"] for s in record["sources"]),
        "source_urls": " | ".join(s["url"] for s in record["sources"]),
        "thread_id": thread["id"] if (thread := record.get("thread")) else "",
        "thread_kind": thread["kind"] if thread else "",
        "deadline_passed": _yes_no(record.get("deadline_passed")),
        "next_inspection_due": record.get("next_inspection_due") or "",
        "overdue": _yes_no(record.get("overdue")),
    }


def _yes_no(value: object) -> str:
    """A boolean column as spreadsheets read it."""
    return "true" if value else "false"
