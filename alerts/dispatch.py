"""The dispatcher: fans new events out to matching subscriptions, then sends what is due.

One pass (`sendwatch dispatch`, or the daemon every minute):

1. every event still "pending" is matched against the active subscriptions that
   existed when it was recorded, and one delivery per match is queued (or, when it
   happened more than `max_age_days` ago, it is history and alerts nobody);
2. due deliveries are claimed in batches, sent channel by channel, and marked:
   sent; retried later with exponential backoff (or when Telegram says); or failed;
3. maintainer alarms and recoveries not yet told are sent, once each.

The daily digest is a separate pass (`send_digests`) over digest subscriptions.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from alerts.channels import Channel, Done, Outgoing, Permanent, Result, Retry, Sent
from alerts.filters import matches
from alerts.signing import secret_key, unsubscribe_url
from alerts.summary import summarise
from sendwatch.config import Settings
from storage import outbox
from storage.models import utcnow
from storage.store import Store

log = logging.getLogger(__name__)
MAX_BACKOFF = dt.timedelta(hours=6)


@dataclass
class DispatchReport:
    queued: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    paused: int = 0
    alarms: int = 0
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"queued={self.queued} sent={self.sent} retried={self.retried}"
            f" failed={self.failed} paused={self.paused} alarms={self.alarms}"
        )


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
        started = utcnow()
        while True:
            claimed = outbox.claim_due(
                self.store,
                limit=self.settings.alerts.batch_size,
                lease=self.lease,
                due_by=started,
                channels=list(self.channels),
            )
            if not claimed:
                return
            by_channel: dict[str, list[outbox.Claimed]] = defaultdict(list)
            for item in claimed:
                by_channel[item.subscription.channel].append(item)
            summaries = {item.event.id: summarise(item.event) for item in claimed}
            for channel_name, items in by_channel.items():
                messages = [
                    Outgoing(
                        delivery_id=item.delivery_id,
                        address=item.subscription.address,
                        summaries=(summaries[item.event.id],),
                        unsubscribe_url=unsubscribe_url(
                            self.settings, self.key, item.subscription.id
                        ),
                    )
                    for item in items
                ]
                claims = {item.delivery_id: [item] for item in items}
                self.channels[channel_name].send(messages, self._recorder(claims, report))
            log.info("dispatch batch: %d claimed; so far %s", len(claimed), report.line())
            if self.stopping():
                return

    def _recorder(self, claims: Mapping[int, list[outbox.Claimed]], report: DispatchReport) -> Done:
        """The channel's `done`: records each message's result the moment it is known."""

        def done(outgoing: Outgoing, result: Result) -> None:
            self._record(claims[outgoing.delivery_id], result, report)

        return done

    def _record(self, items: list[outbox.Claimed], result: Result, report: DispatchReport) -> None:
        """Record one message's result for the deliveries it carried (several, for a digest)."""
        config = self.settings.alerts
        if isinstance(result, Sent):
            outbox.mark_sent(self.store, [item.delivery_id for item in items])
            report.sent += len(items)
            return
        for item in items:
            if isinstance(result, Permanent) or item.attempts >= config.max_attempts:
                report.failed += 1
                if outbox.mark_failed(
                    self.store,
                    item.delivery_id,
                    result.error,
                    permanent=isinstance(result, Permanent),
                    pause_after=config.pause_after_failures,
                ):
                    report.paused += 1
                    log.warning(
                        "paused %s %s after repeated refusals",
                        item.subscription.channel,
                        item.subscription.address,
                    )
            else:
                report.retried += 1
                outbox.mark_retry(
                    self.store,
                    item.delivery_id,
                    result.error,
                    self._next_try(item.attempts, result),
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
        if not targets:
            log.error("%s: %s (no maintainer channel configured)", subject, text)
            return True
        told = False
        for channel, address in targets:
            try:
                channel.notify(address, subject, text)
                told = True
            except Exception as exc:  # a broken channel must not stop the other one
                log.error("could not tell the maintainer via %s: %s", channel.name, exc)
        return told

    # -- the passes --------------------------------------------------------------------------------

    def run_once(self) -> DispatchReport:
        report = DispatchReport()
        self.fan_out(report)
        self.deliver(report)
        self.notify_maintainer(report)
        log.info("dispatch: %s", report.line())
        return report

    def send_digests(self) -> DispatchReport:
        """One email per digest subscription with everything queued for it since the last one."""
        report = DispatchReport()
        self.fan_out(report)
        claimed = outbox.claim_due(
            self.store, limit=10_000, lease=self.lease, digest=True, channels=list(self.channels)
        )
        by_subscription: dict[int, list[outbox.Claimed]] = defaultdict(list)
        for item in claimed:
            by_subscription[item.subscription.id].append(item)
        for items in by_subscription.values():
            subscription = items[0].subscription
            channel = self.channels.get(subscription.channel)
            if channel is None:
                continue
            digest = Outgoing(
                delivery_id=min(item.delivery_id for item in items),
                address=subscription.address,
                summaries=tuple(summarise(item.event) for item in items),
                unsubscribe_url=unsubscribe_url(self.settings, self.key, subscription.id),
                digest=True,
            )
            channel.send([digest], self._recorder({digest.delivery_id: items}, report))
        return report


def channels_for(settings: Settings) -> dict[str, Channel]:
    """The channels the configuration sets up: email with an SMTP host, Telegram when enabled."""
    channels: dict[str, Channel] = {}
    if settings.smtp.host:
        from alerts.email import SmtpChannel

        channels["email"] = SmtpChannel(settings.smtp)
    if settings.telegram.enabled:
        from alerts.telegram import TelegramChannel

        channels["telegram"] = TelegramChannel(settings.telegram)
    return channels
