"""Subscriptions and the delivery outbox: the store's side of alerting.

The alerts package decides *who* should hear of an event (filters) and *how* to
say it; these functions keep the bookkeeping that makes "exactly once" hold:

* an event is fanned out once: its deliveries are inserted with ON CONFLICT DO
  NOTHING on (event, subscription) and the event is marked alerted in the same
  transaction, so a crash or a second dispatcher cannot double them;
* a dispatcher *claims* due deliveries before sending (state "sending", leased
  until `next_attempt_at`): on PostgreSQL with ``FOR UPDATE SKIP LOCKED`` so two
  dispatchers never take the same row; on SQLite the write lock serialises claims;
* a claim is held by one dispatcher (``claimed_by``, "host:pid:random"), which renews
  its lease while the batch runs; only the holder can record a delivery sent,
  retried or failed, so a claim retaken after a lapsed lease is recorded once;
* a claim whose dispatcher died is retaken at once when a dispatcher on the same
  host sees its process gone (`release`), or else once its lease runs out; the
  sender then reuses the delivery's stable id (email Message-ID), so at worst a
  message is repeated, never lost.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.orm import Session, selectinload

from storage.db import write_session
from storage.models import Alarm, Delivery, Event, Subscriber, Subscription, utcnow
from storage.store import Store, insert_for


@dataclass(frozen=True)
class Claimed:
    """A delivery taken for sending, with what the sender needs."""

    delivery_id: int
    attempts: int
    event: Event
    subscription: Subscription


# -- subscriptions --------------------------------------------------------------------


def subscribe(
    store: Store,
    channel: str,
    address: str,
    *,
    la_codes: Sequence[str] = (),
    regions: Sequence[str] = (),
    kinds: Sequence[str] = (),
    digest: bool = False,
    name: str = "",
    state: str = "active",
    secret: str | None = None,
) -> tuple[Subscription, bool]:
    """Create the subscription, or set new filters on an existing one; returns it and whether it is new.

    `secret` (already sealed, see `alerts.sealing`) is what the channel needs and nobody may
    read; an existing subscription keeps the one it has when none is given (a webhook's
    signing secret is shown once and must not change under its receiver).

    An unsubscribed or paused address that subscribes again takes `state` ("active", or
    "unconfirmed" for a web sign-up awaiting its confirmation), and once active is sent
    only what happens from then on, not what it missed.
    """
    with write_session(store.engine) as session:
        subscription = session.scalars(
            select(Subscription).where(
                Subscription.channel == channel, Subscription.address == address
            )
        ).one_or_none()
        created = subscription is None
        if subscription is None:
            subscriber = Subscriber(name=name or address)
            subscription = Subscription(
                subscriber=subscriber,
                channel=channel,
                address=address,
                la_codes=sorted(set(la_codes)),
                regions=sorted(set(regions)),
                kinds=sorted(set(kinds)),
                digest=digest,
                state=state,
                secret=secret,
                changed_at=utcnow(),
            )
            session.add(subscription)
        else:
            if subscription.state != "active":
                subscription.created_at = utcnow()  # rejoining: no backlog of what was missed
            subscription.la_codes = sorted(set(la_codes))
            subscription.regions = sorted(set(regions))
            subscription.kinds = sorted(set(kinds))
            subscription.digest = digest
            subscription.state = state
            subscription.failures = 0
            subscription.changed_at = utcnow()
            if secret is not None:
                subscription.secret = secret
        session.commit()
        return subscription, created


def unsubscribe(store: Store, channel: str, address: str) -> bool:
    """Stop a subscription; its pending deliveries are cancelled. False if there was none."""
    with write_session(store.engine) as session:
        subscription = session.scalars(
            select(Subscription).where(
                Subscription.channel == channel,
                Subscription.address == address,
                Subscription.state != "unsubscribed",
            )
        ).one_or_none()
        if subscription is None:
            return False
        _stop(session, subscription)
        session.commit()
        return True


def unsubscribe_id(store: Store, subscription_id: int) -> Subscription | None:
    """Stop a subscription by id (the signed link in every email)."""
    with write_session(store.engine) as session:
        subscription = session.get(Subscription, subscription_id)
        if subscription is None:
            return None
        _stop(session, subscription)
        session.commit()
        return subscription


def _stop(session: Session, subscription: Subscription) -> None:
    subscription.state = "unsubscribed"
    subscription.changed_at = utcnow()
    session.execute(
        update(Delivery)
        .where(Delivery.subscription_id == subscription.id, Delivery.state.in_(("pending",)))
        .values(state="cancelled")
    )


def confirm(store: Store, subscription_id: int) -> Subscription | None:
    """Activate a sign-up awaiting confirmation (double opt-in); alerts start from now."""
    with write_session(store.engine) as session:
        subscription = session.get(Subscription, subscription_id)
        if subscription is None:
            return None
        if subscription.state == "unconfirmed":
            subscription.state = "active"
            subscription.created_at = subscription.changed_at = utcnow()
        session.commit()
        return subscription


def subscriptions(store: Store, *, active_only: bool = False) -> list[Subscription]:
    with store.sessions() as session:
        query = select(Subscription).order_by(Subscription.channel, Subscription.address)
        if active_only:
            query = query.where(Subscription.state == "active")
        return list(session.scalars(query))


def subscription(store: Store, channel: str, address: str) -> Subscription | None:
    with store.sessions() as session:
        return session.scalars(
            select(Subscription).where(
                Subscription.channel == channel, Subscription.address == address
            )
        ).one_or_none()


def readdress(store: Store, subscription_id: int, address: str, secret: str | None) -> None:
    """A subscription's stored address and sealed secret replaced (an older version's webhook
    URL, kept in clear, sealed the way they are now); its filters and history stay."""
    with write_session(store.engine) as session:
        found = session.get(Subscription, subscription_id)
        if found is not None:
            found.address, found.secret = address, secret
        session.commit()


# -- events -----------------------------------------------------------------------------


def pending_events(store: Store) -> list[Event]:
    """New events not yet fanned out to subscribers, oldest first."""
    with store.sessions() as session:
        return list(
            session.scalars(
                select(Event)
                .where(Event.alert_state == "pending")
                .options(selectinload(Event.findings))
                .order_by(Event.id)
            )
        )


def fan_out(store: Store, event_id: int, subscription_ids: Iterable[int], state: str) -> int:
    """Queue one delivery per subscription and close the event's fan-out, in one transaction."""
    with write_session(store.engine) as session:
        event = session.get(Event, event_id, with_for_update=True)
        if event is None or event.alert_state != "pending":
            return 0  # another dispatcher did it first
        now = utcnow()
        rows = [
            {
                "event_id": event_id,
                "subscription_id": subscription_id,
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for subscription_id in subscription_ids
        ]
        queued = 0
        if rows:
            statement = (
                insert_for(session, Delivery)
                .values(rows)
                .on_conflict_do_nothing(index_elements=["event_id", "subscription_id"])
                .returning(Delivery.id)
            )
            queued = len(session.scalars(statement).all())
        event.alert_state = state
        session.commit()
        return queued


def events(
    store: Store,
    *,
    la_codes: Sequence[str] = (),
    kinds: Sequence[str] = (),
    limit: int = 50,
) -> list[Event]:
    """The newest events (with their findings) for feeds, `/latest` and pages."""
    with store.sessions() as session:
        query = select(Event).options(selectinload(Event.findings))
        if la_codes:
            query = query.where(Event.la_code.in_(la_codes))
        if kinds:
            query = query.where(Event.kind.in_(kinds))
        query = query.order_by(Event.created_at.desc(), Event.id.desc()).limit(limit)
        return list(session.scalars(query))


def last_change(store: Store) -> dt.datetime | None:
    """When any event last changed: the feeds' Last-Modified."""
    with store.sessions() as session:
        return session.scalar(select(func.max(Event.updated_at)))


# -- deliveries ---------------------------------------------------------------------------


def claim_due(
    store: Store,
    *,
    limit: int,
    lease: dt.timedelta,
    claimer: str,
    digest: bool = False,
    due_by: dt.datetime | None = None,
    channels: Sequence[str] = ("email", "telegram"),
    max_attempts: int | None = None,
) -> list[Claimed]:
    """Take up to `limit` deliveries due by `due_by` (default now) for `claimer`.

    Nobody else takes them until the lease ends (the holder renews it while it sends, see
    `renew`). A delivery retaken after `max_attempts` claims that never finished (its
    dispatcher crashed or was killed each time) is given up instead of claimed again.
    """
    now = utcnow()
    due_by = due_by or now
    with write_session(store.engine) as session:
        query = (
            select(Delivery)
            .join(Subscription, Subscription.id == Delivery.subscription_id)
            .where(
                Delivery.state.in_(("pending", "sending")),
                Delivery.next_attempt_at <= due_by,
                Subscription.state == "active",
                Subscription.digest.is_(digest),
                # A channel not configured (yet) keeps its deliveries waiting, not lost.
                Subscription.channel.in_(channels),
            )
            .order_by(Delivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=Delivery)
        )
        deliveries = []
        for delivery in session.scalars(query):
            if max_attempts is not None and delivery.attempts >= max_attempts:
                delivery.state = "failed"
                delivery.claimed_by = None
                delivery.last_error = (
                    f"gave up after {delivery.attempts} attempts; the last never finished"
                    f" (its dispatcher stopped). Before that: {delivery.last_error or 'no error'}"
                )[:1000]
                continue
            delivery.state = "sending"
            delivery.next_attempt_at = now + lease
            delivery.claimed_by = claimer
            delivery.attempts += 1
            deliveries.append(delivery)
        session.flush()
        # A batch is mostly one event to many subscribers: load each event and subscription once.
        events = {
            event.id: event
            for event in session.scalars(
                select(Event)
                .where(Event.id.in_({d.event_id for d in deliveries}))
                .options(selectinload(Event.findings))
            )
        }
        subscriptions = {
            s.id: s
            for s in session.scalars(
                select(Subscription).where(
                    Subscription.id.in_({d.subscription_id for d in deliveries})
                )
            )
        }
        claimed = [
            Claimed(d.id, d.attempts, events[d.event_id], subscriptions[d.subscription_id])
            for d in deliveries
        ]
        session.commit()
        return claimed


def _held(delivery_ids: Iterable[int], claimer: str) -> ColumnElement[bool]:
    """Rows still being sent by `claimer`: its claim was not retaken after a lapsed lease."""
    return and_(
        Delivery.id.in_(list(delivery_ids)),
        Delivery.state == "sending",
        Delivery.claimed_by == claimer,
    )


def renew(store: Store, delivery_ids: Iterable[int], claimer: str, lease: dt.timedelta) -> set[int]:
    """Extend the lease on the deliveries `claimer` still holds; returns their ids."""
    ids = list(delivery_ids)
    if not ids:
        return set()
    with write_session(store.engine) as session:
        held = set(session.scalars(select(Delivery.id).where(_held(ids, claimer))))
        # A row being marked right now (locked) is skipped, never waited for: no deadlock.
        free = select(Delivery.id).where(_held(held, claimer)).order_by(Delivery.id)
        free = free.with_for_update(skip_locked=True)
        if held:
            session.execute(
                update(Delivery)
                .where(Delivery.id.in_(list(session.scalars(free))))
                .values(next_attempt_at=utcnow() + lease)
            )
        session.commit()
        return held


def claimers(store: Store) -> set[str]:
    """The dispatchers holding deliveries being sent."""
    with store.sessions() as session:
        return set(
            session.scalars(
                select(Delivery.claimed_by)
                .where(Delivery.state == "sending", Delivery.claimed_by.is_not(None))
                .distinct()
            )
        )


def release(store: Store, dead: Iterable[str]) -> int:
    """Give the deliveries held by dispatchers that are gone back to the queue, due now."""
    names = list(dead)
    if not names:
        return 0
    with write_session(store.engine) as session:
        result = session.execute(
            update(Delivery)
            .where(Delivery.state == "sending", Delivery.claimed_by.in_(names))
            .values(state="pending", claimed_by=None, next_attempt_at=utcnow())
        )
        session.commit()
        return int(getattr(result, "rowcount", 0) or 0)


def mark_sent(store: Store, delivery_ids: Iterable[int], *, claimer: str) -> int:
    """Record sent what `claimer` still holds; returns how many it did."""
    ids = list(delivery_ids)
    if not ids:
        return 0
    with write_session(store.engine) as session:
        now = utcnow()
        subscription_ids = set(
            session.scalars(select(Delivery.subscription_id).where(_held(ids, claimer)))
        )
        result = session.execute(
            update(Delivery)
            .where(_held(ids, claimer))
            .values(state="sent", sent_at=now, last_error=None, claimed_by=None)
        )
        if subscription_ids:
            session.execute(
                update(Subscription).where(Subscription.id.in_(subscription_ids)).values(failures=0)
            )
        session.commit()
        return int(getattr(result, "rowcount", 0) or 0)


def mark_retry(
    store: Store, delivery_id: int, error: str, at: dt.datetime, *, claimer: str
) -> bool:
    """A passing failure: try again at `at`. False if `claimer` no longer held the delivery."""
    with write_session(store.engine) as session:
        result = session.execute(
            update(Delivery)
            .where(_held([delivery_id], claimer))
            .values(state="pending", next_attempt_at=at, last_error=error[:1000], claimed_by=None)
        )
        session.commit()
        return bool(getattr(result, "rowcount", 0))


def mark_failed(
    store: Store,
    delivery_id: int,
    error: str,
    *,
    permanent: bool,
    pause_after: int,
    claimer: str,
) -> bool | None:
    """Give up on this delivery. Permanent refusals in a row pause the subscription.

    Retries run out when a server is down for long; that is not the address's fault,
    so only `permanent` failures count towards pausing. Returns True when paused, None
    (nothing changed) when `claimer` no longer held the delivery.
    """
    with write_session(store.engine) as session:
        delivery = session.scalars(
            select(Delivery).where(_held([delivery_id], claimer)).with_for_update()
        ).one_or_none()
        if delivery is None:
            session.commit()
            return None
        delivery.state = "failed"
        delivery.claimed_by = None
        delivery.last_error = error[:1000]
        subscription = session.get_one(Subscription, delivery.subscription_id)
        if not permanent:
            session.commit()
            return False
        subscription.failures += 1
        paused = subscription.failures >= pause_after and subscription.state == "active"
        if paused:
            subscription.state = "paused"
            subscription.changed_at = utcnow()
            session.execute(
                update(Delivery)
                .where(Delivery.subscription_id == subscription.id, Delivery.state == "pending")
                .values(state="cancelled")
            )
        session.commit()
        return paused


def outbox_counts(store: Store) -> dict[str, int]:
    """Deliveries by state, plus those sent today, for `sendwatch status`."""
    with store.sessions() as session:
        counts = dict(
            session.execute(select(Delivery.state, func.count()).group_by(Delivery.state)).all()
        )
        midnight = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
        counts["sent_today"] = (
            session.scalar(
                select(func.count()).where(Delivery.state == "sent", Delivery.sent_at >= midnight)
            )
            or 0
        )
        return counts


@dataclass(frozen=True)
class DeliveryGroup:
    """Deliveries not yet sent (or given up) that share a state, a channel and a last error."""

    state: str
    channel: str
    last_error: str | None
    count: int


def unsent_groups(store: Store) -> list[DeliveryGroup]:
    """What is still in the outbox or was given up, grouped by why: `sendwatch status`
    counts by reason, so a delivery never waits or fails without saying so."""
    with store.sessions() as session:
        rows = session.execute(
            select(Delivery.state, Subscription.channel, Delivery.last_error, func.count())
            .select_from(Delivery)
            .join(Subscription, Subscription.id == Delivery.subscription_id)
            .where(Delivery.state.in_(("pending", "sending", "failed")))
            .group_by(Delivery.state, Subscription.channel, Delivery.last_error)
            .order_by(func.count().desc(), Delivery.state, Subscription.channel)
        ).all()
        return [
            DeliveryGroup(state, channel, error, int(count))
            for state, channel, error, count in rows
        ]


def waiting_for_channels(store: Store, channels: Sequence[str]) -> dict[str, int]:
    """Deliveries due to active subscriptions whose channel is not among `channels` (not
    configured): they wait, neither sent nor retried, until it is."""
    with store.sessions() as session:
        rows = session.execute(
            select(Subscription.channel, func.count())
            .select_from(Delivery)
            .join(Subscription, Subscription.id == Delivery.subscription_id)
            .where(
                Delivery.state == "pending",
                Subscription.state == "active",
                Subscription.channel.not_in(list(channels)),
            )
            .group_by(Subscription.channel)
        ).all()
        return {channel: int(count) for channel, count in rows}


def channels_in_use(store: Store) -> set[str]:
    """The channels of active subscriptions: those the configuration must be able to send on."""
    with store.sessions() as session:
        return set(
            session.scalars(
                select(Subscription.channel).where(Subscription.state == "active").distinct()
            )
        )


@dataclass(frozen=True)
class DeliveryRow:
    """One delivery as `sendwatch outbox` lists it."""

    id: int
    channel: str
    address: str
    event_id: int
    event_title: str
    state: str
    attempts: int
    next_attempt_at: dt.datetime | None
    last_error: str | None


def delivery_rows(store: Store, *, failed_only: bool = False) -> list[DeliveryRow]:
    """Every delivery, oldest first; `failed_only`: those given up or retrying after an error."""
    with store.sessions() as session:
        query = (
            select(Delivery, Subscription.channel, Subscription.address, Event.title)
            .join(Subscription, Subscription.id == Delivery.subscription_id)
            .join(Event, Event.id == Delivery.event_id)
            .order_by(Delivery.id)
        )
        if failed_only:
            query = query.where(
                (Delivery.state == "failed")
                | (Delivery.state.in_(("pending", "sending")) & Delivery.last_error.is_not(None))
            )
        return [
            DeliveryRow(
                id=delivery.id,
                channel=channel,
                address=address,
                event_id=delivery.event_id,
                event_title=title,
                state=delivery.state,
                attempts=delivery.attempts,
                next_attempt_at=(
                    delivery.next_attempt_at if delivery.state in ("pending", "sending") else None
                ),
                last_error=delivery.last_error,
            )
            for delivery, channel, address, title in session.execute(query)
        ]


# -- maintainer alarms ------------------------------------------------------------------------


def alarms_to_notify(store: Store) -> tuple[list[Alarm], list[Alarm]]:
    """Alarms the maintainer has not heard of, and recoveries not yet told."""
    with store.sessions() as session:
        opened = session.scalars(
            select(Alarm).where(Alarm.notified_at.is_(None)).order_by(Alarm.id)
        ).all()
        recovered = session.scalars(
            select(Alarm)
            .where(
                Alarm.resolved_at.is_not(None),
                Alarm.notified_at.is_not(None),
                Alarm.recovery_notified_at.is_(None),
            )
            .order_by(Alarm.id)
        ).all()
        return list(opened), list(recovered)


def mark_alarm_notified(store: Store, alarm_id: int, *, recovery: bool) -> None:
    with write_session(store.engine) as session:
        alarm = session.get_one(Alarm, alarm_id)
        if recovery:
            alarm.recovery_notified_at = utcnow()
        else:
            alarm.notified_at = utcnow()
        session.commit()
