"""The store: records each finding once and links the findings about one happening into one event.

"New" means "never recorded": a finding's identity is chosen by the spider from
the source's own stable id (GOV.UK content id, LGL article id, Ofsted file id),
never from page layout, so a re-styled or re-ordered page records nothing. A
*real update* is a change of what was extracted (the content hash below), not of
markup.

Concurrency: every write goes through ``INSERT ... ON CONFLICT DO NOTHING`` on the
(source, identity) constraint. The loser of a race rolls back (including any event
it created) and retries, then sees the winner's row. Event linking (same kind, same
LA, dates within a window) cannot be a plain constraint, so the candidates are
read under a lock on their (kind, LA) group: a transaction-scoped advisory lock on
PostgreSQL, the database write lock (``BEGIN IMMEDIATE``) on SQLite.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, bindparam, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from sendwatch.case import SAME_HAPPENING_WINDOW
from sendwatch.errors import StoreError
from sendwatch.text import quoted, xml_safe, xml_safe_data
from sendwatch.vocab import (
    LINKABLE_KINDS,
    CrawlResult,
    Kind,
    OmbudsmanOutcome,
    Outcome,
    joined_outcome,
    linked_kinds,
    outcome_for,
    outcome_read,
)
from storage.db import check_connection, make_engine, session_factory, write_session
from storage.las import register
from storage.migrate import upgrade
from storage.models import Alarm, Base, CrawlMark, Event, Finding, SourceState, utcnow

#: Findings of one kind about one LA whose dates are this close describe one event (the one
#: window for "the same happening", which reconciliation relies on too).
EVENT_WINDOW = SAME_HAPPENING_WINDOW
RECORD_ATTEMPTS = 3


@dataclass(frozen=True)
class FindingData:
    """What a source said, normalised: the one input the store takes from the crawler."""

    source: str
    identity: str
    url: str
    title: str
    kind: Kind
    published_on: dt.date | None = None
    la_code: str | None = None
    happened_on: dt.date | None = None
    #: In the kind's vocabulary (`sendwatch.vocab.outcome_for`).
    outcome: Outcome | OmbudsmanOutcome | None = None
    summary: str = ""
    fields: Mapping[str, Any] = field(default_factory=dict)
    #: The official publication itself (DfE's notice, Ofsted's report), not news about it.
    authoritative: bool = False

    def __post_init__(self) -> None:
        # Scraped text enters the store XML-safe, or one bad character breaks every feed.
        for name in ("identity", "url", "title", "summary"):
            object.__setattr__(self, name, xml_safe(str(getattr(self, name))))
        object.__setattr__(self, "fields", xml_safe_data(dict(self.fields)))
        for name in ("source", "identity", "url", "title"):
            if not str(getattr(self, name)).strip():
                raise ValueError(f"finding has an empty {name}")
        if len(self.identity) > 255:
            raise ValueError("finding identity is longer than 255 characters")
        object.__setattr__(self, "kind", Kind(self.kind))
        object.__setattr__(self, "outcome", outcome_for(self.kind, self.outcome))
        if self.la_code is not None and register().get(self.la_code) is None:
            raise ValueError(f"unknown local authority code {self.la_code!r}")

    @property
    def event_date(self) -> dt.date | None:
        """When it happened, or failing that when it was published."""
        return self.happened_on or self.published_on

    def content_hash(self) -> str:
        """A digest of everything extracted; a change here is a real update."""
        payload = {
            "title": self.title.strip(),
            "kind": str(self.kind),
            "published_on": _iso(self.published_on),
            "la_code": self.la_code,
            "happened_on": _iso(self.happened_on),
            "outcome": str(self.outcome) if self.outcome else None,
            "summary": self.summary.strip(),
            "fields": self.fields,
        }
        encoded = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


class FindingStatus(StrEnum):
    NEW = "new"
    UPDATED = "updated"
    SEEN = "seen"


class EventStatus(StrEnum):
    NEW = "new"
    EXISTING = "existing"


@dataclass(frozen=True)
class RecordResult:
    """What `record` did: the finding's fate and the event it belongs to."""

    finding_id: int
    event_id: int
    finding: FindingStatus
    event: EventStatus


@dataclass(frozen=True)
class RunReport:
    """How one crawl of one source went, as the store keeps it for health and alarms."""

    source: str
    #: The crawl's result as its verdict gave it (a `CrawlResult`, or its word).
    result: CrawlResult | str
    listing_items: int
    #: Why the run ended as it did, in a sentence; empty when it simply went well.
    reason: str = ""


@dataclass(frozen=True)
class SourceSummary:
    """One row of `sendwatch status`."""

    source: str
    last_run_at: dt.datetime | None
    last_result: str | None
    consecutive_failures: int
    findings: int
    events: int
    next_run_at: dt.datetime | None = None
    last_reason: str | None = None


class Store:
    """The database behind sendwatch, opened from a URL."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = make_engine(url)
        self.sessions = session_factory(self.engine)

    def check(self) -> None:
        """Raise StoreError with one readable line if the database cannot be reached."""
        check_connection(self.engine)

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (idempotent)."""
        self.check()
        upgrade(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def record(
        self, finding: FindingData, alert: bool = True, mark: tuple[str, str] | None = None
    ) -> RecordResult:
        """Record one finding; idempotent and safe with concurrent writers.

        A new event is marked for alerting unless `alert` is False (a first crawl or a
        backfill: the baseline, which fills the store and the feeds but alerts nobody).
        `mark` (key, version) is remembered for the finding's source in the same
        transaction: the finding is recorded if and only if its page counts as handled.
        """
        for _attempt in range(RECORD_ATTEMPTS):
            with write_session(self.engine) as session:
                result = _record_once(session, finding, alert)
                if result is None:
                    session.rollback()  # lost an insert race: undo, then read the winner's row
                    continue
                if mark is not None:
                    _upsert_mark(session, finding.source, *mark)
                session.commit()
                return result
        raise StoreError(
            f"could not record {finding.source}:{finding.identity} after {RECORD_ATTEMPTS} tries"
        )

    def record_many(
        self, findings: Iterable[FindingData], alert: bool = True, chunk: int = 500
    ) -> list[RecordResult]:
        """`record` for many findings, `chunk` to a transaction: for backfills and bulk loads.

        Each finding gets a savepoint, so one that loses a race to another writer is
        simply recorded again (and found "seen") without undoing its neighbours.
        """
        results: list[RecordResult] = []
        batch: list[FindingData] = []
        for finding in findings:
            batch.append(finding)
            if len(batch) >= chunk:
                results += self._record_chunk(batch, alert)
                batch = []
        if batch:
            results += self._record_chunk(batch, alert)
        return results

    def _record_chunk(self, findings: list[FindingData], alert: bool) -> list[RecordResult]:
        results = []
        with write_session(self.engine) as session:
            for finding in findings:
                for _attempt in range(RECORD_ATTEMPTS):
                    savepoint = session.begin_nested()
                    result = _record_once(session, finding, alert)
                    if result is not None:
                        savepoint.commit()
                        results.append(result)
                        break
                    savepoint.rollback()
                else:
                    raise StoreError(f"could not record {finding.source}:{finding.identity}")
            session.commit()
        return results

    def last_run(self, source: str) -> dt.datetime | None:
        with self.sessions() as session:
            state = session.get(SourceState, source)
            return state.last_run_at if state else None

    def due(self, source: str, interval: dt.timedelta) -> dt.datetime | None:
        """When the source's next crawl is due, by the store, which is the daemon's schedule:
        the run planned after its last run ended (`set_next_run`), else `interval` after its
        last run (a run made outside the daemon, or a store from before plans were kept);
        None, at once, when it never ran. A plan made before the last run ended is the one
        that run fulfilled; one left by a crawl stopped before it finished is past: due.
        """
        with self.sessions() as session:
            state = session.get(SourceState, source)
            last, planned = (state.last_run_at, state.next_run_at) if state else (None, None)
        if last is None:
            return None
        if planned is not None and planned > last:
            return planned
        return last + interval

    def set_next_run(self, source: str, when: dt.datetime | None) -> None:
        """The daemon's next crawl of the source: the schedule `sendwatch status` shows and a
        restart keeps (`due`)."""
        with write_session(self.engine) as session:
            state = session.get(SourceState, source) or SourceState(
                source=source, consecutive_failures=0, items_seen=0
            )
            state.next_run_at = when
            session.add(state)
            session.commit()

    def has_succeeded(self, source: str) -> bool:
        """Whether the source ever completed a healthy run (if not, the next run is the baseline)."""
        with self.sessions() as session:
            state = session.get(SourceState, source)
            return state is not None and state.last_success_at is not None

    def marks(self, source: str) -> dict[str, str]:
        """Everything the source's spider has handled: key -> the version it handled."""
        with self.sessions() as session:
            rows = session.execute(
                select(CrawlMark.key, CrawlMark.value).where(CrawlMark.source == source)
            )
            return {key: value for key, value in rows}

    def set_mark(self, source: str, key: str, value: str) -> None:
        """Remember that the spider handled `key` at version `value` (an upsert)."""
        with write_session(self.engine) as session:
            _upsert_mark(session, source, key, value)
            session.commit()

    def record_run(self, run: RunReport, alarm_after: int) -> list[Alarm]:
        """Keep the source's health; open an alarm the maintainer must hear about, once.

        A failed or blocked run counts towards `alarm_after` failures in a row. An empty
        listing where the source used to have items alarms at once (the site has changed
        under us) and counts as a failure; a source that never had items and lists none has
        not failed. A healthy run resolves the source's open alarms. A run stopped by a signal
        says nothing of the source's health: it is not kept, so a restart never alarms.
        """
        result = CrawlResult(run.result)
        if result is CrawlResult.STOPPED:
            return []
        now = utcnow()
        opened: list[Alarm] = []
        with write_session(self.engine) as session:
            state = session.get(SourceState, run.source) or SourceState(
                source=run.source, consecutive_failures=0, items_seen=0
            )
            session.add(state)
            state.last_run_at = now
            emptied = result is CrawlResult.EMPTY and state.items_seen > 0
            healthy = result is CrawlResult.OK or (result is CrawlResult.EMPTY and not emptied)
            # One word, so `sendwatch status` stays a table; the sentence goes in last_reason.
            state.last_result = str(CrawlResult.OK if healthy else result)
            state.last_reason = run.reason or None
            if healthy:
                state.consecutive_failures = 0
                state.last_success_at = now
                state.items_seen = run.listing_items
                for alarm in _open_alarms(session, run.source):
                    alarm.resolved_at = now
            else:
                state.consecutive_failures += 1
                if emptied:
                    message = (
                        f"{run.source}: the listing parsed to zero items (it had"
                        f" {state.items_seen}); the site may have changed"
                    )
                    opened += _open_alarm(session, run.source, "empty", message)
                if state.consecutive_failures >= alarm_after:
                    message = (
                        f"{run.source}: {state.consecutive_failures} failed runs in a row;"
                        f" last: {result}: {run.reason or 'no reason given'}"
                    )
                    opened += _open_alarm(session, run.source, "failing", message)
            session.commit()
        return opened

    def raise_alarm(self, source: str, kind: str, message: str) -> list[Alarm]:
        """Open an alarm that no crawl raises (the bot token rejected, say), unless one of this
        source and kind is open already; the dispatcher tells the maintainer once."""
        with write_session(self.engine) as session:
            opened = _open_alarm(session, source, kind, message)
            session.commit()
        return opened

    def resolve_alarms(self, source: str, kind: str) -> None:
        """Close the open alarm of this source and kind, if any (its recovery is then told)."""
        with write_session(self.engine) as session:
            session.execute(
                update(Alarm)
                .where(Alarm.source == source, Alarm.kind == kind, Alarm.resolved_at.is_(None))
                .values(resolved_at=utcnow())
            )
            session.commit()

    def unread_outcomes(self, source: str | None = None) -> list[UnreadOutcome]:
        """The reports recorded (by `source`, or any) whose event's outcome no rule read, each
        with the sentence that could not be placed: what the maintainer must look at."""
        query = (
            select(
                Finding.source,
                Finding.event_id,
                Finding.title,
                Finding.url,
                Finding.fields,
                Finding.identity,
            )
            .join(Event, Event.id == Finding.event_id)
            .where(Event.outcome == str(Outcome.UNRECOGNISED))
            .where(Finding.outcome == str(Outcome.UNRECOGNISED))
            .order_by(Finding.event_id, Finding.id)
        )
        if source is not None:
            query = query.where(Finding.source == source)
        with self.sessions() as session:
            rows = session.execute(query).all()
        seen: dict[tuple[str, int], UnreadOutcome] = {}
        for row in rows:
            fields = dict(row.fields or {})
            sentence = str(fields.get("outcome_unread") or "")
            seen.setdefault(
                (row.source, row.event_id),
                UnreadOutcome(
                    row.source, row.event_id, row.title, row.url, sentence, row.identity, fields
                ),
            )
        return list(seen.values())

    def keep_unread_alarms(self, source: str) -> list[Alarm]:
        """One alarm for each report of `source` whose outcome no rule read, opened once and
        open while it stays unread; closed when its event's outcome is read (another report of
        it, or a newer sendwatch reading it again). Returns the alarms opened now."""
        unread = {item.event_id: item for item in self.unread_outcomes(source)}
        alarm_source = f"{source}:outcome"
        opened: list[Alarm] = []
        with write_session(self.engine) as session:
            for alarm in _open_alarms(session, alarm_source):
                if _unread_event(alarm.kind) not in unread:
                    alarm.resolved_at = utcnow()
            for event_id, item in unread.items():
                opened += _open_alarm(
                    session, alarm_source, f"{UNREAD_ALARM}{event_id}", item.message
                )
            session.commit()
        return opened

    def open_alarms(self) -> list[Alarm]:
        with self.sessions() as session:
            return list(
                session.scalars(select(Alarm).where(Alarm.resolved_at.is_(None)).order_by(Alarm.id))
            )

    def source_summaries(self) -> list[SourceSummary]:
        """Per source: last run, findings and events recorded, for `sendwatch status`."""
        with self.sessions() as session:
            counts = session.execute(
                select(
                    Finding.source,
                    func.count(Finding.id),
                    func.count(func.distinct(Finding.event_id)),
                ).group_by(Finding.source)
            ).all()
            states = {state.source: state for state in session.scalars(select(SourceState))}
        by_source = {source: (findings, events) for source, findings, events in counts}
        summaries = []
        for source in sorted(set(by_source) | set(states)):
            state = states.get(source)
            findings, events = by_source.get(source, (0, 0))
            summaries.append(
                SourceSummary(
                    source=source,
                    last_run_at=state.last_run_at if state else None,
                    last_result=state.last_result if state else None,
                    consecutive_failures=state.consecutive_failures if state else 0,
                    findings=findings,
                    events=events,
                    next_run_at=state.next_run_at if state else None,
                    last_reason=state.last_reason if state else None,
                )
            )
        return summaries


def _upsert_mark(session: Session, source: str, key: str, value: str) -> None:
    statement = insert_for(session, CrawlMark).values(
        source=source, key=key, value=value, updated_at=utcnow()
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["source", "key"],
            set_={"value": statement.excluded.value, "updated_at": statement.excluded.updated_at},
        )
    )


#: An alarm about one report's unread outcome: its kind names the event ("unread:1234").
UNREAD_ALARM = "unread:"


def _unread_event(kind: str) -> int | None:
    number = kind.removeprefix(UNREAD_ALARM)
    return int(number) if kind.startswith(UNREAD_ALARM) and number.isdigit() else None


@dataclass(frozen=True)
class UnreadOutcome:
    """A recorded report whose outcome no rule read, and the sentence that could not be placed."""

    source: str
    event_id: int
    title: str
    url: str
    sentence: str
    #: The finding's identity and fields (`outcome_rules`: the rules that could not read it).
    identity: str = ""
    fields: Mapping[str, Any] = field(default_factory=dict)

    @property
    def message(self) -> str:
        return (
            f"{self.source}: the outcome of {self.title!r} could not be read ({self.url}):"
            f" {quoted(self.sentence, 240)}; recorded as unrecognised, shown as"
            ' "outcome not read: see the report"'
        )


def _open_alarms(session: Session, source: str) -> list[Alarm]:
    return list(
        session.scalars(select(Alarm).where(Alarm.source == source, Alarm.resolved_at.is_(None)))
    )


def _open_alarm(session: Session, source: str, kind: str, message: str) -> list[Alarm]:
    """Open the alarm unless one of this kind is already open (the partial unique index agrees)."""
    if any(alarm.kind == kind for alarm in _open_alarms(session, source)):
        return []
    alarm = Alarm(source=source, kind=kind, message=message)
    session.add(alarm)
    session.flush()
    return [alarm]


# The hot path of every crawl and backfill is written with Core statements built once
# (SQLAlchemy then reuses their compiled form): the ORM's per-call overhead tripled the cost.
_EXISTING = (
    select(Finding.id, Finding.event_id, Finding.content_hash)
    .where(Finding.source == bindparam("source"), Finding.identity == bindparam("identity"))
    .with_for_update()
)
_CANDIDATES = select(Event.id, Event.happened_on, Event.outcome, Event.authoritative).where(
    Event.kind.in_(bindparam("kinds", expanding=True)),
    Event.la_code == bindparam("la_code"),
    Event.happened_on.between(bindparam("low"), bindparam("high")),
)
_STATEMENTS: dict[tuple[str, str], Any] = {}


def _statement(session: Session, name: str) -> Any:
    """An insert statement for this backend, built once."""
    dialect = session.get_bind().dialect.name
    key = (dialect, name)
    if key not in _STATEMENTS:
        if name == "finding":
            _STATEMENTS[key] = (
                insert_for(session, Finding.__table__)
                .on_conflict_do_nothing(index_elements=["source", "identity"])
                .returning(Finding.__table__.c.id)
            )
        else:
            _STATEMENTS[key] = insert_for(session, Event.__table__).returning(Event.__table__.c.id)
    return _STATEMENTS[key]


def _record_once(session: Session, finding: FindingData, alert: bool) -> RecordResult | None:
    digest = finding.content_hash()
    existing = session.execute(
        _EXISTING, {"source": finding.source, "identity": finding.identity}
    ).first()
    if existing is not None:
        if existing.content_hash == digest:
            return RecordResult(
                existing.id, existing.event_id, FindingStatus.SEEN, EventStatus.EXISTING
            )
        return _update(session, session.get_one(Finding, existing.id), finding, digest, alert)
    event_id, event_status = _resolve_event(session, finding, alert)
    now = utcnow()
    values = _finding_values(finding, digest) | {
        "event_id": event_id,
        "fetched_at": now,
        "first_seen_at": now,
        "updated_at": now,
    }
    finding_id = session.execute(_statement(session, "finding"), values).scalar()
    if finding_id is None:
        return None
    return RecordResult(finding_id, event_id, FindingStatus.NEW, event_status)


def _finding_values(finding: FindingData, digest: str) -> dict[str, Any]:
    return {
        "source": finding.source,
        "identity": finding.identity,
        "url": finding.url,
        "title": finding.title,
        "published_on": finding.published_on,
        "kind": str(finding.kind),
        "la_code": finding.la_code,
        "happened_on": finding.happened_on,
        "outcome": str(finding.outcome) if finding.outcome else None,
        "summary": finding.summary,
        "fields": dict(finding.fields),
        "content_hash": digest,
    }


def insert_for(session: Session, model: type[Base] | Any) -> Any:
    """The backend's INSERT, which knows ON CONFLICT (SQLAlchemy's generic one does not)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise StoreError(f"unsupported database backend {dialect!r}: use SQLite or PostgreSQL")


def _update(
    session: Session, existing: Finding, finding: FindingData, digest: str, alert: bool
) -> RecordResult:
    """Apply a real update; the finding keeps its event unless it now describes another one."""
    regrouped = existing.kind != str(finding.kind) or existing.la_code != finding.la_code
    for name, value in _finding_values(finding, digest).items():
        setattr(existing, name, value)
    now = utcnow()
    existing.fetched_at = existing.updated_at = now
    event = existing.event
    event_status = EventStatus.EXISTING
    if len(event.findings) == 1:
        _copy_into_event(event, finding)
    elif regrouped:
        event_id, event_status = _resolve_event(session, finding, alert)
        existing.event_id = event_id
        session.flush()
        session.expire(existing, ["event"])
        event = existing.event
    elif event.findings[0].id == existing.id:
        _copy_into_event(event, finding, regroup=False)
    event.updated_at = now
    session.flush()
    return RecordResult(existing.id, event.id, FindingStatus.UPDATED, event_status)


def _copy_into_event(event: Event, finding: FindingData, regroup: bool = True) -> None:
    """An event shows what its first finding says."""
    if regroup:
        event.kind = str(finding.kind)
        event.la_code = finding.la_code
    event.happened_on = finding.event_date
    told = str(finding.outcome) if finding.outcome else None
    event.outcome = told if outcome_read(told) else joined_outcome(event.outcome, told)
    event.title = finding.title
    event.summary = finding.summary


def _resolve_event(session: Session, finding: FindingData, alert: bool) -> tuple[int, EventStatus]:
    """The id of the event this finding reports: an existing one nearby in time, or a new one."""
    date = finding.event_date
    outcome = str(finding.outcome) if finding.outcome else None
    now = utcnow()
    if finding.kind in LINKABLE_KINDS and finding.la_code and date:
        kinds = linked_kinds(finding.kind)
        _lock_group(session, "+".join(kinds), finding.la_code)
        candidates = session.execute(
            _CANDIDATES,
            {
                "kinds": kinds,
                "la_code": finding.la_code,
                "low": date - EVENT_WINDOW,
                "high": date + EVENT_WINDOW,
            },
        ).all()
        match = min(
            candidates,
            key=lambda row: (abs((row.happened_on or date) - date), row.id),
            default=None,
        )
        if match is not None:
            changes: dict[str, Any] = {"updated_at": now}
            joined = joined_outcome(match.outcome, outcome)
            if joined != match.outcome:
                changes["outcome"] = joined
            if finding.authoritative and not match.authoritative:
                changes |= {
                    "title": finding.title,
                    "summary": finding.summary,
                    "happened_on": date,
                    "authoritative": True,
                }
            session.execute(update(Event).where(Event.id == match.id).values(changes))
            return match.id, EventStatus.EXISTING
    event_id = session.execute(
        _statement(session, "event"),
        {
            "kind": str(finding.kind),
            "la_code": finding.la_code,
            "happened_on": date,
            "outcome": outcome,
            "title": finding.title,
            "summary": finding.summary,
            "alert_state": "pending" if alert else "baseline",
            "authoritative": finding.authoritative,
            "created_at": now,
            "updated_at": now,
        },
    ).scalar_one()
    return int(event_id), EventStatus.NEW


def _lock_group(session: Session, kinds: str, la_code: str) -> None:
    """Serialise event linking per (kinds that link, LA) on PostgreSQL; SQLite's write lock
    already does."""
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.sha256(f"{kinds}:{la_code}".encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


__all__ = [
    "EventStatus",
    "FindingData",
    "FindingStatus",
    "RecordResult",
    "RunReport",
    "SourceSummary",
    "Store",
]
