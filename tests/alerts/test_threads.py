"""One thread per case: a council's papers belong to its area SEND inspection (published up to
60 days after them: the feedback is discussed first) or, failing one, to its notice; exports
carry the thread and a paper's alert says which case it follows."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

from alerts.export import EventFilter, records_of, select_events, to_csv, to_json
from alerts.render import render_telegram
from alerts.summary import summarise
from sendwatch.vocab import Kind, Outcome
from storage import outbox
from storage.queries import event_facts
from storage.store import FindingData, Store
from tests.alerts.conftest import Mailbox, alert_settings
from tests.alerts.test_email_dispatch import BEXLEY, KENT, TODAY, WIRRAL, dispatcher, notice

INSPECTED = dt.date(2024, 2, 23)
FOLLOWS = "follows the area SEND inspection published 23 February 2024"


def _inspection(la_code: str, on: dt.date) -> FindingData:
    return notice(
        la_code,
        f"inspection-{la_code}-{on}",
        source="ofsted",
        url=f"https://reports.ofsted.gov.uk/provider/44/{la_code}-{on}",
        title="Area SEND inspection of Bexley Local Area Partnership",
        kind=Kind.INSPECTION_REPORT,
        happened_on=on,
        published_on=on,
        outcome=Outcome.SIGNIFICANT_CONCERNS,
        fields={},
    )


def _paper(la_code: str, on: dt.date) -> FindingData:
    return notice(
        la_code,
        f"paper-{la_code}-{on}",
        source="moderngov",
        url=f"https://democracy.example.gov.uk/mgAi.aspx?ID={la_code}-{on}",
        title=f"Cabinet, {on:%d %B}: Area SEND Inspection Feedback",
        kind=Kind.COUNCIL_PAPER,
        happened_on=on,
        published_on=on,
        fields={"committee": "Cabinet"},
    )


def _event_ids(store: Store) -> dict[tuple[str, str | None, dt.date | None], int]:
    return {(e.kind, e.la_code, e.happened_on): e.id for e in select_events(store, EventFilter())}


def test_papers_belong_to_the_inspection_even_before_it_is_published(store: Store) -> None:
    store.record(_inspection(BEXLEY, INSPECTED))
    store.record(_paper(BEXLEY, dt.date(2024, 3, 12)))
    store.record(_paper(BEXLEY, dt.date(2024, 1, 20)))  # the feedback, 34 days before
    store.record(_paper(BEXLEY, dt.date(2023, 11, 1)))  # too early: another case, none here
    store.record(notice(WIRRAL, "wirral-notice", happened_on=dt.date(2024, 5, 1)))
    store.record(_paper(WIRRAL, dt.date(2024, 6, 4)))
    store.record(_paper(KENT, dt.date(2024, 6, 4)))  # Kent: neither inspection nor notice
    store.record(notice(None, "no-council", kind=Kind.NEWS))  # type: ignore[arg-type]
    events = select_events(store, EventFilter())
    ids = _event_ids(store)
    inspection = ids[(Kind.INSPECTION_REPORT, BEXLEY, INSPECTED)]
    wirral_notice = ids[(Kind.IMPROVEMENT_NOTICE, WIRRAL, dt.date(2024, 5, 1))]

    facts = event_facts(store, events)
    heads = {event_id: f.thread.id if f.thread else None for event_id, f in facts.items()}
    assert heads[inspection] == inspection  # an inspection heads its own thread
    assert heads[ids[(Kind.COUNCIL_PAPER, BEXLEY, dt.date(2024, 3, 12))]] == inspection
    assert heads[ids[(Kind.COUNCIL_PAPER, BEXLEY, dt.date(2024, 1, 20))]] == inspection
    assert heads[ids[(Kind.COUNCIL_PAPER, BEXLEY, dt.date(2023, 11, 1))]] is None
    assert heads[ids[(Kind.COUNCIL_PAPER, WIRRAL, dt.date(2024, 6, 4))]] == wirral_notice
    assert heads[ids[(Kind.COUNCIL_PAPER, KENT, dt.date(2024, 6, 4))]] is None
    assert heads[ids[(Kind.NEWS, None, TODAY)]] is None

    wirral_paper = next(
        e for e in events if e.id == ids[(Kind.COUNCIL_PAPER, WIRRAL, dt.date(2024, 6, 4))]
    )
    summary = summarise(wirral_paper, facts[wirral_paper.id])
    assert summary.follows == "follows the improvement notice of 1 May 2024"
    assert "This follows the improvement notice of 1 May 2024." in render_telegram(summary)
    # Only a paper says what it follows.
    assert summarise(events[0], facts[events[0].id]).follows is None


def test_export_carries_the_thread(store: Store) -> None:
    store.record(_inspection(BEXLEY, INSPECTED))
    store.record(_paper(BEXLEY, dt.date(2024, 1, 20)))
    store.record(_paper(KENT, dt.date(2024, 6, 4)))
    records = json.loads(to_json(records_of(store, select_events(store, EventFilter()))))
    by_kind = {(r["kind"], r["local_authority"]["name"]): r for r in records}
    inspection = by_kind[("inspection_report", "Bexley")]
    expected = {
        "id": inspection["id"],
        "kind": "inspection_report",
        "title": "Area SEND inspection of Bexley Local Area Partnership",
        "happened_on": "2024-02-23",
    }
    assert inspection["thread"] == expected
    assert by_kind[("council_paper", "Bexley")]["thread"] == expected
    assert by_kind[("council_paper", "Kent")]["thread"] is None

    rows = {
        (row["kind"], row["la_name"]): row for row in csv.DictReader(io.StringIO(to_csv(records)))
    }
    assert rows[("council_paper", "Bexley")]["thread_id"] == str(inspection["id"])
    assert rows[("council_paper", "Bexley")]["thread_kind"] == "inspection_report"
    assert rows[("council_paper", "Kent")]["thread_id"] == ""


def test_the_paper_s_alert_says_which_case_it_follows(
    tmp_path: Path, store: Store, mailbox: Mailbox
) -> None:
    settings = alert_settings(tmp_path, mailbox.port, max_age_days=100_000)
    store.record(_inspection(BEXLEY, INSPECTED), alert=False)
    outbox.subscribe(store, "email", "bexley@example.org", la_codes=[BEXLEY])
    store.record(_paper(BEXLEY, dt.date(2024, 3, 12)))
    report = dispatcher(settings, store).run_once()
    assert report.sent == 1
    (message,) = mailbox.to("bexley@example.org")
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert f"This {FOLLOWS}." in text
    assert FOLLOWS in html


def test_the_council_page_says_which_case_a_paper_follows(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    import httpx

    from tests.paths import served

    store.record(_inspection(BEXLEY, INSPECTED))
    store.record(_paper(BEXLEY, dt.date(2024, 3, 12)))
    with served(tmp_path, database_url) as base:
        page = httpx.get(f"{base}/la/bexley", timeout=30)
    assert page.status_code == 200
    assert f"This {FOLLOWS}." in page.text


def test_the_council_page_shows_each_case_as_one_thread(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    """Inspection, then the papers about it, then the notice and its lifting, in the order
    they happened; an older case below the newer one; news before any case apart."""
    import httpx
    from bs4 import BeautifulSoup

    from tests.paths import served

    store.record(
        notice(
            BEXLEY,
            "old-news",
            source="lgl",
            url="https://www.localgovernmentlawyer.co.uk/1",
            title="Bexley SEND news from 2019",
            kind=Kind.NEWS,
            happened_on=dt.date(2019, 5, 1),
            published_on=dt.date(2019, 5, 1),
            fields={},
        )
    )
    store.record(_inspection(BEXLEY, dt.date(2021, 6, 1)))
    store.record(_paper(BEXLEY, dt.date(2024, 1, 20)))  # feedback before publication
    store.record(_inspection(BEXLEY, INSPECTED))
    store.record(_paper(BEXLEY, dt.date(2024, 3, 12)))
    store.record(notice(BEXLEY, "bexley-notice", happened_on=dt.date(2024, 5, 1)))
    with served(tmp_path, database_url) as base:
        page = httpx.get(f"{base}/la/bexley", timeout=30)
    assert page.status_code == 200
    soup = BeautifulSoup(page.text, "html.parser")
    cases = [
        (
            section.h3.get_text(strip=True),
            [li.find("h4").get_text(strip=True).split(":")[0] for li in section.select("li")],
        )
        for section in soup.select("section.case")
    ]
    assert cases == [
        (
            "Area SEND inspection published 23 February 2024",
            [
                "Council meeting paper",
                "Area SEND inspection report",
                "Council meeting paper",
                "Improvement notice issued",
            ],
        ),
        ("Area SEND inspection published 1 June 2021", ["Area SEND inspection report"]),
        ("Other events", ["SEND news"]),
    ]
