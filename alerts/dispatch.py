"""The dispatcher: fans new events out to matching subscriptions, then sends what is due.

One pass (`sendwatch dispatch`, or the daemon every minute):

1. every event still "pending" is matched against the active subscriptions that
   existed when it was recorded, and one delivery per match is queued (or, when it
   happened more than `max_age_days` ago, it is history and alerts nobody);
2. due deliveries are claimed in batches, sent channel by channel, and marked:
   sent; retried later with exponential backoff (or when Telegram says); or failed.
   The claim is this dispatcher's (`Dispatcher.id`, "host:pid:random"): its lease is
   renewed while the batch runs, and only its holder can mark a delivery. A delivery
   whose send raises (a bug, not a refusal) is retried like a passing failure, with
   the error masked of secrets, and the batch goes on with the next one;
3. maintainer alarms and recoveries not yet told are sent, once each.

The daily digest is a separate pass (`send_digests`) over digest subscriptions.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
import threading
import traceback
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from alerts.channels import (
    Channel,
    Done,
    Outgoing,
    Permanent,
    Result,
    Retry,
    Sent,
    channel_problems,
    unconfigured_warning,
)
from alerts.filters import matches
from alerts.sealing import unseal
from alerts.signing import secret_key, unsubscribe_url
from alerts.summary import Summary, summarise
from alerts.webhook import open_target
from sendwatch.case import EventFacts
from sendwatch.config import Settings
from sendwatch.logs import secret_values
from sendwatch.masking import mask, mask_address, register_secrets, secret_list, url_secrets
from storage import outbox
from storage.models import Event, Subscription, utcnow
from storage.queries import event_facts
from storage.store import Store

log = logging.getLogger(__name__)
MAX_BACKOFF = dt.timedelta(hours=6)
HOST = socket.gethostname()
#: The dispatchers alive in this process, by id: a claim held by this pid under another id
#: (a process before a restart that got the same pid, as in a container) is a dead one's.
_LIVE: weakref.WeakValueDictionary[str, Dispatcher] = weakref.WeakValueDictionary()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, but alive
    try:  # a killed process not yet reaped is a zombie: dead for our purpose
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def claimer_dead(claimer: str) -> bool:
    """True only when sure: a dispatcher of this host whose process is gone."""
    host, _, rest = claimer.partition(":")
    pid_text, _, _token = rest.partition(":")
    if host != HOST or not pid_text.isascii() or not pid_text.isdigit():
        return False  # another host's (or not ours to judge): its lease decides
    pid = int(pid_text)
    if pid == os.getpid():
        return claimer not in _LIVE
    return not _pid_alive(pid)


class _RecordingFailed(Exception):
    """Recording a result failed (the store): not the delivery's fault; stops the pass."""


@dataclass
class DispatchReport:
    queued: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    paused: int = 0
    alarms: int = 0
    errors: list[str] = field(default_factory=list)
    #: Deliveries queued for a channel the configuration cannot send on, by channel: they
    #: are neither sent nor retried, so they are counted apart from both.
    waiting: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        return (
            f"queued={self.queued} sent={self.sent} retried={self.retried}"
            f" failed={self.failed} paused={self.paused} alarms={self.alarms}"
            f" waiting={sum(self.waiting.values())}"
        )

    def warnings(self, problems: Mapping[str, str]) -> list[str]:
        """One sentence per channel holding deliveries back, with how many wait for it."""
        return [
            f"{unconfigured_warning(channel, problems.get(channel, 'it is not set up'))}"
            f" ({count} waiting)"
            for channel, count in sorted(self.waiting.items())
        ]


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        channels: Mapping[str, Channel],
        stopping: Callable[[], bool] = lambda: False,
    ) -> None:
        self.settings = settings
        self.store = store
        self.channels = dict(channels)
        self.key = secret_key(settings)
        #: Asked between batches: the daemon's shutdown lets the batch in flight finish.
        self.stopping = stopping
        self.lease = dt.timedelta(seconds=settings.alerts.claim_lease_seconds)
        #: Who holds this dispatcher's claims: host, pid, and a random part for this instance.
        self.id = f"{HOST}:{os.getpid()}:{secrets.token_hex(6)}"
        _LIVE[self.id] = self
        #: The configured secrets, masked (with those registered) in every error it stores
        #: or logs.
        self._secrets = secret_list(secret_values(settings))

    def release_dead(self) -> int:
        """Give back at once the deliveries held by dispatchers of this host that died."""
        dead = {claimer for claimer in outbox.claimers(self.store) if claimer_dead(claimer)}
        released = outbox.release(self.store, dead)
        if released:
            log.warning(
                "retook %d deliveries held by stopped dispatchers %s",
                released,
                ", ".join(sorted(dead)),
            )
        return released

    @contextmanager
    def _holding(self, claimed: Sequence[outbox.Claimed]) -> Iterator[None]:
        """Renew the claims' lease every third of it while the body runs."""
        ids = {item.delivery_id for item in claimed}
        finished = threading.Event()

        def renew() -> None:
            interval = self.lease.total_seconds() / 3
            while not finished.wait(interval):
                try:
                    held = outbox.renew(self.store, ids, self.id, self.lease)
                except Exception as exc:  # the next renewal may pass; recording checks the claim
                    log.warning("could not renew the claim on %d deliveries: %s", len(ids), exc)
                    continue
                if lost := ids - held:
                    ids.difference_update(lost)  # sent or marked already, or retaken

        renewer = threading.Thread(target=renew, name=f"lease-{self.id}", daemon=True)
        renewer.start()
        try:
            yield
        finally:
            finished.set()
            renewer.join()

    # -- 1. fan-out ---------------------------------------------------------------------

    def fan_out(self, report: DispatchReport) -> None:
        subscriptions = outbox.subscriptions(self.store, active_only=True)
        oldest = dt.date.today() - dt.timedelta(days=self.settings.alerts.max_age_days)
        for event in outbox.pending_events(self.store):
            if event.happened_on is not None and event.happened_on < oldest:
                outbox.fan_out(self.store, event.id, [], "baseline")
                log.info(
                    "event %d happened on %s: history, not alerted", event.id, event.happened_on
                )
                continue
            wanted = [
                s.id
                for s in subscriptions
                if s.created_at <= event.created_at and matches(s, event)
            ]
            report.queued += outbox.fan_out(self.store, event.id, wanted, "alerted")

    # -- 2. sending -------------------------------------------------------------------------

    def deliver(self, report: DispatchReport) -> None:
        """Send every delivery due when the pass began, batch after batch (retries wait for a later pass)."""
        self.release_dead()  # before the pass's start, so what it gives back is due in it
        started = utcnow()
        while True:
            claimed = outbox.claim_due(
                self.store,
                limit=self.settings.alerts.batch_size,
                lease=self.lease,
                claimer=self.id,
                due_by=started,
                channels=list(self.channels),
                max_attempts=self.settings.alerts.max_attempts,
            )
            if not claimed:
                return
            with self._holding(claimed):
                self._send_batch(claimed, report)
            log.info("dispatch batch: %d claimed; so far %s", len(claimed), report.line())
            if self.stopping():
                return

    def _send_batch(self, claimed: Sequence[outbox.Claimed], report: DispatchReport) -> None:
        by_channel: dict[str, list[outbox.Claimed]] = defaultdict(list)
        for item in claimed:
            by_channel[item.subscription.channel].append(item)
        summaries: dict[int, Summary | Exception] = {}
        facts = self._facts([item.event for item in claimed])
        for item in claimed:
            if item.event.id not in summaries:
                try:
                    summaries[item.event.id] = summarise(item.event, facts.get(item.event.id))
                except Exception as exc:  # one event's bug holds back only its deliveries
                    summaries[item.event.id] = exc
        for channel_name, items in by_channel.items():
            channel = self.channels[channel_name]
            records = self._records(channel, [item.event for item in items])
            messages: list[Outgoing] = []
            for item in items:
                try:
                    summary = summaries[item.event.id]
                    if isinstance(summary, Exception):
                        raise summary
                    address, secret = self._target_of(item.subscription)
                    messages.append(
                        Outgoing(
                            delivery_id=item.delivery_id,
                            address=address,
                            summaries=(summary,),
                            unsubscribe_url=unsubscribe_url(
                                self.settings, self.key, item.subscription.id
                            ),
                            secret=secret,
                            records=_records_of(records, [item.event.id]),
                        )
                    )
                except Exception as exc:
                    self._raised([item], exc, report)
            claims = {item.delivery_id: [item] for item in items}
            self._send(channel, messages, claims, report)

    def _target_of(self, subscription: Subscription) -> tuple[str, str | None]:
        """(where to send, the secret it needs) for a subscription, unsealed and registered at
        once so that no log line or stored error can show them: an Apprise subscription's URL
        (its address is a label); a webhook's URL and signing secret (its address is a label
        too, but for an older version's, the URL itself)."""
        if subscription.secret is None:
            return subscription.address, None
        if subscription.channel == "webhook":
            return open_target(self.key, subscription.address, subscription.secret)
        value = unseal(self.key, subscription.secret)
        register_secrets(url_secrets(value) if subscription.channel == "apprise" else [value])
        return subscription.address, value

    def _records(
        self, channel: Channel, events: Sequence[Event]
    ) -> dict[int, dict[str, Any]] | Exception:
        """The events' `/api/events` records, for a channel that sends data (webhooks); found
        once for the batch. A failure holds back only that channel's deliveries (retried)."""
        if not getattr(channel, "wants_records", False):
            return {}
        from alerts.export import records_of

        unique = list({event.id: event for event in events}.values())
        try:
            return {record["id"]: record for record in records_of(self.store, unique)}
        except Exception as exc:
            return exc

    def _facts(self, events: Sequence[Event]) -> dict[int, EventFacts]:
        """What the councils' cases say of the events, read once for the batch; if that fails,
        each event's summary says what the event says on its own (the alerts still go)."""
        try:
            return event_facts(self.store, events)
        except Exception as exc:
            log.warning(
                "could not read the cases of %d events: %s",
                len(events),
                mask(str(exc), self._secrets),
            )
            return {}

    def _send(
        self,
        channel: Channel,
        messages: Sequence[Outgoing],
        claims: Mapping[int, list[outbox.Claimed]],
        report: DispatchReport,
    ) -> None:
        """Send through `channel`; a message whose send raises is recorded and the rest go on.

        Channels report results in order, so when `send` raises, the first message without
        a result is the one that raised.
        """
        reported: set[int] = set()
        remaining = list(messages)
        while remaining:
            try:
                channel.send(remaining, self._recorder(claims, report, reported))
            except _RecordingFailed as exc:
                raise exc.__cause__ or exc from None
            except Exception as exc:
                culprit = next(m for m in remaining if m.delivery_id not in reported)
                reported.add(culprit.delivery_id)
                self._raised(claims[culprit.delivery_id], exc, report)
            else:
                for outgoing in remaining:
                    if outgoing.delivery_id not in reported:  # a channel bug: try it again later
                        reported.add(outgoing.delivery_id)
                        error = f"the {channel.name} channel reported no result"
                        self._record(claims[outgoing.delivery_id], Retry(error), report)
            remaining = [m for m in remaining if m.delivery_id not in reported]

    def _raised(self, items: list[outbox.Claimed], exc: Exception, report: DispatchReport) -> None:
        """A send that raised: a bug, not the address's fault; retried until `max_attempts`."""
        error = mask(f"{type(exc).__name__}: {exc}", self._secrets)
        log.error(
            "sending delivery %s raised %s\n%s",
            ", ".join(str(item.delivery_id) for item in items),
            error,
            mask("".join(traceback.format_exception(exc)).rstrip(), self._secrets),
        )
        self._record(items, Retry(error), report)

    def _recorder(
        self,
        claims: Mapping[int, list[outbox.Claimed]],
        report: DispatchReport,
        reported: set[int] | None = None,
    ) -> Done:
        """The channel's `done`: records each message's result the moment it is known."""

        def done(outgoing: Outgoing, result: Result) -> None:
            if reported is not None:
                reported.add(outgoing.delivery_id)
            try:
                self._record(claims[outgoing.delivery_id], result, report)
            except Exception as exc:
                raise _RecordingFailed(str(exc)) from exc

        return done

    def _record(self, items: list[outbox.Claimed], result: Result, report: DispatchReport) -> None:
        """Record one message's result for the deliveries it carried (several, for a digest)."""
        config = self.settings.alerts
        if isinstance(result, Sent):
            recorded = outbox.mark_sent(
                self.store, [item.delivery_id for item in items], claimer=self.id
            )
            report.sent += recorded
            if recorded < len(items):
                self._lost(items, "sent")
            return
        error = mask(result.error, self._secrets)
        for item in items:
            if isinstance(result, Permanent) or item.attempts >= config.max_attempts:
                paused = outbox.mark_failed(
                    self.store,
                    item.delivery_id,
                    error,
                    permanent=isinstance(result, Permanent),
                    pause_after=config.pause_after_failures,
                    claimer=self.id,
                )
                if paused is None:
                    self._lost([item], "failed")
                    continue
                report.failed += 1
                if paused:
                    report.paused += 1
                    log.warning(
                        "paused %s %s after repeated refusals",
                        item.subscription.channel,
                        mask_address(item.subscription.address),
                    )
            elif outbox.mark_retry(
                self.store,
                item.delivery_id,
                error,
                self._next_try(item.attempts, result),
                claimer=self.id,
            ):
                report.retried += 1
            else:
                self._lost([item], "retried")

    def _lost(self, items: list[outbox.Claimed], outcome: str) -> None:
        log.warning(
            "deliveries %s: %s, but no longer held by this dispatcher (its lease lapsed and"
            " another took them); not recorded here",
            ", ".join(str(item.delivery_id) for item in items),
            outcome,
        )

    def _next_try(self, attempts: int, result: Retry) -> dt.datetime:
        if result.after is not None:
            wait = dt.timedelta(seconds=result.after)
        else:
            wait = dt.timedelta(
                seconds=self.settings.alerts.retry_base_seconds * 2 ** (attempts - 1)
            )
        return utcnow() + min(wait, MAX_BACKOFF)

    # -- 3. the maintainer ----------------------------------------------------------------------

    def notify_maintainer(self, report: DispatchReport) -> None:
        opened, recovered = outbox.alarms_to_notify(self.store)
        for alarm in opened:
            if self._tell_maintainer(f"[sendwatch] alarm: {alarm.source}", alarm.message):
                outbox.mark_alarm_notified(self.store, alarm.id, recovery=False)
                report.alarms += 1
        for alarm in recovered:
            text = f"{alarm.source} is healthy again. It had raised: {alarm.message}"
            if self._tell_maintainer(f"[sendwatch] recovered: {alarm.source}", text):
                outbox.mark_alarm_notified(self.store, alarm.id, recovery=True)
                report.alarms += 1

    def _tell_maintainer(self, subject: str, text: str) -> bool:
        """True once the maintainer's channels took it (or none is configured: then the log did)."""
        config = self.settings.alerts
        wanted = {
            "email": config.maintainer_email,
            "telegram": str(config.maintainer_telegram_chat_id or ""),
        }
        targets = [
            (self.channels[name], address)
            for name, address in wanted.items()
            if address and name in self.channels
        ]
        if config.maintainer_urls and "apprise" in self.channels:
            apprise = self.channels["apprise"]
            targets += [(apprise, url.get_secret_value()) for url in config.maintainer_urls]
        if not targets:
            log.error("%s: %s (no maintainer channel configured)", subject, text)
            return True
        told = False
        for channel, address in targets:
            try:
                channel.notify(address, subject, text)
                told = True
            except Exception as exc:  # a broken channel must not stop the other one
                log.error(
                    "could not tell the maintainer via %s: %s",
                    channel.name,
                    mask(str(exc), self._secrets),
                )
        return told

    # -- the passes --------------------------------------------------------------------------------

    def run_once(self) -> DispatchReport:
        report = DispatchReport()
        self.fan_out(report)
        self.deliver(report)
        self.notify_maintainer(report)
        self.count_waiting(report)
        log.info("dispatch: %s", report.line())
        return report

    def count_waiting(self, report: DispatchReport) -> None:
        """Count the deliveries no configured channel can take: said apart, never silent."""
        report.waiting = outbox.waiting_for_channels(self.store, list(self.channels))

    def send_digests(self) -> DispatchReport:
        """One email per digest subscription with everything queued for it since the last one."""
        report = DispatchReport()
        self.fan_out(report)
        self.release_dead()
        claimed = outbox.claim_due(
            self.store,
            limit=10_000,
            lease=self.lease,
            claimer=self.id,
            digest=True,
            channels=list(self.channels),
            max_attempts=self.settings.alerts.max_attempts,
        )
        by_subscription: dict[int, list[outbox.Claimed]] = defaultdict(list)
        for item in claimed:
            by_subscription[item.subscription.id].append(item)
        facts = self._facts([item.event for item in claimed])
        with self._holding(claimed):
            for items in by_subscription.values():
                subscription = items[0].subscription
                channel = self.channels.get(subscription.channel)
                if channel is None:
                    continue
                try:
                    records = self._records(channel, [item.event for item in items])
                    address, secret = self._target_of(subscription)
                    digest = Outgoing(
                        delivery_id=min(item.delivery_id for item in items),
                        address=address,
                        summaries=tuple(
                            summarise(item.event, facts.get(item.event.id)) for item in items
                        ),
                        unsubscribe_url=unsubscribe_url(self.settings, self.key, subscription.id),
                        digest=True,
                        secret=secret,
                        records=_records_of(records, [item.event.id for item in items]),
                    )
                except Exception as exc:
                    self._raised(items, exc, report)
                    continue
                self._send(channel, [digest], {digest.delivery_id: items}, report)
        self.count_waiting(report)
        return report


def channels_for(settings: Settings) -> dict[str, Channel]:
    """The channels the configuration sets up: email with an SMTP host and a From address,
    Telegram when enabled with a token; Apprise and webhooks always (each subscription carries
    all they need). One not set up is left out (its deliveries wait, see `channel_problems`),
    so it cannot stop the others from sending."""
    problems = channel_problems(settings)
    channels: dict[str, Channel] = {}
    if "email" not in problems:
        from alerts.email import SmtpChannel

        channels["email"] = SmtpChannel(settings.smtp)
    if "telegram" not in problems:
        from alerts.telegram import TelegramChannel

        channels["telegram"] = TelegramChannel(settings.telegram)
    from alerts.apprise_channel import AppriseChannel
    from alerts.webhook import WebhookChannel

    channels["apprise"] = AppriseChannel()
    channels["webhook"] = WebhookChannel()
    return channels


def _records_of(
    records: Mapping[int, dict[str, Any]] | Exception, event_ids: Sequence[int]
) -> tuple[dict[str, Any], ...]:
    """The records of `event_ids`, in order; raises what finding them raised."""
    if isinstance(records, Exception):
        raise records
    return tuple(records[event_id] for event_id in event_ids if event_id in records)


#: How much of a delivery's last error `sendwatch status` quotes (`sendwatch outbox` has it all).
REASON_LENGTH = 80


def short_reason(error: str | None) -> str:
    """An error's first line, cut to REASON_LENGTH: enough to tell the reasons apart."""
    text = " ".join((error or "").split("\n", 1)[0].split())
    return text if len(text) <= REASON_LENGTH else text[: REASON_LENGTH - 1] + "…"


def outbox_reasons(
    groups: Sequence[outbox.DeliveryGroup], problems: Mapping[str, str]
) -> list[str]:
    """The outbox counted by reason, a phrase each ("3 waiting for a channel ([smtp] host is
    not set)", "2 retrying (421 try later)", "1 failed (550 no such user)"), most first."""
    counts: dict[str, int] = defaultdict(int)
    for group in groups:
        counts[_reason(group, problems)] += group.count
    return [f"{count} {phrase}" for phrase, count in sorted(counts.items(), key=_most_first)]


def _most_first(pair: tuple[str, int]) -> tuple[int, str]:
    return -pair[1], pair[0]


def _reason(group: outbox.DeliveryGroup, problems: Mapping[str, str]) -> str:
    """What a group of deliveries is doing, and why, in a few words."""
    if group.state == "failed":
        return f"failed ({short_reason(group.last_error) or 'no error recorded'})"
    if group.channel in problems:
        return f"waiting for a channel ({problems[group.channel]})"
    if group.state == "sending":
        return "being sent"
    if group.last_error:
        return f"retrying ({short_reason(group.last_error)})"
    return "queued"
