"""The web sign-up and pages under abuse (issue 12, points 1-4 and 8-11), against `sendwatch serve`
on 127.0.0.1 with a real SMTP server (aiosmtpd), a dead one, or one that accepts and never answers."""

from __future__ import annotations

import base64
import http.client
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from alerts.channels import Outgoing, Permanent, Sent
from alerts.email import BadAddress, SmtpChannel
from storage import outbox
from storage.store import Store
from tests.alerts.conftest import Mailbox, alert_settings, free_port
from tests.alerts.test_email_dispatch import BEXLEY, KENT, notice
from tests.alerts.test_pages import CHROMIUM, _browser
from tests.paths import served

HOSTILE_ADDRESSES = [
    "=?utf-8?q?v=40evil.example=2C?=a@example.org",
    "x,y@example.org",
    "Group: a@example.org, v@evil.example;",
    "a@example.org, v@evil.example",
    "A <a@example.org>",
    '"v@evil.example"@example.org',
    "a@example.org\r\nBcc: v@evil.example",
]


@pytest.fixture
def server(tmp_path: Path, database_url: str, store: Store, mailbox: Mailbox) -> Iterator[str]:
    store.record(notice(BEXLEY, "bexley-notice"))
    with served(tmp_path, database_url, mailbox.port) as base:
        yield base


def form_token(client: httpx.Client, path: str = "/la/bexley") -> str:
    """The CSRF token of the sign-up form, as a browser would submit it."""
    page = client.get(path)
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def sign_up(client: httpx.Client, email: str, la: str = "bexley", **headers: str) -> httpx.Response:
    token = form_token(client, f"/la/{la}")
    return client.post(
        "/subscribe", data={"email": email, "csrf": token, "la": la}, headers=headers
    )


def confirm_link(mailbox: Mailbox, address: str) -> str:
    (message,) = mailbox.to(address)
    link = re.search(r"http://\S+/confirm/\S+", message.get_body(("plain",)).get_content())
    assert link
    return link.group(0)


def follow(client: httpx.Client, link: str) -> httpx.Response:
    page = client.get(link)
    assert page.status_code == 200, page.text
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token
    return client.post(link, data={"csrf": token.group(1)})


# -- 1: one mailbox, and the envelope is the address ---------------------------------------------


def test_addresses_that_widen_the_envelope_are_refused(
    server: str, store: Store, mailbox: Mailbox
) -> None:
    with httpx.Client(base_url=server) as client:
        for address in HOSTILE_ADDRESSES:
            answer = sign_up(client, address)
            assert answer.status_code == 400, (address, answer.status_code)
            assert "Enter an email address" in answer.text
    assert mailbox.messages == []
    assert outbox.subscriptions(store) == []


def test_the_envelope_is_the_one_address_whatever_the_to_header_says(
    tmp_path: Path, store: Store, mailbox: Mailbox
) -> None:
    from alerts.summary import summarise

    channel = SmtpChannel(alert_settings(tmp_path, mailbox.port).smtp)
    for odd in HOSTILE_ADDRESSES[:2]:
        with pytest.raises(BadAddress):
            channel.notify(odd, "Subject", "text")
    channel.notify("parent@example.org", "Subject", "text")

    # A stored address that is not exactly one mailbox (from before addresses were checked)
    # fails for good; it is never read as several recipients, nor as part of itself.
    store.record(notice(BEXLEY, "bexley-notice"))
    (event,) = outbox.events(store)
    results: list[object] = []
    channel.send(
        [
            Outgoing(
                delivery_id=number,
                address=address,
                summaries=(summarise(event),),
                unsubscribe_url="http://127.0.0.1/unsubscribe/1.x",
            )
            for number, address in enumerate([*HOSTILE_ADDRESSES[:2], "parent@example.org"])
        ],
        lambda outgoing, result: results.append(result),
    )
    assert [type(result) for result in results] == [Permanent, Permanent, Sent]
    assert [rcpts for rcpts, _ in mailbox.messages] == [["parent@example.org"]] * 2


# -- 2: every change goes through the confirmation link; the reply never tells --------------------


def test_adding_a_council_to_an_active_subscription_needs_confirmation(
    server: str, store: Store, mailbox: Mailbox
) -> None:
    outbox.subscribe(store, "email", "parent@example.org", la_codes=[BEXLEY])
    with httpx.Client(base_url=server) as client:
        known = sign_up(client, "parent@example.org", la="kent")
        unknown = sign_up(
            client, "stranger@example.org", la="kent", **{"X-Forwarded-For": "10.0.0.9"}
        )
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace("parent@example.org", "ADDRESS") == unknown.text.replace(
        "stranger@example.org", "ADDRESS"
    )
    assert "already" not in known.text and "Check your email" in known.text
    # Nothing changed, nothing made, before anyone confirms.
    parent = outbox.subscription(store, "email", "parent@example.org")
    assert parent is not None and (parent.state, parent.la_codes) == ("active", [BEXLEY])
    assert outbox.subscription(store, "email", "stranger@example.org") is None

    with httpx.Client() as browser:
        assert follow(browser, confirm_link(mailbox, "parent@example.org")).status_code == 200
        assert follow(browser, confirm_link(mailbox, "stranger@example.org")).status_code == 200
    parent = outbox.subscription(store, "email", "parent@example.org")
    assert parent is not None and (parent.state, parent.la_codes) == (
        "active",
        sorted([BEXLEY, KENT]),
    )
    stranger = outbox.subscription(store, "email", "stranger@example.org")
    assert stranger is not None and (stranger.state, stranger.la_codes) == ("active", [KENT])


# -- 3: CSRF bound to the session; limits on confirmation emails ---------------------------------


def test_csrf_token_is_signed_and_bound_to_the_session(server: str, mailbox: Mailbox) -> None:
    data = {"email": "a@example.org", "la": "bexley"}
    for cookie in ("sw_csrf", "sw_session"):
        chosen = httpx.post(
            server + "/subscribe", data=data | {"csrf": "picked"}, cookies={cookie: "picked"}
        )
        assert chosen.status_code == 403, cookie
    with httpx.Client(base_url=server) as first, httpx.Client(base_url=server) as second:
        token = form_token(first)
        form_token(second)
        assert second.post("/subscribe", data=data | {"csrf": token}).status_code == 403
        assert first.post("/subscribe", data=data | {"csrf": token}).status_code == 200
    assert len(mailbox.messages) == 1


def test_confirmation_emails_are_limited_per_address_and_per_client(
    server: str, mailbox: Mailbox
) -> None:
    """X-Forwarded-For is a claim, not an address, unless [web] trusted_proxies names the
    proxy (nothing by default): rotating it changes nothing, nor do `+tags` and case."""
    with httpx.Client(base_url=server) as client:
        assert sign_up(client, "victim@example.org").status_code == 200
        for i in range(5):
            again = sign_up(client, f"Victim+{i}@Example.org", **{"X-Forwarded-For": f"10.0.0.{i}"})
            assert again.status_code == 429
            assert "<h1>Too many" in again.text and "try again" in again.text
        assert len(mailbox.messages) == 1

        answers = [
            sign_up(client, f"n{i}@example.org", **{"X-Forwarded-For": f"10.0.1.{i}"}).status_code
            for i in range(25)
        ]
        assert answers == [200] * 19 + [429] * 6  # one client: 20 an hour, the first included
    assert len(mailbox.messages) == 1 + 19


# -- 4: sending mail never blocks the server; an outage leaves nothing behind -------------------


@contextmanager
def silent_smtp() -> Iterator[int]:
    """A server that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()


def test_a_hanging_smtp_server_blocks_nothing(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    with (
        silent_smtp() as port,
        served(tmp_path, database_url, port) as base,
        httpx.Client(base_url=base, timeout=60) as client,
    ):
        token = form_token(client)
        answer: list[httpx.Response] = []
        started = time.monotonic()
        signing_up = threading.Thread(
            target=lambda: answer.append(
                client.post(
                    "/subscribe",
                    data={"email": "a@example.org", "csrf": token, "la": "bexley"},
                )
            )
        )
        signing_up.start()
        time.sleep(0.5)
        for _ in range(5):
            before = time.monotonic()
            assert httpx.get(base + "/healthz", timeout=5).status_code == 200
            assert time.monotonic() - before < 1
        signing_up.join()
        took = time.monotonic() - started
    (response,) = answer
    assert response.status_code == 503 and "try again later" in response.text.lower()
    assert took < 25
    assert outbox.subscriptions(store) == []


def test_an_smtp_outage_is_a_friendly_page_and_leaves_nothing(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    with served(tmp_path, database_url, free_port()) as base, httpx.Client(base_url=base) as client:
        response = sign_up(client, "a@example.org")
        assert response.status_code == 503
        assert "try again later" in response.text.lower()
        assert "<h1>" in response.text
    assert outbox.subscriptions(store) == []


# -- 8: bad inputs are 400 naming the parameter, or 404 for a token -----------------------------


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode("ascii").rstrip("=")


def test_bad_numbers_are_400_naming_the_parameter(server: str) -> None:
    for token in ("\u00b2.abc", "1.\u00b2", "9" * 30 + ".abc", "1" * 5000 + ".abc", "%C2%B2.x"):
        assert httpx.get(f"{server}/unsubscribe/{token}").status_code == 404, token
        assert httpx.post(f"{server}/unsubscribe/{token}").status_code == 404, token
        assert httpx.get(f"{server}/confirm/{token}").status_code == 404, token
        assert httpx.post(f"{server}/confirm/{token}").status_code in (400, 404), token
    cases = {
        "cursor": [
            _cursor("before:\u00b2"),
            _cursor(f"before:{2**63}"),
            _cursor("before:" + "9" * 5000),
        ],
        "limit": ["\u00b2", str(2**64), "-1", "0"],
    }
    for parameter, values in cases.items():
        for value in values:
            answer = httpx.get(server + "/api/events", params={parameter: value})
            assert answer.status_code == 400, (parameter, value)
            assert answer.json()["parameter"] == parameter
    for value in (str(2**63), str(10**30), "\u00b2", "0"):
        answer = httpx.get(server + "/recent", params={"page": value})
        assert answer.status_code == 400, value
        assert "page" in answer.text
    assert httpx.get(server + "/recent", params={"page": "1"}).status_code == 200


# -- 9: a long query costs nothing -------------------------------------------------------------------


def test_a_huge_query_is_refused_quickly(server: str) -> None:
    host, port = server.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    started = time.monotonic()
    connection.request("GET", "/?q=" + "a-" * 50_000)
    answer = connection.getresponse()
    body = answer.read().decode()
    assert time.monotonic() - started < 1.5
    assert answer.status == 400 and "q:" in body
    found = httpx.get(server + "/", params={"q": "bexley"})
    assert found.status_code == 200 and "1 of 153 councils" in found.text


# -- 10: only http(s) links -------------------------------------------------------------------------


def test_only_http_urls_become_links(
    tmp_path: Path, database_url: str, store: Store, mailbox: Mailbox
) -> None:
    for number, url in enumerate(
        [
            "javascript:alert(1)",
            "data:text/html,<b>x</b>",
            "java\tscript:alert(2)",
            "//evil.example/x",
            " javascript:alert(3)",
        ]
    ):
        store.record(notice(KENT, f"kent-{number}", source="lgl", url=url))
    store.record(notice(KENT, "kent-fine", url="https://www.gov.uk/fine"))
    with served(tmp_path, database_url, mailbox.port) as base:
        for path in ("/la/kent", "/recent"):
            body = httpx.get(base + path).text
            hrefs = re.findall(r'href="([^"]*)"', body)
            assert "https://www.gov.uk/fine" in hrefs, path
            for href in hrefs:
                assert href.startswith(("/", "#", "http://", "https://")) and not href.startswith(
                    "//"
                ), href
            assert "javascript:alert(1)" in body  # shown, as text


# -- 11: security headers on every response ----------------------------------------------------------


def test_security_headers_on_every_response(server: str) -> None:
    for method, path in [
        ("GET", "/"),
        ("GET", "/la/bexley"),
        ("GET", "/la/atlantis"),
        ("GET", "/recent"),
        ("GET", "/healthz"),
        ("GET", "/api/events"),
        ("GET", "/api/las"),
        ("GET", "/feeds/all.atom"),
        ("GET", "/nowhere"),
        ("GET", "/unsubscribe/1.x"),
        ("POST", "/subscribe"),
    ]:
        headers = httpx.request(method, server + path).headers
        csp = headers.get("content-security-policy", "")
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, path
        assert "script-src" not in csp or "script-src 'none'" in csp, path
        assert headers.get("x-content-type-options") == "nosniff", path
        assert headers.get("referrer-policy") == "no-referrer", path


def test_pages_work_under_their_policy_in_a_browser(server: str) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed")
    with _browser() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page()
        violations: list[str] = []
        page.on("console", lambda message: violations.append(message.text))
        for path in ("/", "/la/bexley", "/recent"):
            page.goto(server + path)
            assert page.locator("h1").first.is_visible()
        chart = page.goto(server + "/") and page.locator("figure.chart svg").first.bounding_box()
        assert chart and chart["width"] > 300 and chart["height"] > 100
        assert (
            page.evaluate("getComputedStyle(document.querySelector('header.site')).backgroundColor")
            == "rgb(11, 12, 12)"
        )
        page.fill("#q", "bexley")
        page.click("text=Show councils")
        assert page.locator("caption", has_text="councils").inner_text() == "1 of 153 councils"
        browser.close()
    assert [v for v in violations if "Content Security Policy" in v] == []


def test_the_cli_takes_one_plain_mailbox_too(tmp_path: Path) -> None:
    from tests.alerts.test_cli import run

    for address in HOSTILE_ADDRESSES[:4]:
        result = run(tmp_path, "subscribe", "email", address)
        assert result.returncode == 1, address
        assert result.stderr.startswith("sendwatch: error: not an email address:"), result.stderr
