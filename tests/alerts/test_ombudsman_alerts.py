"""The Ombudsman's decisions reach only those who asked for them (`--kind ombudsman`), stay out
of the national and regional feeds, and each council's page, `/api/las` and `sendwatch status
--la --json` show the council's record: decisions of the last 12 months, how many upheld, the
remedies stated in total, the latest three, linked."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import subprocess
from pathlib import Path

import feedparser
import httpx

from alerts.feeds import ALL, render_feed, spec_for
from alerts.filters import resolve_kind
from sendwatch.vocab import Kind, OmbudsmanOutcome
from storage import outbox
from storage.queries import ombudsman_records
from storage.store import FindingData, Store
from tests.alerts.conftest import Mailbox, alert_settings
from tests.alerts.test_email_dispatch import BEXLEY, KENT, dispatcher, notice
from tests.paths import COMMAND, served

TODAY = dt.date.today()
DECISIONS = "https://www.lgo.org.uk/decisions/education/special-educational-needs"


def ombudsman_decision(
    la_code: str,
    case: str,
    day: dt.date,
    outcome: OmbudsmanOutcome = OmbudsmanOutcome.UPHELD,
    remedy: int | None = None,
    body: str = "Kent County Council",
) -> FindingData:
    """A decision as the ombudsman spider records it."""
    fields: dict[str, object] = {"case_number": case, "decision": "Upheld"}
    if remedy is not None:
        fields["remedy_gbp"] = remedy
    return notice(
        la_code,
        case,
        source="ombudsman",
        url=f"{DECISIONS}/{case.replace(' ', '-')}",
        title=f"{body} ({case})",
        kind=Kind.OMBUDSMAN_DECISION,
        outcome=outcome,
        happened_on=day,
        published_on=day,
        summary="Mrs X complained the Council delayed her child's EHC plan.",
        fields=fields,
    )  # type: ignore[return-value]


def _kent_record(store: Store) -> None:
    """Kent: four decisions this year (three upheld, £1,950 and £300 stated), one long ago."""
    for finding in (
        ombudsman_decision(KENT, "25 000 001", TODAY - dt.timedelta(days=10), remedy=1950),
        ombudsman_decision(KENT, "25 000 002", TODAY - dt.timedelta(days=40)),
        ombudsman_decision(
            KENT,
            "25 000 003",
            TODAY - dt.timedelta(days=90),
            OmbudsmanOutcome.CLOSED_AFTER_INITIAL_ENQUIRIES,
        ),
        ombudsman_decision(KENT, "25 000 004", TODAY - dt.timedelta(days=200), remedy=300),
        ombudsman_decision(KENT, "23 000 005", TODAY - dt.timedelta(days=800), remedy=5000),
    ):
        store.record(finding)


def test_only_those_who_asked_for_ombudsman_decisions_receive_them(
    tmp_path: Path, store: Store, mailbox: Mailbox
) -> None:
    settings = alert_settings(tmp_path, mailbox.port)
    outbox.subscribe(store, "email", "everything@example.org")
    outbox.subscribe(store, "email", "kent@example.org", la_codes=[KENT])
    outbox.subscribe(store, "email", "south-east@example.org", regions=["South East"])
    outbox.subscribe(store, "email", "notices@example.org", kinds=[str(Kind.IMPROVEMENT_NOTICE)])
    outbox.subscribe(store, "email", "ombudsman@example.org", kinds=[resolve_kind("ombudsman")])
    store.record(ombudsman_decision(KENT, "25 009 041", TODAY, remedy=1950))
    report = dispatcher(settings, store).run_once()
    assert report.sent == 1
    assert [rcpts[0] for rcpts, _ in mailbox.messages] == ["ombudsman@example.org"]


def test_the_subscribe_flag_is_kind_ombudsman() -> None:
    assert resolve_kind("ombudsman") == "ombudsman_decision"
    assert resolve_kind("ombudsman_decision") == "ombudsman_decision"


def test_decisions_are_in_their_own_feed_and_the_council_s_not_the_national_ones(
    store: Store, tmp_path: Path
) -> None:
    store.record(ombudsman_decision(KENT, "25 009 041", TODAY))
    store.record(notice(BEXLEY, "bexley-notice"))
    settings = alert_settings(tmp_path, 25)

    def titles(spec: object) -> list[str]:
        body = render_feed(settings, store, spec, "atom")  # type: ignore[arg-type]
        return [entry.title for entry in feedparser.parse(body).entries]

    assert titles(ALL) == ["Improvement notice issued: Bexley"]
    assert titles(spec_for("region", "south-east")) == []
    assert titles(spec_for("la", KENT)) == ["Ombudsman decision: Kent"]
    assert titles(spec_for("kind", "ombudsman_decision")) == ["Ombudsman decision: Kent"]


def test_the_record_is_a_pure_fold_of_the_council_s_decisions(store: Store) -> None:
    _kent_record(store)
    record = ombudsman_records(store, [KENT], today=TODAY)[KENT]
    assert (record.decisions, record.upheld, record.remedies_gbp) == (4, 3, 2250)
    assert [d.title for d in record.latest] == [
        "Kent County Council (25 000 001)",
        "Kent County Council (25 000 002)",
        "Kent County Council (25 000 003)",
    ]
    assert ombudsman_records(store, [BEXLEY], today=TODAY) == {}


def test_the_council_page_the_api_and_status_show_the_record(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    _kent_record(store)
    with served(tmp_path, database_url) as base:
        page = httpx.get(f"{base}/la/kent").text
        councils = {la["ons_code"]: la for la in httpx.get(f"{base}/api/las").json()}
    assert (
        "In the last 12 months the Local Government and Social Care Ombudsman published 4"
        " decisions on complaints about Kent's SEND work, 3 upheld, with remedies of £2,250"
        " stated in total." in page
    )
    assert f'<a href="{DECISIONS}/25-000-001">Kent County Council (25 000 001)</a>' in page
    assert (
        "25 000 003" in page and "25 000 004" not in page.split("The latest:")[1].split("</ul>")[0]
    )
    assert "Closed after initial enquiries (not investigated)" in page
    assert councils[KENT]["ombudsman"] == {
        "decisions_12_months": 4,
        "upheld_12_months": 3,
        "remedies_12_months_gbp": 2250,
    }
    assert councils[BEXLEY]["ombudsman"] == {
        "decisions_12_months": 0,
        "upheld_12_months": 0,
        "remedies_12_months_gbp": 0,
    }
    status = subprocess.run(
        [*COMMAND, "status", "--la", "Kent", "--json"],
        env={k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
        | {"SENDWATCH_DATABASE_URL": database_url},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(status.stdout)["ombudsman"]["decisions_12_months"] == 4, status.stderr


def test_export_las_carries_each_council_s_twelve_month_counts(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    _kent_record(store)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")} | {
        "SENDWATCH_DATABASE_URL": database_url
    }

    def export(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*COMMAND, "export", "--las", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )

    every = json.loads(export().stdout)
    assert len(every) == 153  # every council, as /api/las
    kent = next(la for la in every if la["ons_code"] == KENT)
    assert kent["ombudsman"] == {
        "decisions_12_months": 4,
        "upheld_12_months": 3,
        "remedies_12_months_gbp": 2250,
    }
    rows = list(csv.DictReader(io.StringIO(export("--la", "Kent", "--format", "csv").stdout)))
    assert [
        (r["name"], r["ombudsman_decisions_12_months"], r["ombudsman_upheld_12_months"])
        for r in rows
    ] == [("Kent", "4", "3")]
    assert rows[0]["ombudsman_remedies_12_months_gbp"] == "2250"
    refused = export("--kind", "notice")
    assert refused.returncode == 2 and "--las writes councils" in refused.stderr
