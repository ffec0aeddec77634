"""The store's tables, as SQLAlchemy 2.0 typed models.

Uniqueness that matters for correctness (one finding per source and identity, one
delivery per event and subscription, one subscription per channel address) is a
database constraint, so two writers can never both win.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        return value.astimezone(dt.UTC)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


class Event(Base):
    """A real-world happening (a notice issued, a report published) that findings report."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_kind_la_happened", "kind", "la_code", "happened_on"),
        Index("ix_events_alert_state", "alert_state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    la_code: Mapped[str | None] = mapped_column(String(9))
    happened_on: Mapped[dt.date | None]
    outcome: Mapped[str | None] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: "pending" (new in the world: to be fanned out to subscribers), "alerted" (done), or
    #: "baseline" (found by a first crawl or a backfill: recorded, shown, alerted to nobody).
    alert_state: Mapped[str] = mapped_column(
        String(16), default="pending", server_default="baseline"
    )
    #: Whether an official publication (not only news about it) has been recorded: the
    #: official one then names and dates the event, whichever source was crawled first.
    authoritative: Mapped[bool] = mapped_column(default=False, server_default=text("false"))

    findings: Mapped[list[Finding]] = relationship(back_populates="event", order_by="Finding.id")


class Finding(Base):
    """One document a source published, recorded once per (source, identity)."""

    __tablename__ = "findings"
    __table_args__ = (UniqueConstraint("source", "identity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    identity: Mapped[str] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    published_on: Mapped[dt.date | None]
    kind: Mapped[str] = mapped_column(String(32))
    la_code: Mapped[str | None] = mapped_column(String(9))
    happened_on: Mapped[dt.date | None]
    outcome: Mapped[str | None] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(Text, default="")
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    fetched_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    first_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)

    event: Mapped[Event] = relationship(back_populates="findings")


class SourceState(Base):
    """Each source's health, so failures are counted across runs and restarts."""

    __tablename__ = "source_states"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_run_at: Mapped[dt.datetime | None]
    last_success_at: Mapped[dt.datetime | None]
    #: One word: ok, empty, failed or blocked.
    last_result: Mapped[str | None] = mapped_column(Text)
    #: Why, in a sentence ("55 of 55 report PDFs failed (404), e.g. https://…").
    last_reason: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    items_seen: Mapped[int] = mapped_column(Integer, default=0)
    #: When the daemon will next crawl the source (for `sendwatch status`).
    next_run_at: Mapped[dt.datetime | None]


class Subscriber(Base):
    """A person or team; their channel addresses hang off it as subscriptions."""

    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    subscriptions: Mapped[list[Subscription]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan"
    )


class Subscription(Base):
    """Where to send (channel + address) and what (filters; an empty list means all)."""

    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("channel", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(320))
    la_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    regions: Mapped[list[str]] = mapped_column(JSON, default=list)
    kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    digest: Mapped[bool] = mapped_column(default=False)
    #: "active", "paused" (after repeated permanent failures) or "unsubscribed".
    state: Mapped[str] = mapped_column(String(16), default="active")
    #: Permanent delivery failures in a row (a blocked bot, a rejected mailbox).
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Events created before this moment are never sent to this subscription.
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: When it last changed (subscribed, its filters changed, unsubscribed, paused): a
    #: confirmation link made before then does nothing, so an old one cannot undo a change.
    changed_at: Mapped[dt.datetime | None] = mapped_column(default=utcnow)
    #: What the channel needs and nobody may read, sealed with the secret key
    #: (`alerts.sealing`): an Apprise subscription's whole URL (its `address` is only
    #: "scheme://host#id"), a webhook's signing secret. None for email and Telegram.
    secret: Mapped[str | None] = mapped_column(Text)

    subscriber: Mapped[Subscriber] = relationship(back_populates="subscriptions")


class Delivery(Base):
    """The outbox: one row per event and subscription, claimed, sent and marked sent."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "subscription_id"),
        Index("ix_deliveries_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True
    )
    #: "pending", "sending", "sent", "failed" (gave up) or "cancelled".
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: When a pending delivery is due; for one being sent, when its claim's lease ends.
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: The dispatcher holding a delivery being sent ("host:pid:random"); only it may record it.
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]


class CrawlMark(Base):
    """What a spider has already handled, keyed by the source's own ids, so polls stay cheap.

    Marks cover documents that never become findings too (a children's social care
    notice, an LGL article about planning law), so those are not fetched again.
    """

    __tablename__ = "crawl_marks"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Alarm(Base):
    """Something the maintainer must act on: a source failing, or a listing gone empty.

    At most one open alarm per source and kind (a partial unique index), so a source
    that keeps failing raises one alarm, not one per poll.
    """

    __tablename__ = "alarms"
    __table_args__ = (
        Index(
            "uq_alarms_open",
            "source",
            "kind",
            unique=True,
            sqlite_where=text("resolved_at IS NULL"),
            postgresql_where=text("resolved_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    #: "failing" (N failed runs in a row) or "empty" (a listing parsed to zero items).
    kind: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    opened_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[dt.datetime | None]
    #: Set by the alerts side once the alarm, and later its recovery, reached the maintainer.
    notified_at: Mapped[dt.datetime | None]
    recovery_notified_at: Mapped[dt.datetime | None]
