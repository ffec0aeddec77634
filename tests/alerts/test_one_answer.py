"""One council, one answer: a world of councils in every shape a SEND case takes (tests/world.py)
is crawled, and for each council every surface gives the same answers as the others and as the
world says: what is in force and since when, its deadline and whether that has passed (or when
the last one was lifted), the latest inspection's outcome, and the next inspection due, which
one, and whether it is overdue.

The surfaces: the council's page, `/api/las`, `/api/events`, JSON and CSV export, its feed, its
calendar, the email alerts, the bot's `/status <council>` and `sendwatch status --la` (text and
JSON). One table-driven test: each surface is a reader (below) that says what it can of a
council; a reader that says nothing of something is not asked it, and a reader that disagrees
with the world is a failure naming the surface, the council and the answer.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import feedparser
import httpx
import icalendar
import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner

from app.cli import cli
from app.demo.site import FixtureSite, serve
from storage.las import LocalAuthority, register
from tests.alerts.conftest import Mailbox
from tests.alerts.telegram_standin import TelegramStandIn, bot_process, running
from tests.paths import COMMAND, served
from tests.world import (
    MODERNGOV_TODAY,
    WORCESTERSHIRE,
    WORCESTERSHIRE_SITE,
    Expected,
    World,
    world,
    write_empty_world,
    write_world,
)

Answers = dict[str, Any]
KINDS = {"Improvement notice": "improvement_notice", "Statutory direction": "statutory_direction"}
OUTCOMES = {
    "Positive experiences and outcomes": "positive",
    "Inconsistent experiences and outcomes": "inconsistent",
    "Widespread and/or systemic failings leading to significant concerns": "significant_concerns",
    "A Written Statement of Action is required": "wsoa_required",
    "No Written Statement of Action required": "no_wsoa",
}
NOTICE_KINDS = ("improvement_notice", "statutory_direction")
INSPECTION_KINDS = ("inspection_report", "wsoa")
DATE = r"(\d{1,2} \w+ \d{4})"


def _day(words: str) -> dt.date:
    return dt.datetime.strptime(words, "%d %B %Y").date()


def _iso(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


# -- the words every case is told in (the page, the bot, the CLI) ------------------------------


def read_case_words(lines: list[str]) -> Answers:
    """The three lines of a council's case ("Notice or direction: …") as answers."""
    said = dict(line.split(": ", 1) for line in lines if ": " in line)
    answers: Answers = {}
    inspection = said["Latest area SEND inspection"]
    if inspection == "none recorded":
        answers |= {"outcome": None, "inspected_on": None}
    else:
        label, published = re.fullmatch(
            rf"(.+?)(?: \(.*\))?, published {DATE}", inspection
        ).groups()  # type: ignore[union-attr]
        answers |= {"outcome": OUTCOMES[label], "inspected_on": _day(published)}
    notice = said["Notice or direction"]
    answers |= {"in_force": None, "since": None, "lifted_on": None}
    if found := re.fullmatch(
        rf"(.+) in force since {DATE}(?:; deadline (passed )?{DATE})?", notice
    ):
        kind, since, passed, deadline = found.groups()
        answers |= {"in_force": KINDS[kind], "since": _day(since)}
        answers |= {
            "deadline": _day(deadline) if deadline else None,
            "deadline_passed": bool(passed),
        }
    elif found := re.fullmatch(rf".+ (?:lifted|revoked) on {DATE}", notice):
        answers["lifted_on"] = _day(found[1])
    else:
        assert notice == "none recorded", notice
    due = said["Next area SEND inspection"]
    if due == "not known":
        answers |= {"next_due": None, "next_kind": None, "overdue": False}
    else:
        found = re.match(rf"a (monitoring|full) inspection due by {DATE}( \(overdue\))?", due)
        assert found, due
        answers |= {"next_kind": found[1], "next_due": _day(found[2]), "overdue": bool(found[3])}
    return answers


def read_case_json(record: dict[str, Any]) -> Answers:
    """A council as `/api/las` and `sendwatch status --la --json` have it."""
    notice, inspection = record["notice"], record["latest_inspection"]
    in_force = record["notice_in_force"]
    answers: Answers = {
        "in_force": notice["kind"] if in_force else None,
        "since": _iso(notice["issued_on"]) if in_force else None,
        "lifted_on": _iso(notice["lifted_on"]) if notice else None,
        "outcome": inspection["outcome"] if inspection else None,
        "inspected_on": _iso(inspection["date"]) if inspection else None,
        "next_due": _iso(record["next_inspection_due"]),
        "next_kind": record["next_inspection_kind"],
        "overdue": record["overdue"],
    }
    if in_force:
        answers |= {
            "deadline": _iso(notice["deadline"]),
            "deadline_passed": notice["deadline_passed"],
        }
    return answers


# -- the words every event is told in (feeds, email) -------------------------------------------


@dataclass(frozen=True)
class Told:
    """One event as a feed entry or an email tells it: its kind and the lines of its facts."""

    kind: str
    facts: dict[str, str]


def read_events_told(events: list[Told]) -> Answers:
    """What a council's events, as told, say of its case: the notice whose status is "in force"
    (its deadline), the last lifting, and the latest inspection's outcome and what is due."""
    answers: Answers = {"in_force": None, "since": None}
    in_force = [e for e in events if e.kind in NOTICE_KINDS and e.facts.get("Status") == "in force"]
    for event in in_force:
        answers |= {"in_force": event.kind, "since": _day(event.facts["When"])}
        deadline = event.facts.get("Deadline")
        answers["deadline"] = _day(deadline.removeprefix("passed ")) if deadline else None
        answers["deadline_passed"] = bool(deadline and deadline.startswith("passed "))
    lifted = [
        _day(found[1])
        for event in events
        if (found := re.fullmatch(rf"(?:lifted|revoked) on {DATE}", event.facts.get("Status", "")))
    ]
    if lifted and not in_force:
        answers["lifted_on"] = max(lifted)
    inspections = [e for e in events if e.kind in INSPECTION_KINDS and "Outcome" in e.facts]
    if inspections:
        latest = max(inspections, key=lambda e: _day(e.facts["When"]))
        label = latest.facts["Outcome"].split(" (")[0]
        answers |= {"outcome": OUTCOMES[label], "inspected_on": _day(latest.facts["When"])}
        due = re.match(
            rf"a (monitoring|full) inspection due by {DATE}( \(overdue\))?",
            latest.facts.get("Next inspection", ""),
        )
        if due:
            answers |= {"next_kind": due[1], "next_due": _day(due[2]), "overdue": bool(due[3])}
    return answers


def _facts(lines: list[str]) -> dict[str, str]:
    labels = ("When", "Outcome", "Status", "Deadline", "Next inspection")
    return {
        label: value
        for label, _, value in (line.partition(": ") for line in lines)
        if label in labels
    }


# -- event records (API, export) ---------------------------------------------------------------


def read_records(records: list[dict[str, Any]]) -> Answers:
    """What a council's event records say: each notice's deadline and whether it passed, and
    the latest inspection's outcome and what is due after it. (Records do not say what is in
    force: that is checked on the notice the world says is.)"""
    answers: Answers = {"notices": {}}
    for record in records:
        if record["kind"] in NOTICE_KINDS:
            key = (record["kind"], _iso(record["happened_on"]))
            answers["notices"][key] = (_iso(record["deadline"]), _flag(record["deadline_passed"]))
    inspections = [r for r in records if r["kind"] in INSPECTION_KINDS and r["outcome"]]
    if inspections:
        latest = max(inspections, key=lambda r: r["happened_on"])
        answers |= {
            "outcome": latest["outcome"],
            "inspected_on": _iso(latest["happened_on"]),
            "next_due": _iso(latest["next_inspection_due"] or None),
            "overdue": _flag(latest["overdue"]),
        }
    return answers


def _flag(value: Any) -> bool:
    return value in (True, "true")


# -- the world, crawled, alerted and served once -----------------------------------------------


@dataclass
class Surfaces:
    """Everything each surface said, gathered once."""

    shapes: World
    base: str
    pages: dict[str, list[str]]
    api_las: dict[str, dict[str, Any]]
    api_events: list[dict[str, Any]]
    export_json: list[dict[str, Any]]
    export_csv: list[dict[str, Any]]
    feeds: dict[str, list[Told]]
    calendars: dict[str, icalendar.Calendar]
    emails: list[tuple[str, Told]]
    bot: dict[str, str]
    cli_text: dict[str, list[str]]
    cli_json: dict[str, dict[str, Any]]


def _env(tmp_path: Path, database_url: str, site: FixtureSite, smtp_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    return env | {
        "SENDWATCH_DATABASE_URL": database_url,
        "SENDWATCH_DATA_DIR": str(tmp_path / "data"),
        "SENDWATCH_CRAWLER_HOST_MAP": site.host_map,
        "SENDWATCH_CRAWLER_DOWNLOAD_DELAY": "0",
        "SENDWATCH_CRAWLER_CONTACT": "maintainer@example.org",
        "SENDWATCH_SOURCES_MODERNGOV_SITES": WORCESTERSHIRE_SITE,
        "SENDWATCH_SOURCES_MODERNGOV_COUNCILS": WORCESTERSHIRE,
        "SENDWATCH_SOURCES_MODERNGOV_TODAY": MODERNGOV_TODAY,
        "SENDWATCH_SMTP_HOST": "127.0.0.1",
        "SENDWATCH_SMTP_PORT": str(smtp_port),
        "SENDWATCH_SMTP_SECURITY": "none",
        "SENDWATCH_SMTP_FROM_ADDRESS": "alerts@sendwatch.test",
        # The world's happenings are months old: alert them all the same.
        "SENDWATCH_ALERTS_MAX_AGE_DAYS": "100000",
    }


def _run(env: dict[str, str], cwd: Path, *args: str) -> str:
    result = subprocess.run(
        [*COMMAND, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout


def _bot_replies(
    tmp_path: Path, env: dict[str, str], councils: list[LocalAuthority]
) -> dict[str, str]:
    """Each council's `/status <council>` reply, from the bot running against a Bot API stand-in."""
    with running() as standin, bot_process(standin, env, tmp_path, tmp_path / "bot.log"):
        return _ask_bot(standin, councils)


def _ask_bot(standin: TelegramStandIn, councils: list[LocalAuthority]) -> dict[str, str]:
    chats = {la.ons_code: 7000 + index for index, la in enumerate(councils)}
    for la in councils:
        standin.say(chats[la.ons_code], f"/status {la.name}")
    return {code: standin.wait_for(chat, 1, timeout=60)[0] for code, chat in chats.items()}


@pytest.fixture(scope="module")
def surfaces(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Surfaces]:
    tmp_path = tmp_path_factory.mktemp("one-answer")
    database_url = request.getfixturevalue("module_database_url")
    mailbox: Mailbox = request.getfixturevalue("module_mailbox")
    shapes = world()
    councils = [register().get(code) for code in shapes.expected]
    assert all(councils)
    root = tmp_path / "site"
    write_empty_world(root)
    with serve(FixtureSite(roots=(root,))) as site:
        env = _env(tmp_path, database_url, site, mailbox.port)
        # A first crawl finds nothing: the baseline. Everything crawled next is news, alerted.
        _run(env, tmp_path, "crawl", "govuk", "ofsted")
        write_world(root, shapes)
        _run(env, tmp_path, "subscribe", "email", "reader@example.org")
        _run(env, tmp_path, "crawl", "govuk", "ofsted", "moderngov")
    _run(env, tmp_path, "dispatch")
    gathered = _gather(tmp_path, env, database_url, mailbox, shapes, councils)  # type: ignore[arg-type]
    yield gathered


def _gather(
    tmp_path: Path,
    env: dict[str, str],
    database_url: str,
    mailbox: Mailbox,
    shapes: World,
    councils: list[LocalAuthority],
) -> Surfaces:
    runner = CliRunner()
    cli_text, cli_json = {}, {}
    for la in councils:
        text = runner.invoke(cli, ["status", "--la", la.ons_code], env=env)
        assert text.exit_code == 0, text.output
        cli_text[la.ons_code] = text.stdout.splitlines()[1:]
        as_json = runner.invoke(cli, ["status", "--la", la.name, "--json"], env=env)
        cli_json[la.ons_code] = json.loads(as_json.stdout)
    export_json = json.loads(_run(env, tmp_path, "export", "--format", "json"))
    export_csv = list(csv.DictReader(io.StringIO(_run(env, tmp_path, "export", "--format", "csv"))))
    bot = _bot_replies(tmp_path, env, councils)
    emails = [_told_by_email(message) for _, message in mailbox.messages]
    (tmp_path / "web").mkdir()
    with served(tmp_path / "web", database_url) as base:
        pages = {la.ons_code: _case_on_page(base, la) for la in councils}
        api_las = {la["ons_code"]: la for la in httpx.get(f"{base}/api/las").json()}
        api_events = httpx.get(f"{base}/api/events", params={"limit": 500}).json()["events"]
        feeds = {la.ons_code: _feed(base, la) for la in councils}
        calendars = {
            la.ons_code: icalendar.Calendar.from_ical(
                httpx.get(f"{base}/calendar/la/{la.slug}.ics").content
            )
            for la in councils
        }
    return Surfaces(
        shapes,
        base,
        pages,
        api_las,
        api_events,
        export_json,
        export_csv,
        feeds,
        calendars,
        emails,
        bot,
        cli_text,
        cli_json,
    )


def _case_on_page(base: str, la: LocalAuthority) -> list[str]:
    soup = BeautifulSoup(httpx.get(f"{base}/la/{la.slug}").text, "html.parser")
    case = soup.select_one("ul.case-now")
    assert case is not None, la.name
    return [" ".join(li.get_text(" ").split()) for li in case.select("li")]


def _feed(base: str, la: LocalAuthority) -> list[Told]:
    parsed = feedparser.parse(httpx.get(f"{base}/feeds/la/{la.slug}.atom").content)
    told = []
    for entry in parsed.entries:
        kind = next(t["term"] for t in entry.tags if not t["term"].startswith("E"))
        told.append(Told(kind, _facts(entry.summary.split(". "))))
    return told


KIND_OF_HEADLINE = {
    "Improvement notice issued": "improvement_notice",
    "Statutory direction issued": "statutory_direction",
    "Improvement notice lifted": "notice_lifted",
    "Statutory direction revoked": "notice_lifted",
    "Area SEND inspection report": "inspection_report",
    "Area SEND monitoring inspection": "monitoring_inspection",
    "Written Statement of Action": "wsoa",
}


def _told_by_email(message: EmailMessage) -> tuple[str, Told]:
    """(the council's name, the event) of one alert email."""
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    lines = [line.strip() for line in body.get_content().splitlines()]
    headline = next(
        line for line in lines if ": " in line and line.split(": ")[0] in KIND_OF_HEADLINE
    )
    label, council = headline.split(": ", 1)
    return council, Told(KIND_OF_HEADLINE[label], _facts(lines))


# -- the readers: one per surface --------------------------------------------------------------


def _records_of(
    records: list[dict[str, Any]], la: LocalAuthority, key: str
) -> list[dict[str, Any]]:
    return [
        r
        for r in records
        if (r.get(key) if key == "la_ons_code" else (r["local_authority"] or {}).get("ons_code"))
        == la.ons_code
    ]


def _calendar_answers(calendar: icalendar.Calendar) -> Answers:
    dues: dict[str, dt.date] = {}
    for entry in calendar.walk("VEVENT"):
        what = re.match(r"E\d{8}-(.+)-\d+@", str(entry["uid"]))
        assert what, entry["uid"]
        dues[what[1]] = entry.decoded("dtstart")
    answers: Answers = {}
    if "notice-deadline" in dues:
        answers["deadline"] = dues["notice-deadline"]
    inspections = {k: v for k, v in dues.items() if k != "notice-deadline"}
    if inspections:
        which = min(inspections, key=inspections.__getitem__)
        answers |= {"next_due": inspections[which], "next_kind": which.split("-")[0]}
    else:
        answers["next_due"] = None
    return answers


READERS: dict[str, Callable[[Surfaces, LocalAuthority], Answers]] = {
    "page": lambda s, la: read_case_words(s.pages[la.ons_code]),
    "/api/las": lambda s, la: read_case_json(s.api_las[la.ons_code]),
    "/api/events": lambda s, la: read_records(_records_of(s.api_events, la, "")),
    "export json": lambda s, la: read_records(_records_of(s.export_json, la, "")),
    "export csv": lambda s, la: read_records(
        [
            {
                "kind": r["kind"],
                "happened_on": r["happened_on"],
                "deadline": r["deadline"],
                "deadline_passed": r["deadline_passed"],
                "outcome": r["outcome"],
                "next_inspection_due": r["next_inspection_due"],
                "overdue": r["overdue"],
            }
            for r in _records_of(s.export_csv, la, "la_ons_code")
        ]
    ),
    "feed": lambda s, la: read_events_told(s.feeds[la.ons_code]),
    "calendar": lambda s, la: _calendar_answers(s.calendars[la.ons_code]),
    "email": lambda s, la: read_events_told([t for name, t in s.emails if name == la.name]),
    "bot /status": lambda s, la: read_case_words(
        html.unescape(s.bot[la.ons_code]).splitlines()[1:]
    ),
    "sendwatch status --la": lambda s, la: read_case_words(s.cli_text[la.ons_code]),
    "sendwatch status --la --json": lambda s, la: read_case_json(s.cli_json[la.ons_code]),
}


def _disagreements(said: Answers, expected: Expected) -> dict[str, tuple[Any, Any]]:
    """What a surface said that the world does not: answer -> (said, expected)."""
    truth = asdict(expected)
    if expected.in_force is None:  # a deadline is only ever shown for what is in force
        truth |= {"deadline": None, "deadline_passed": False}
    wrong = {}
    notices = said.pop("notices", None)
    if notices is not None and expected.in_force is not None:
        told = notices.get((expected.in_force, expected.since))
        if told != (expected.deadline, expected.deadline_passed):
            wrong["notice in force"] = (told, (expected.deadline, expected.deadline_passed))
    for key, value in said.items():
        if key == "next_kind" and value is None and truth[key] is None:
            continue
        if key in ("deadline", "deadline_passed") and expected.in_force is None:
            continue  # what a lifted notice's deadline was is not the case's
        if value != truth[key]:
            wrong[key] = (value, truth[key])
    return wrong


def test_every_surface_gives_each_council_the_same_answers(surfaces: Surfaces) -> None:
    failures = []
    for code, expected in surfaces.shapes.expected.items():
        la = register().get(code)
        assert la is not None
        for surface, read in READERS.items():
            wrong = _disagreements(read(surfaces, la), expected)
            if wrong:
                failures.append(f"{surface}, {la.name}: {wrong}")
    assert not failures, "\n".join(failures)


def test_every_council_was_told_of_on_the_surfaces_that_tell_events(surfaces: Surfaces) -> None:
    """The readers above said something: each council with a case has events in every feed,
    the export and the API, and an email (papers go only to those who follow the council)."""
    for code, expected in surfaces.shapes.expected.items():
        la = register().get(code)
        assert la is not None
        has_case = expected.in_force or expected.lifted_on or expected.outcome
        if not has_case:
            continue
        assert surfaces.feeds[code], la.name
        assert _records_of(surfaces.export_json, la, ""), la.name
        assert any(name == la.name for name, _ in surfaces.emails), la.name
