"""Inspections as Ofsted writes them: every report's result read in both frameworks' words, a
revisit's or monitoring inspection's progress counted, and a result in words no rule knows
recorded as `unrecognised` (never blank, never guessed), alarmed once and shown as such.

The wordings are the real reports' (docs in README, "Outcomes"): the 2023 framework's three
outcome sentences in both orders the positive one comes in (Bedford 2025, Wiltshire 2024);
the 2016-2022 framework's Written Statement of Action; revisit letters ("The area has made
sufficient progress in addressing the three areas of significant weakness identified at the
initial inspection", Northumberland 2021; three of five, Wirral); the 2025 monitoring
inspection's "taken reasonable steps to address all the areas for priority action"
(Oxfordshire, November 2025).
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import feedparser
import httpx
import pytest
from sqlalchemy import select

from alerts.export import EventFilter, select_events
from alerts.feeds import render_feed, spec_for
from alerts.render import render_email, render_telegram
from alerts.summary import summarise
from app.demo.site import FixtureSite
from crawler.extract import OUTCOME_RULES, Document, extract
from sendwatch.config import Settings
from sendwatch.vocab import Kind, Outcome
from storage.models import Finding
from storage.queries import event_facts
from storage.store import Store
from tests.alerts.test_email_dispatch import notice
from tests.crawler.test_end_to_end import _store, crawl
from tests.crawler.test_end_to_end import env as env
from tests.fixtures.make_pdf import make_pdf
from tests.paths import COMMAND, served

BLACKPOOL, WIRRAL = "E06000009", "E08000015"
#: A result in words no rule knows (as a future framework might word it).
UNKNOWN_SENTENCE = (
    "The local area partnership's arrangements are rated as requiring improvement to be"
    " effective for children and young people with SEND."
)


def _report(body: str, kind: Kind = Kind.INSPECTION_REPORT, official: bool = True) -> Document:
    return Document(
        title="Blackpool: Area SEND full inspection",
        text=body,
        kind_hint=kind,
        la_hint="Blackpool",
        official=official,
    )


@pytest.mark.parametrize(
    ("body", "outcome"),
    [
        (
            "Inspection outcome The local area partnership's special educational needs and/or"
            " disabilities (SEND) arrangements typically lead to positive experiences and outcomes"
            " for children and young people with SEND. Information about the local area",
            Outcome.POSITIVE,
        ),
        (
            "Inspection outcome The local area partnership's arrangements typically lead to"
            " positive experiences and outcomes for children and young people with special"
            " educational needs and/or disabilities (SEND). Information about the local area",
            Outcome.POSITIVE,
        ),
        (
            "Inspection outcome The local area partnership\u2019s arrangements lead to"
            " inconsistent experiences and outcomes for children and young people with special"
            " educational needs and/or disabilities (SEND). Information about the local area",
            Outcome.INCONSISTENT,
        ),
        (
            "Inspection outcome There are widespread and/or systemic failings leading to"
            " significant concerns about the experiences and outcomes of children and young"
            " people with special educational needs and/or disabilities (SEND) which the local"
            " area partnership must address urgently. Information about the local area",
            Outcome.SIGNIFICANT_CONCERNS,
        ),
        (
            "Her Majesty's Chief Inspector (HMCI) has determined that a Written Statement of"
            " Action (WSOA) is required because of significant areas of weakness.",
            Outcome.WSOA_REQUIRED,
        ),
    ],
)
def test_full_inspections_in_both_frameworks_words(body: str, outcome: Outcome) -> None:
    extraction = extract(_report(body))
    assert extraction.outcome is outcome
    assert "outcome_unread" not in extraction.fields()


@pytest.mark.parametrize(
    ("body", "outcome", "addressed", "total"),
    [
        (
            "The area has made sufficient progress in addressing three of the five areas of"
            " significant weakness identified at the initial inspection. The area has not made"
            " sufficient progress in addressing two areas.",
            Outcome.PARTIAL_PROGRESS,
            3,
            5,
        ),
        (
            "The area has made sufficient progress in addressing 3 of the 5 areas of significant"
            " weakness.",
            Outcome.PARTIAL_PROGRESS,
            3,
            5,
        ),
        (
            "The area has made sufficient progress in addressing the three areas of significant"
            " weakness identified at the initial inspection.",
            Outcome.SUFFICIENT_PROGRESS,
            3,
            3,
        ),
        (
            "The area has not made sufficient progress in addressing any of the significant"
            " weaknesses identified at the initial inspection.",
            Outcome.INSUFFICIENT_PROGRESS,
            None,
            None,
        ),
        (
            "The local area partnership has taken effective action as it has taken reasonable"
            " steps to address all the areas for priority action identified at the initial"
            " inspection.",
            Outcome.SUFFICIENT_PROGRESS,
            None,
            None,
        ),
    ],
)
def test_revisits_and_monitoring_inspections_are_read_for_their_progress(
    body: str, outcome: Outcome, addressed: int | None, total: int | None
) -> None:
    # The letter quotes the inspection it follows: that outcome is not the revisit's.
    quoted = "The inspection found widespread and/or systemic failings. "
    extraction = extract(_report(quoted + body, Kind.MONITORING_INSPECTION))
    assert extraction.kind is Kind.MONITORING_INSPECTION
    assert extraction.outcome is outcome
    fields = extraction.fields()
    assert (fields.get("areas_addressed"), fields.get("areas_total")) == (addressed, total)


def test_a_result_no_rule_reads_is_unrecognised_with_its_sentence() -> None:
    body = (
        f"Inspection outcome {UNKNOWN_SENTENCE} The next full area SEND inspection will be"
        " within approximately three years. Information about the local area partnership"
    )
    extraction = extract(_report(body))
    assert extraction.outcome is Outcome.UNRECOGNISED
    assert extraction.fields()["outcome_unread"] == UNKNOWN_SENTENCE
    assert extraction.to_json()["outcome"] == "unrecognised"
    # A monitoring letter in words no rule knows: the same.
    monitoring = extract(
        _report(
            "The monitoring inspection concluded that the partnership's progress is mixed.",
            Kind.MONITORING_INSPECTION,
        )
    )
    assert monitoring.outcome is Outcome.UNRECOGNISED
    assert "progress is mixed" in monitoring.fields()["outcome_unread"]
    # News of an inspection may say nothing of its outcome: it has none, and is not alarmed.
    news = extract(_report("Inspectors visited Blackpool last week.", official=False))
    assert news.outcome is None


def _publish_unreadable_report(site: FixtureSite) -> str:
    """A newer Blackpool report whose outcome is worded as no rule knows."""
    url = "https://files.ofsted.gov.uk/v1/file/50399999"
    site.edit("ofsted/files/50399999.pdf").write_bytes(
        make_pdf(
            [
                "Area SEND inspection of Blackpool Local Area Partnership",
                "Inspection dates: 5 October 2026 to 9 October 2026",
                "Inspection outcome",
                UNKNOWN_SENTENCE,
                "Information about the local area partnership",
                "Blackpool Council and NHS Lancashire and South Cumbria Integrated Care Board"
                " are jointly responsible for the planning and commissioning of services.",
            ]
        )
    )
    page = site.edit("ofsted/provider-80431.html")
    html = page.read_text()
    newest = (
        '<ol class="timeline">\n      <li class="timeline__day">\n        <time>10 November'
        f' 2026</time>\n        <a class="publication-link" href="{url}" target="_blank">Area'
        ' SEND full inspection <span class="nonvisual">Area SEND full inspection, pdf - 10'
        " November 2026</span></a>\n      </li>"
    )
    page.write_text(html.replace('<ol class="timeline">', newest, 1))
    return url


def _run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_unrecognised_outcome_is_recorded_alarmed_once_shown_and_fails_check(
    tmp_path: Path, site: FixtureSite, env: dict[str, str]
) -> None:
    url = _publish_unreadable_report(site)
    code, counts = crawl("ofsted", env, tmp_path)
    assert code == 0 and counts["result"] == "ok" and counts["new"] == "6"

    store = _store(tmp_path)
    with store.sessions() as session:
        finding = session.scalars(select(Finding).where(Finding.url == url)).one()
        assert (finding.kind, finding.la_code, finding.outcome) == (
            "inspection_report",
            BLACKPOOL,
            "unrecognised",
        )
        assert finding.fields["outcome_unread"] == UNKNOWN_SENTENCE
        assert finding.event.outcome == "unrecognised"
        # The revisit's result, counted.
        revisit = session.scalars(
            select(Finding).where(Finding.kind == "monitoring_inspection")
        ).one()
        assert revisit.outcome == "partial_progress"
        assert (revisit.fields["areas_addressed"], revisit.fields["areas_total"]) == (3, 5)
    alarms = store.open_alarms()
    assert [(a.source, a.kind) for a in alarms] == [
        ("ofsted:outcome", f"unread:{finding.event_id}")
    ]
    assert url in alarms[0].message and UNKNOWN_SENTENCE[:60] in alarms[0].message

    # Told once: a second poll (nothing new) opens no other alarm and keeps this one.
    assert crawl("ofsted", env, tmp_path)[0] == 0
    assert [a.id for a in store.open_alarms()] == [alarms[0].id]
    status = _run(env, tmp_path, "status").stdout
    assert "could not be read" in status and url in status

    # `sendwatch check` fails on it, naming the report and the sentence.
    check = _run(env, tmp_path, "check", "ofsted", "--json")
    assert check.returncode == 1, check.stdout + check.stderr
    rows = json.loads(check.stdout)["sources"][0]["checks"]
    failing = [row for row in rows if row["name"] == "recorded outcomes"]
    assert len(failing) == 1 and not failing[0]["ok"]
    assert "1 recorded report with an outcome not read" in failing[0]["detail"]
    assert failing[0]["url"] == url

    # Shown as such: never blank, never a guess; and the revisit's result beside Wirral's
    # inspection, on its page, in the API and from the command line.
    database = f"sqlite:///{tmp_path / 'data' / 'sendwatch.db'}"
    with served(tmp_path, database) as base:
        blackpool = httpx.get(f"{base}/la/blackpool").text
        assert "Outcome not read: see the report" in blackpool
        wirral = httpx.get(f"{base}/la/wirral").text
        print(wirral)
        assert (
            "revisit published 7 March 2023: sufficient progress in addressing 3 of the 5 areas"
            " (2 left)"
        ) in wirral
        las = {la["ons_code"]: la for la in httpx.get(f"{base}/api/las").json()}
    assert las[BLACKPOOL]["latest_inspection"]["outcome"] == "unrecognised"
    assert las[WIRRAL]["latest_inspection"]["follow_up"] == {
        "kind": "revisit",
        "date": "2023-03-07",
        "outcome": "partial_progress",
        "areas_addressed": 3,
        "areas_total": 5,
        "areas_left": 2,
    }
    assert las[WIRRAL]["case_closed"] is False
    status_la = _run(env, tmp_path, "status", "--la", "Wirral").stdout
    assert "Since then: revisit published 7 March 2023" in status_la
    store.close()


def test_what_followed_the_inspection_in_messages_and_feeds(tmp_path: Path, store: Store) -> None:
    """The revisit's alert says its result; the inspection's entry says what followed it."""
    store.record(
        notice(
            WIRRAL,
            "file-50150001",
            source="ofsted",
            url="https://files.ofsted.gov.uk/v1/file/50150001",
            title="Wirral: Joint local area SEND inspection",
            kind=Kind.INSPECTION_REPORT,
            happened_on=dt.date(2021, 12, 14),
            published_on=dt.date(2021, 12, 14),
            outcome=Outcome.WSOA_REQUIRED,
            fields={},
            authoritative=True,
        )
    )
    store.record(
        notice(
            WIRRAL,
            "file-50210002",
            source="ofsted",
            url="https://files.ofsted.gov.uk/v1/file/50210002",
            title="Wirral: Local area SEND revisit",
            kind=Kind.MONITORING_INSPECTION,
            happened_on=dt.date(2023, 3, 7),
            published_on=dt.date(2023, 3, 7),
            outcome=Outcome.PARTIAL_PROGRESS,
            fields={
                "areas_addressed": 3,
                "areas_total": 5,
                "report_label": "Local area SEND revisit",
            },
            authoritative=True,
        )
    )
    events = select_events(store, EventFilter(la_code=WIRRAL))
    facts = event_facts(store, events)
    by_kind = {event.kind: summarise(event, facts[event.id]) for event in events}
    revisit = by_kind[Kind.MONITORING_INSPECTION]
    result = "sufficient progress in addressing 3 of the 5 areas (2 left)"
    assert f"Result: {result}" in render_email(revisit, "https://x.example/u").text
    assert result in render_telegram(revisit)
    inspection = by_kind[Kind.INSPECTION_REPORT]
    assert f"Since then: revisit published 7 March 2023: {result}" in render_telegram(inspection)

    settings = Settings.model_validate({"data_dir": str(tmp_path / "data")})
    spec = spec_for("la", "wirral")
    assert spec is not None
    feed = feedparser.parse(render_feed(settings, store, spec, "atom", "https://sendwatch.test"))
    texts = " ".join(entry.summary for entry in feed.entries)
    assert f"Result: {result}" in texts and "Since then: revisit published 7 March 2023" in texts


def test_a_report_an_older_version_could_not_read_is_read_again_once(
    tmp_path: Path, site: FixtureSite, env: dict[str, str]
) -> None:
    """After an upgrade whose rules differ, an unread report is fetched and read again, once."""
    url = _publish_unreadable_report(site)
    assert crawl("ofsted", env, tmp_path)[0] == 0
    store = _store(tmp_path)

    def fetched() -> int:
        return sum(1 for seen in site.requests if seen.path == "/v1/file/50399999")

    assert fetched() == 1
    assert crawl("ofsted", env, tmp_path)[0] == 0
    assert fetched() == 1  # these rules read it already: not again
    with store.sessions() as session:  # as an older sendwatch recorded it
        finding = session.scalars(select(Finding).where(Finding.url == url)).one()
        assert finding.fields["outcome_rules"] == OUTCOME_RULES
        finding.fields = {**finding.fields, "outcome_rules": "0123456789ab"}
        finding.content_hash = "recorded by an older version"
        session.commit()
    assert crawl("ofsted", env, tmp_path)[0] == 0
    assert fetched() == 2  # read again by these rules (still unread: the alarm stays)
    with store.sessions() as session:
        finding = session.scalars(select(Finding).where(Finding.url == url)).one()
        assert finding.fields["outcome_rules"] == OUTCOME_RULES
    assert len(store.open_alarms()) == 1
    assert crawl("ofsted", env, tmp_path)[0] == 0
    assert fetched() == 2
    store.close()
