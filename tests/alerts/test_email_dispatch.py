"""Email alerts through the outbox, received by a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from sqlalchemy import select

from alerts.dispatch import Dispatcher, channels_for
from alerts.signing import secret_key, verify_token
from sendwatch.config import Settings
from sendwatch.vocab import Kind, Outcome
from storage import outbox
from storage.models import Delivery, Event, Subscription
from storage.store import FindingData, Store
from tests.alerts.conftest import Mailbox, alert_settings

BEXLEY, WIRRAL, KENT = "E09000004", "E08000015", "E10000016"
TODAY = dt.date.today()


def notice(la_code: str, identity: str, **changes: object) -> FindingData:
    finding = FindingData(
        source="govuk",
        identity=identity,
        url=f"https://www.gov.uk/government/publications/{identity}",
        title=f"Improvement notice issued to {la_code}",
        kind=Kind.IMPROVEMENT_NOTICE,
        la_code=la_code,
        happened_on=TODAY,
        published_on=TODAY,
        summary="The council must improve its SEND services.",
        fields={"deadline": "2026-08-31"},
    )
    return dataclasses.replace(finding, **changes)  # type: ignore[arg-type]


def dispatcher(settings: Settings, store: Store) -> Dispatcher:
    return Dispatcher(settings, store, channels_for(settings))


def test_alert_email_content_and_headers(tmp_path: Path, store: Store, mailbox: Mailbox) -> None:
    settings = alert_settings(tmp_path, mailbox.port)
    outbox.subscribe(store, "email", "parent@example.org", la_codes=[BEXLEY])
    store.record(
        notice(
            BEXLEY,
            "bexley",
            title="Improvement notice issued to London Borough of Bexley: May 2024",
        )
    )

    report = dispatcher(settings, store).run_once()

    assert (report.queued, report.sent) == (1, 1)
    (message,) = mailbox.to("parent@example.org")
    assert message["From"] == "alerts@sendwatch.test"
    assert message["To"] == "parent@example.org"
    assert message["Subject"] == "[sendwatch] Improvement notice issued: Bexley"
    with store.sessions() as session:
        delivery = session.scalars(select(Delivery)).one()
    assert message["Message-ID"] == f"<sendwatch.delivery.{delivery.id}@sendwatch.test>"
    unsubscribe = message["List-Unsubscribe"].strip().strip("<>")
    assert unsubscribe.startswith("http://127.0.0.1:8080/unsubscribe/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    token = unsubscribe.rsplit("/", 1)[1]
    assert verify_token(secret_key(settings), token) == delivery.subscription_id
    assert verify_token(secret_key(settings), token[:-2] + "xx") is None

    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for part in (text, html):
        assert "Improvement notice issued to London Borough of Bexley: May 2024" in part
        assert "https://www.gov.uk/government/publications/bexley" in part
        assert f"{TODAY.day} {TODAY:%B %Y}" in part
        assert "31 August 2026" in part  # the deadline
        assert unsubscribe in part


def test_each_subscriber_gets_only_matching_events_once(
    tmp_path: Path, store: Store, mailbox: Mailbox
) -> None:
    settings = alert_settings(tmp_path, mailbox.port)
    outbox.subscribe(store, "email", "bexley@example.org", la_codes=[BEXLEY])
    outbox.subscribe(store, "email", "london@example.org", regions=["London"])
    outbox.subscribe(store, "email", "lifted@example.org", kinds=["notice_lifted"])
    outbox.subscribe(store, "email", "all@example.org")
    store.record(notice(BEXLEY, "bexley"))
    store.record(notice(WIRRAL, "wirral"))
    store.record(notice(KENT, "kent-lifted", kind=Kind.NOTICE_LIFTED))

    first = dispatcher(settings, store).run_once()
    second = dispatcher(settings, store).run_once()

    assert (first.queued, first.sent) == (6, 6)
    assert (second.queued, second.sent) == (0, 0)
    subjects = {
        address: sorted(m["Subject"] for m in mailbox.to(address))
        for address in (
            "bexley@example.org",
            "london@example.org",
            "lifted@example.org",
            "all@example.org",
        )
    }
    assert subjects == {
        "bexley@example.org": ["[sendwatch] Improvement notice issued: Bexley"],
        "london@example.org": ["[sendwatch] Improvement notice issued: Bexley"],
        "lifted@example.org": ["[sendwatch] Improvement notice lifted: Kent"],
        "all@example.org": [
            "[sendwatch] Improvement notice issued: Bexley",
            "[sendwatch] Improvement notice issued: Wirral",
            "[sendwatch] Improvement notice lifted: Kent",
        ],
    }


def test_what_is_not_news_alerts_nobody(tmp_path: Path, store: Store, mailbox: Mailbox) -> None:
    settings = alert_settings(tmp_path, mailbox.port)
    outbox.subscribe(store, "email", "all@example.org")
    store.record(notice(BEXLEY, "baseline"), alert=False)  # a first crawl
    store.record(notice(WIRRAL, "old", happened_on=dt.date(2019, 1, 10)))  # a backfill
    first = store.record(notice(KENT, "kent"))
    dispatcher(settings, store).run_once()
    # The same notice reported again by another source, and an edit: no second alert.
    store.record(
        notice(KENT, "kent-news", title="News about Kent's notice", url="https://lgl.example/1")
    )
    store.record(notice(KENT, "kent", summary="Edited."))
    # A subscriber who joins now is not sent what happened before.
    outbox.subscribe(store, "email", "late@example.org")
    report = dispatcher(settings, store).run_once()

    assert report.sent == 0
    assert [m["Subject"] for m in mailbox.to("all@example.org")] == [
        "[sendwatch] Improvement notice issued: Kent"
    ]
    assert mailbox.to("late@example.org") == []
    with store.sessions() as session:
        states = dict(session.execute(select(Event.id, Event.alert_state)).all())
    assert states[first.event_id] == "alerted"
    assert sorted(states.values()) == ["alerted", "baseline", "baseline"]


def test_rejected_mailbox_fails_and_pauses_after_repeats(
    tmp_path: Path, store: Store, mailbox: Mailbox
) -> None:
    settings = alert_settings(tmp_path, mailbox.port, pause_after_failures=2, batch_size=2)
    mailbox.reject.add("gone@example.org")
    outbox.subscribe(store, "email", "gone@example.org")
    outbox.subscribe(store, "email", "fine@example.org")
    for la_code in (BEXLEY, WIRRAL, KENT):
        store.record(notice(la_code, la_code))

    report = dispatcher(settings, store).run_once()

    assert report.sent == 3 and report.failed == 2 and report.paused == 1
    assert len(mailbox.to("fine@example.org")) == 3
    assert outbox.subscription(store, "email", "gone@example.org").state == "paused"  # type: ignore[union-attr]
    with store.sessions() as session:
        states = sorted(
            session.scalars(
                select(Delivery.state)
                .join(Subscription)
                .where(Subscription.address == "gone@example.org")
            ).all()
        )
    assert states == ["cancelled", "failed", "failed"]


def test_smtp_down_is_retried_later_not_lost(
    tmp_path: Path, store: Store, mailbox: Mailbox
) -> None:
    down = alert_settings(tmp_path, 9)  # nothing listens on port 9
    outbox.subscribe(store, "email", "parent@example.org")
    store.record(notice(BEXLEY, "bexley"))

    report = dispatcher(down, store).run_once()
    assert (report.sent, report.retried) == (0, 1)
    with store.sessions() as session:
        delivery = session.scalars(select(Delivery)).one()
        assert (delivery.state, delivery.attempts) == ("pending", 1)
        assert "cannot reach SMTP server" in (delivery.last_error or "")

    assert dispatcher(alert_settings(tmp_path, mailbox.port), store).run_once().sent == 1
    assert len(mailbox.to("parent@example.org")) == 1


def test_hostile_text_is_escaped(tmp_path: Path, store: Store, mailbox: Mailbox) -> None:
    settings = alert_settings(tmp_path, mailbox.port)
    outbox.subscribe(store, "email", "parent@example.org")
    store.record(
        notice(
            BEXLEY,
            "hostile",
            title='<script>alert("x")</script> Bexley & Co 🎒\r\nBcc: victim@example.org',
            summary="<img src=x onerror=alert(1)> " + "word " * 2000,
        )
    )
    dispatcher(settings, store).run_once()

    (message,) = mailbox.to("parent@example.org")
    assert "\n" not in message["Subject"] and message["Bcc"] is None
    html = message.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img" not in html and "&amp; Co" in html
    assert "🎒" in html
    assert len(message.get_body(("plain",)).get_content()) < 5000  # the long body is clipped


def test_daily_digest_is_one_email(tmp_path: Path, store: Store, mailbox: Mailbox) -> None:
    settings = alert_settings(tmp_path, mailbox.port)
    outbox.subscribe(store, "email", "digest@example.org", digest=True)
    store.record(notice(BEXLEY, "bexley"))
    store.record(notice(WIRRAL, "wirral", outcome=Outcome.SIGNIFICANT_CONCERNS))

    assert dispatcher(settings, store).run_once().sent == 0  # digests wait for their time
    report = dispatcher(settings, store).send_digests()

    assert report.sent == 2
    (message,) = mailbox.to("digest@example.org")
    assert message["Subject"] == "[sendwatch] 2 SEND events today"
    text = message.get_body(("plain",)).get_content()
    assert "Bexley" in text and "Wirral" in text
    assert dispatcher(settings, store).send_digests().sent == 0


def test_maintainer_hears_of_an_alarm_once_and_of_the_recovery(
    tmp_path: Path, store: Store, mailbox: Mailbox
) -> None:
    from storage.store import RunReport

    settings = alert_settings(tmp_path, mailbox.port, maintainer_email="ops@example.org")
    for _ in range(3):
        store.record_run(RunReport("ofsted", "failed", 0, "listing failed (500)"), alarm_after=3)
    assert dispatcher(settings, store).run_once().alarms == 1
    assert dispatcher(settings, store).run_once().alarms == 0
    store.record_run(RunReport("ofsted", "ok", 100), alarm_after=3)
    assert dispatcher(settings, store).run_once().alarms == 1

    subjects = [m["Subject"] for m in mailbox.to("ops@example.org")]
    assert subjects == ["[sendwatch] alarm: ofsted", "[sendwatch] recovered: ofsted"]


def test_a_channel_not_configured_yet_keeps_its_alerts_waiting(
    tmp_path: Path, store: Store, mailbox: Mailbox
) -> None:
    outbox.subscribe(store, "email", "parent@example.org")
    store.record(notice(BEXLEY, "bexley"))
    without_email = alert_settings(tmp_path, mailbox.port).model_copy(
        update={"smtp": alert_settings(tmp_path, mailbox.port).smtp.model_copy(update={"host": ""})}
    )

    waiting = dispatcher(without_email, store).run_once()
    assert (waiting.queued, waiting.sent) == (1, 0)
    assert outbox.outbox_counts(store)["pending"] == 1

    assert dispatcher(alert_settings(tmp_path, mailbox.port), store).run_once().sent == 1
    assert len(mailbox.to("parent@example.org")) == 1
