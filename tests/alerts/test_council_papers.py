"""A council's meeting papers reach those who follow that council or asked for papers, and
stay out of the national and regional feeds (they have the council's feed and their own)."""

from __future__ import annotations

from pathlib import Path

import feedparser

from alerts.feeds import ALL, render_feed, spec_for
from sendwatch.vocab import Kind
from storage import outbox
from storage.store import Store
from tests.alerts.conftest import Mailbox, alert_settings
from tests.alerts.test_email_dispatch import BEXLEY, KENT, dispatcher, notice


def _paper(la_code: str, identity: str) -> object:
    return notice(
        la_code,
        identity,
        source="moderngov",
        url=f"https://lbbd.moderngov.co.uk/mgAi.aspx?ID={identity}",
        title="Children's Services Select Committee, 12 March 2026: Area SEND Inspection Feedback",
        kind=Kind.COUNCIL_PAPER,
        fields={"committee": "Children's Services Select Committee"},
    )


def test_papers_go_to_the_council_s_followers_and_to_those_who_asked(
    tmp_path: Path, store: Store, mailbox: Mailbox
) -> None:
    settings = alert_settings(tmp_path, mailbox.port)
    outbox.subscribe(store, "email", "everything@example.org")
    outbox.subscribe(store, "email", "bexley@example.org", la_codes=[BEXLEY])
    outbox.subscribe(store, "email", "london@example.org", regions=["London"])
    outbox.subscribe(store, "email", "papers@example.org", kinds=[str(Kind.COUNCIL_PAPER)])
    outbox.subscribe(store, "email", "kent@example.org", la_codes=[KENT])
    store.record(_paper(BEXLEY, "paper-1"))  # type: ignore[arg-type]
    report = dispatcher(settings, store).run_once()
    assert report.sent == 2
    got = sorted(rcpts[0] for rcpts, _ in mailbox.messages)
    assert got == ["bexley@example.org", "papers@example.org"]


def test_papers_are_in_the_council_feed_not_the_national_one(store: Store, tmp_path: Path) -> None:
    store.record(_paper(BEXLEY, "paper-1"))  # type: ignore[arg-type]
    store.record(notice(KENT, "kent-notice"))
    settings = alert_settings(tmp_path, 25)

    def titles(spec: object) -> list[str]:
        body = render_feed(settings, store, spec, "atom")  # type: ignore[arg-type]
        return [entry.title for entry in feedparser.parse(body).entries]

    assert titles(ALL) == ["Improvement notice issued: Kent"]
    assert titles(spec_for("region", "london")) == []
    assert titles(spec_for("la", BEXLEY)) == ["Council meeting paper: Bexley"]
    assert titles(spec_for("kind", "council_paper")) == ["Council meeting paper: Bexley"]
