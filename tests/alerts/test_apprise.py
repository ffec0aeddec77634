"""Apprise alerts through the outbox, received by real HTTP servers on 127.0.0.1: Apprise's
`json://` and `ntfy://` services posting to a receiver the test runs; and no Apprise URL token
or webhook secret in anything `sendwatch` prints or logs."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from alerts.dispatch import Dispatcher, channels_for
from alerts.render import render_apprise, render_apprise_digest
from alerts.sealing import seal, service_label
from alerts.signing import secret_key, unsubscribe_url
from alerts.summary import summarise
from sendwatch.config import Settings
from storage import outbox
from storage.models import Delivery, Event, Subscription
from storage.store import Store
from tests.alerts.test_email_dispatch import BEXLEY, TODAY, WIRRAL, notice
from tests.alerts.test_webhook import SECRET_KEY, Receiver, receiving
from tests.paths import COMMAND

TITLE = "Improvement notice issued to London Borough of Bexley: May 2024"
WHEN = f"{TODAY.day} {TODAY:%B %Y}"
SOURCE = "https://www.gov.uk/government/publications/bexley"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as box:
        yield box


def settings_for(tmp_path: Path, **alerts: Any) -> Settings:
    return Settings.model_validate(
        {
            "data_dir": str(tmp_path / "data"),
            "secret_key": SECRET_KEY,
            "alerts": {"public_url": "http://127.0.0.1:8080", "retry_base_seconds": 0, **alerts},
        }
    )


def subscribe_apprise(store: Store, settings: Settings, url: str, **filters: Any) -> Subscription:
    """An Apprise subscription as `sendwatch subscribe apprise` makes it: label and sealed URL."""
    key = secret_key(settings)
    subscription, _ = outbox.subscribe(
        store, "apprise", service_label(key, url), secret=seal(key, url), **filters
    )
    return subscription


def json_url(receiver: Receiver, path: str) -> str:
    """Apprise's JSON service posting to the test's receiver."""
    return f"json://127.0.0.1:{receiver.port}{path}"


def bexley_notice(**changes: Any) -> Any:
    changes.setdefault("title", TITLE)
    return notice(BEXLEY, "bexley", fields={"deadline": "2099-08-31"}, **changes)


def stop_link(settings: Settings, subscription: Subscription) -> str:
    return unsubscribe_url(settings, secret_key(settings), subscription.id)


def test_json_service_receives_title_body_and_links_as_text(
    tmp_path: Path, store: Store, receiver: Receiver
) -> None:
    settings = settings_for(tmp_path)
    subscription = subscribe_apprise(
        store, settings, json_url(receiver, "/apprise"), la_codes=[BEXLEY]
    )
    assert subscription.address.startswith("json://127.0.0.1:")
    store.record(bexley_notice())
    store.record(notice(WIRRAL, "wirral"))

    report = Dispatcher(settings, store, channels_for(settings)).run_once()

    assert (report.queued, report.sent) == (1, 1)
    (request,) = receiver.to("/apprise")
    assert request.json() == {
        "version": "1.0",
        "title": "Improvement notice issued: Bexley",
        "message": (
            f"{TITLE}\n"
            f"When: {WHEN}\n"
            "Status: in force\n"
            "Deadline: 31 August 2099\n"
            "\n"
            "The council must improve its SEND services.\n"
            "\n"
            f"GOV.UK (Department for Education): {SOURCE}\n"
            f"Stop these alerts: {stop_link(settings, subscription)}"
        ),
        "attachments": [],
        "type": "info",
    }


def test_ntfy_receives_text_and_markdown_as_the_url_asks(
    tmp_path: Path, store: Store, receiver: Receiver
) -> None:
    settings = settings_for(tmp_path)
    plain = subscribe_apprise(store, settings, f"ntfy://127.0.0.1:{receiver.port}/sw-plain-x7")
    marked = subscribe_apprise(
        store, settings, f"ntfy://127.0.0.1:{receiver.port}/sw-marked-x7?format=markdown"
    )
    store.record(bexley_notice(summary="Needs *urgent* work [see below] on #SEND_plans."))

    report = Dispatcher(settings, store, channels_for(settings)).run_once()

    assert report.sent == 2
    payloads = {r.json()["topic"]: (r.headers, r.json()) for r in receiver.to("/")}
    headers, text = payloads["sw-plain-x7"]
    assert "X-Markdown" not in headers
    assert text == {
        "topic": "sw-plain-x7",
        "title": "Improvement notice issued: Bexley",
        "message": (
            f"{TITLE}\nWhen: {WHEN}\nStatus: in force\nDeadline: 31 August 2099\n\n"
            "Needs *urgent* work [see below] on #SEND_plans.\n\n"
            f"GOV.UK (Department for Education): {SOURCE}\n"
            f"Stop these alerts: {stop_link(settings, plain)}"
        ),
    }
    headers, markdown = payloads["sw-marked-x7"]
    assert headers["X-Markdown"] == "yes"
    assert markdown == {
        "topic": "sw-marked-x7",
        "title": "Improvement notice issued: Bexley",
        "message": (
            f"{TITLE}\nWhen: {WHEN}\nStatus: in force\nDeadline: 31 August 2099\n\n"
            r"Needs \*urgent\* work \[see below\] on \#SEND\_plans."
            "\n\n"
            f"[GOV.UK (Department for Education)]({SOURCE})\n"
            f"[Stop these alerts]({stop_link(settings, marked)})"
        ),
    }


def test_a_long_summary_is_shortened_to_the_services_limit_never_split(
    tmp_path: Path, store: Store, receiver: Receiver
) -> None:
    settings = settings_for(tmp_path)
    subscribe_apprise(store, settings, f"ntfy://127.0.0.1:{receiver.port}/sw-long-x7")
    store.record(bexley_notice(summary="word " * 5000, title="T" * 2000))

    assert Dispatcher(settings, store, channels_for(settings)).run_once().sent == 1

    (request,) = receiver.to("/")  # one message
    message = request.json()["message"]
    assert len(message) + len(request.json()["title"]) + 2 <= 7800  # ntfy's limit
    assert "…" in message
    assert f"GOV.UK (Department for Education): {SOURCE}" in message  # the links are kept


def _summary(store: Store, **changes: Any) -> Any:
    store.record(bexley_notice(**changes))
    with store.sessions() as session:
        from sqlalchemy.orm import selectinload

        event = session.scalars(select(Event).options(selectinload(Event.findings))).one()
    return summarise(event)


def test_rendering_fits_any_limit_and_puts_the_headline_in_a_titleless_body(
    store: Store,
) -> None:
    summary = _summary(store, summary="long " * 400)
    for fmt in ("text", "markdown", "html"):
        for limit in (2000, 400, 160, 40):
            message = render_apprise(summary, fmt, 0, limit, "https://x.test/unsubscribe/1.a")
            assert message.title == ""
            assert len(message.body) <= limit, (fmt, limit)
        roomy = render_apprise(summary, fmt, 0, 2000, "https://x.test/unsubscribe/1.a")
        assert "Improvement notice issued: Bexley" in roomy.body.split("\n", 1)[0]
    assert render_apprise(summary, "html", 0, 2000, "u").body.startswith(
        "<b>Improvement notice issued: Bexley</b><br>\n"
    )
    digest = render_apprise_digest([summary] * 30, "text", 250, 500, "https://x.test/u")
    assert digest.title == "30 SEND events today"
    assert len(digest.body) <= 500 - len(digest.title) - 2
    assert digest.body.splitlines()[-3].endswith("more") and digest.body.endswith(
        "https://x.test/u"
    )


def test_apprise_digest_is_one_message(tmp_path: Path, store: Store, receiver: Receiver) -> None:
    settings = settings_for(tmp_path)
    subscription = subscribe_apprise(store, settings, json_url(receiver, "/daily"), digest=True)
    store.record(bexley_notice())
    store.record(notice(WIRRAL, "wirral"))
    dispatcher = Dispatcher(settings, store, channels_for(settings))

    assert dispatcher.run_once().sent == 0
    assert dispatcher.send_digests().sent == 2

    (request,) = receiver.to("/daily")
    assert request.json()["title"] == "2 SEND events today"
    assert request.json()["message"] == (
        f"• Improvement notice issued: Bexley ({WHEN}) GOV.UK (Department for Education):"
        f" {SOURCE}\n"
        f"• Improvement notice issued: Wirral ({WHEN}) GOV.UK (Department for Education):"
        " https://www.gov.uk/government/publications/wirral\n"
        "\n"
        f"Stop these alerts: {stop_link(settings, subscription)}"
    )


def test_maintainer_alarms_go_to_the_maintainer_urls(
    tmp_path: Path, store: Store, receiver: Receiver
) -> None:
    settings = settings_for(tmp_path, maintainer_urls=[json_url(receiver, "/ops")])
    store.raise_alarm("govuk", "failing", "govuk failed 3 runs in a row")

    report = Dispatcher(settings, store, channels_for(settings)).run_once()

    assert report.alarms == 1
    (request,) = receiver.to("/ops")
    assert request.json()["title"] == "[sendwatch] alarm: govuk"
    assert request.json()["message"] == "govuk failed 3 runs in a row"


def test_a_failing_service_is_retried_and_its_url_never_stored(
    tmp_path: Path, store: Store, receiver: Receiver
) -> None:
    settings = settings_for(tmp_path)
    url = f"json://sw-user:TokenNeverShown42@127.0.0.1:{receiver.port}/hook-path-x7Hq"
    subscribe_apprise(store, settings, url)
    receiver.script["/hook-path-x7Hq"] = [500]
    store.record(bexley_notice())
    dispatcher = Dispatcher(settings, store, channels_for(settings))

    first, second = dispatcher.run_once(), dispatcher.run_once()

    assert (first.retried, second.sent) == (1, 1)
    assert receiver.to("/hook-path-x7Hq")[0].headers["Authorization"].startswith("Basic ")
    with store.sessions() as session:
        rows = [
            *session.execute(select(Subscription.address, Subscription.secret)).one(),
            *session.scalars(select(Delivery.last_error)),
        ]
    for row in rows:
        assert "TokenNeverShown42" not in str(row) and "hook-path-x7Hq" not in str(row)


def run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_no_apprise_token_or_webhook_secret_in_any_output_or_debug_log(
    tmp_path: Path, receiver: Receiver
) -> None:
    token, topic_token = "TokenNeverShown42xyz", "tk_NeverShownEither9876"
    topic = "sw-topic-never-shown-x7Hq"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    env |= {
        "SENDWATCH_DATA_DIR": str(tmp_path / "data"),
        "SENDWATCH_ALERTS_RETRY_BASE_SECONDS": "0",
        "SENDWATCH_ALERTS_MAINTAINER_URLS": f"ntfy://{topic_token}@127.0.0.1:{receiver.port}/ops-x7Hq",
    }
    json_url = f"json://sw-user:{token}@127.0.0.1:{receiver.port}/hook-x7Hq"
    ntfy_url = f"ntfy://{topic_token}@127.0.0.1:{receiver.port}/{topic}"
    outputs = []
    for url in (json_url, ntfy_url):
        done = run(env, tmp_path, "subscribe", "apprise", url, "--la", "bexley")
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout + done.stderr)
    hooked = run(env, tmp_path, "subscribe", "webhook", receiver.url("/webhook"))
    secret = next(
        line.split(": ", 1)[1] for line in hooked.stdout.splitlines() if line.startswith("secret")
    )
    receiver.script["/hook-x7Hq"] = [503]  # one retry, with its error stored
    store = Store(f"sqlite:///{tmp_path / 'data' / 'sendwatch.db'}")
    store.record(bexley_notice())
    store.raise_alarm("govuk", "failing", "govuk failed 3 runs in a row")
    store.close()
    for args in (
        ("--log-level", "DEBUG", "dispatch"),
        ("--log-level", "DEBUG", "dispatch"),
        ("--log-level", "DEBUG", "subscribers"),
        ("--log-level", "DEBUG", "status"),
        ("--log-level", "DEBUG", "config"),
        ("--log-level", "DEBUG", "outbox"),
        ("unsubscribe", "apprise", ntfy_url),
    ):
        done = run(env, tmp_path, *args)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout + done.stderr)

    assert len(receiver.to("/hook-x7Hq")) == 2 and len(receiver.to("/webhook")) == 1
    assert {json.loads(r.body).get("topic") for r in receiver.to("/")} == {topic, "ops-x7Hq"}
    text = "\n".join(outputs)
    assert "DEBUG apprise" in text  # Apprise's own debug lines were there to leak, and did not
    assert "dispatch: queued=3 sent=2 retried=1" in text or "queued=3 sent=2 retried=1" in text
    for leak in (token, topic_token, topic, "ops-x7Hq", "hook-x7Hq", secret, json_url, ntfy_url):
        assert leak not in text, leak
    assert f"json://127.0.0.1:{receiver.port}#" in text  # the label stands for the URL
    assert f"unsubscribed apprise ntfy://127.0.0.1:{receiver.port}#" in text
