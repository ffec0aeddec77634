"""`sendwatch crawl moderngov` against three councils' ModernGov sites served on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from app.demo.site import FixtureSite
from storage.models import Finding
from tests.crawler.test_end_to_end import _store, crawl, env  # noqa: F401  (the env fixture)
from tests.paths import COMMAND

LBBD, WOR, BARNET = (
    "lbbd.moderngov.co.uk",
    "worcestershire.moderngov.co.uk",
    "barnet.moderngov.co.uk",
)
SITES = f"E09000002=https://{LBBD},E10000034=https://{WOR},E09000003=https://{BARNET}"
SERVICE = "/mgWebService.asmx/"
BIRMINGHAM = "birmingham.cmis.uk.com"
CMIS_PAGES = "/birmingham/Meetings/tabid/70/ctl/"


@pytest.fixture
def moderngov_env(env: dict[str, str]) -> dict[str, str]:  # noqa: F811
    return env | {
        "SENDWATCH_SOURCES_MODERNGOV_ENABLED": "true",
        "SENDWATCH_SOURCES_MODERNGOV_SITES": SITES,
        # Only the councils served here: the register names every council's real site.
        # Birmingham publishes its papers with CMIS: its calendar, at its real address.
        "SENDWATCH_SOURCES_MODERNGOV_COUNCILS": "E09000002,E10000034,E09000003,E08000025",
        "SENDWATCH_SOURCES_MODERNGOV_TODAY": "2026-03-16",
    }


def _calls(site: FixtureSite, since: int) -> list[tuple[str, str, str]]:
    """(host, web-service operation, meeting id) of each request since `since` to a ModernGov
    site, robots.txt apart."""
    return sorted(
        (seen.host, seen.path.removeprefix(SERVICE), seen.query.get("lMeetingId", [""])[0])
        for seen in site.requests[since:]
        if seen.path != "/robots.txt" and seen.host != BIRMINGHAM
    )


def _cmis_calls(site: FixtureSite, since: int) -> list[str]:
    """The path (and query) of each request since `since` to Birmingham's CMIS site, robots.txt
    apart, in the order made."""
    return [
        seen.path.removeprefix(CMIS_PAGES)
        + "".join(f"?{key}={value[0]}" for key, value in sorted(seen.query.items())[:1])
        for seen in site.requests[since:]
        if seen.host == BIRMINGHAM and seen.path != "/robots.txt"
    ]


def test_council_papers_polled_then_nothing_new_then_minutes(
    tmp_path: Path, site: FixtureSite, moderngov_env: dict[str, str]
) -> None:
    site.fail(SERVICE + "GetMeetings", 403, host=BARNET)  # Barnet's firewall

    code, counts = crawl("moderngov", moderngov_env, tmp_path)
    assert code == 0, counts
    assert counts["result"] == "ok"  # one council blocked does not fail the run
    status = subprocess.run(
        [*COMMAND, "status"], env=moderngov_env, cwd=tmp_path, capture_output=True, text=True
    ).stdout.splitlines()
    row = next(line.split(maxsplit=10) for line in status if line.startswith("moderngov "))
    assert (row[5], row[10]) == (
        "ok",
        "4 councils: 3 ok, 1 blocked (Barnet)",
    )
    # One standing alarm names the councils behind a firewall; it is not the source failing.
    assert [line for line in status if line.startswith("alarm since ")] == [
        next(line for line in status if line.startswith("alarm since "))
    ]
    assert status[-1].endswith(
        "1 council answers 403 (a firewall), their meeting papers unread: Barnet"
    )
    assert (counts["found"], counts["new"], counts["errors"]) == ("4", "4", "0")
    assert _calls(site, 0) == [
        (BARNET, "GetMeetings", ""),
        (LBBD, "GetMeeting", "12001"),
        (LBBD, "GetMeeting", "12010"),
        (LBBD, "GetMeeting", "12011"),
        (LBBD, "GetMeeting", "12020"),
        (LBBD, "GetMeetings", ""),
        # Worcestershire lists 87 meetings since 2019, whatever dates it is asked for: only the
        # two in the window are read.
        (WOR, "GetMeeting", "5001"),
        (WOR, "GetMeeting", "5002"),
        (WOR, "GetMeetings", ""),
    ]
    store = _store(tmp_path)
    with store.sessions() as session:
        findings = session.scalars(select(Finding).order_by(Finding.identity)).all()
        assert [(f.identity, f.kind, f.la_code) for f in findings] == [
            ("E08000025:15001:czJKcaeAi5tUFL1DTL2UE4sOqCLHzE2A=ed3", "council_paper", "E08000025"),
            ("E09000002:12001:48203", "council_paper", "E09000002"),
            ("E09000002:12010:48251", "council_paper", "E09000002"),
            ("E10000034:5001:9102", "council_paper", "E10000034"),
        ]
        # The scrutiny minutes never name Barking and Dagenham: the site that published them does.
        feedback = findings[1]
        assert feedback.title == (
            "People and Resilience Select Committee, 4 March 2026: Area SEND Inspection - Feedback"
        )
        assert feedback.url == "https://lbbd.moderngov.co.uk/mgAi.aspx?ID=48203"
        assert str(feedback.published_on) == "2026-03-04"
        assert feedback.fields["committee"] == "People and Resilience Select Committee"
        assert "Cabinet agreed" not in findings[2].summary
    store.close()

    # The same day, nothing new: one request per council, and no meeting read again.
    before = len(site.requests)
    code, counts = crawl("moderngov", moderngov_env, tmp_path)
    assert code == 0
    assert (counts["found"], counts["new"], counts["result"]) == ("0", "0", "ok")
    assert _calls(site, before) == [
        (BARNET, "GetMeetings", ""),
        (LBBD, "GetMeetings", ""),
        (WOR, "GetMeetings", ""),
    ]
    # Birmingham's CMIS calendar: this month's page only (its meetings are known).
    assert _cmis_calls(site, before) == [
        "MeetingCalendarPublicNoJava/mid/397/Date/2026-03-01/Default.aspx"
    ]
    assert [
        s.status for s in site.requests[before:] if s.host == LBBD and s.path != "/robots.txt"
    ] == [304]

    # Three days on, Cabinet's minutes are out: the meeting is read again, its paper updated.
    meetings = "moderngov/barking-and-dagenham"
    minutes = site.file(f"{meetings}/GetMeeting-12010-minutes.xml")
    assert minutes is not None
    shutil.copyfile(minutes, site.edit(f"{meetings}/GetMeeting-12010.xml"))
    before = len(site.requests)
    later = moderngov_env | {"SENDWATCH_SOURCES_MODERNGOV_TODAY": "2026-03-19"}
    code, counts = crawl("moderngov", later, tmp_path)
    assert code == 0
    # (Birmingham's SEND paper too: its meeting's minutes are due, its page is read again.)
    assert (counts["found"], counts["new"], counts["updated"]) == ("2", "0", "1")
    assert _calls(site, before) == [
        (BARNET, "GetMeetings", ""),
        (LBBD, "GetMeeting", "12010"),  # its minutes were due
        (LBBD, "GetMeeting", "12020"),  # its agenda is due (six days ahead), looked for daily
        (LBBD, "GetMeetings", ""),
        (WOR, "GetMeetings", ""),
    ]
    store = _store(tmp_path)
    with store.sessions() as session:
        cabinet = session.scalars(
            select(Finding).where(Finding.identity == "E09000002:12010:48251")
        ).one()
        assert "Cabinet agreed the priority action plan" in cabinet.summary
    store.close()


def test_every_council_blocked_is_a_blocked_run(
    tmp_path: Path, site: FixtureSite, moderngov_env: dict[str, str]
) -> None:
    for host in (LBBD, WOR, BARNET):
        site.fail(SERVICE + "GetMeetings", 403, host=host)
    site.fail("/birmingham/Meetings.aspx", 403, host=BIRMINGHAM)
    code, counts = crawl("moderngov", moderngov_env, tmp_path)
    assert counts["result"] == "blocked"
    assert code != 0


def test_a_council_disallowing_the_web_service_is_not_polled(
    tmp_path: Path, site: FixtureSite, moderngov_env: dict[str, str]
) -> None:
    site.robots[WOR] = "User-agent: *\nDisallow: /mgWebService.asmx\n"
    code, counts = crawl("moderngov", moderngov_env, tmp_path)
    assert code == 0 and counts["result"] == "ok"
    assert not [s for s in site.requests if s.host == WOR and s.path != "/robots.txt"]
    assert counts["found"] == "3"


def test_check_reports_each_council(
    tmp_path: Path, site: FixtureSite, moderngov_env: dict[str, str]
) -> None:
    site.fail(SERVICE + "GetMeetings", 403, host=BARNET)
    result = subprocess.run(
        [*COMMAND, "check", "moderngov", "--json"],
        env=moderngov_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (source,) = json.loads(result.stdout)["sources"]
    rows = {row["name"]: (row["ok"], row["detail"]) for row in source["checks"]}
    assert rows["councils"] == (True, "1 blocked (403), 3 reachable")
    assert rows["Barnet"] == (True, "blocked (403)")
    assert rows["Barking and Dagenham"] == (True, "reachable")
    assert rows["Worcestershire"] == (True, "reachable")
    assert rows["Birmingham"] == (True, "reachable")
    assert set(rows) == {
        "councils",
        "Barnet",
        "Barking and Dagenham",
        "Worcestershire",
        "Birmingham",
    }
    assert not (tmp_path / "data" / "sendwatch.db").exists()
