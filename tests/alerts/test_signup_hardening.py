"""Sign-up against spoofed clients: the limits count the peer (or, only where
`[web] trusted_proxies` names the proxy, the client it forwards), the mailbox without its
`+tag`, and answer the same whoever asks; a confirmation link works once and never undoes a
later change; a form posted from another site is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from storage import outbox
from storage.store import Store
from tests.alerts.conftest import Mailbox
from tests.alerts.test_web_abuse import confirm_link, follow, form_token, sign_up
from tests.paths import served


@pytest.fixture
def proxied(tmp_path: Path, database_url: str, mailbox: Mailbox) -> Iterator[str]:
    """Served behind a proxy it trusts (on 127.0.0.1): X-Forwarded-For names the client."""
    with served(
        tmp_path, database_url, mailbox.port, SENDWATCH_WEB_TRUSTED_PROXIES="127.0.0.1"
    ) as base:
        yield base


def test_sixty_sign_ups_rotating_forwarded_clients_and_tags_reach_one_inbox_once(
    proxied: str, mailbox: Mailbox
) -> None:
    with httpx.Client(base_url=proxied) as client:
        answers = [
            sign_up(
                client, f"victim+{i}@example.org", **{"X-Forwarded-For": f"203.0.113.{i}"}
            ).status_code
            for i in range(60)
        ]
    assert answers == [200] + [429] * 59
    assert len(mailbox.messages) == 1


def test_a_trusted_proxy_s_clients_are_counted_apart(proxied: str, mailbox: Mailbox) -> None:
    with httpx.Client(base_url=proxied) as client:
        one = [
            sign_up(client, f"a{i}@example.org", **{"X-Forwarded-For": "203.0.113.7"}).status_code
            for i in range(21)
        ]
        other = sign_up(client, "b@example.org", **{"X-Forwarded-For": "203.0.113.8"})
    assert one == [200] * 20 + [429]
    assert other.status_code == 200


def test_the_limit_answers_the_same_whoever_asks(
    tmp_path: Path, database_url: str, mailbox: Mailbox
) -> None:
    with (
        served(tmp_path, database_url, mailbox.port) as base,
        httpx.Client(base_url=base) as client,
    ):
        assert sign_up(client, "first@example.org").status_code == 200
        by_address = sign_up(client, "First+x@example.org")
        for i in range(19):
            sign_up(client, f"c{i}@example.org")
        by_client = sign_up(client, "never-asked@example.org")
    assert by_address.status_code == by_client.status_code == 429
    assert by_address.headers["Retry-After"] == by_client.headers["Retry-After"]
    strip = lambda page: page.split('name="csrf"')[0]  # noqa: E731  (the session's token differs)
    assert strip(by_address.text) == strip(by_client.text)
    assert "this address" not in by_address.text


def test_an_old_confirmation_link_never_reactivates_after_unsubscribing(
    tmp_path: Path, database_url: str, store: Store, mailbox: Mailbox
) -> None:
    with (
        served(tmp_path, database_url, mailbox.port) as base,
        httpx.Client(base_url=base) as client,
    ):
        assert sign_up(client, "parent@example.org").status_code == 200
        link = confirm_link(mailbox, "parent@example.org")
        assert follow(client, link).status_code == 200
        assert outbox.unsubscribe(store, "email", "parent@example.org")
        again = follow(client, link)
    assert again.status_code == 409
    assert "changes nothing" in again.text
    stopped = outbox.subscription(store, "email", "parent@example.org")
    assert stopped is not None and stopped.state == "unsubscribed"


def test_a_form_posted_from_another_site_is_refused(
    tmp_path: Path, database_url: str, mailbox: Mailbox
) -> None:
    with (
        served(tmp_path, database_url, mailbox.port) as base,
        httpx.Client(base_url=base) as client,
    ):
        token = form_token(client, "/la/bexley")
        form = {"email": "parent@example.org", "csrf": token, "la": "bexley"}
        elsewhere = client.post("/subscribe", data=form, headers={"Origin": "https://evil.example"})
        ours = client.post("/subscribe", data=form, headers={"Origin": base})
    assert elsewhere.status_code == 403
    assert ours.status_code == 200
    assert len(mailbox.messages) == 1
