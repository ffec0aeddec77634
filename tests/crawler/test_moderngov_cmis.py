"""`sendwatch crawl moderngov` against a council's CMIS site (Birmingham's, served on 127.0.0.1 as
its real host), built from what DemocracyClub/LGSF's CMIS minutes scraper and its fixtures show."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from app.demo.site import FixtureSite
from storage.models import Finding
from tests.crawler.test_end_to_end import _store, crawl, env  # noqa: F401  (the env fixture)
from tests.paths import COMMAND

BIRMINGHAM, CODE = "birmingham.cmis.uk.com", "E08000025"
SITE = f"https://{BIRMINGHAM}/birmingham"
MODULE = f"{SITE}/Meetings/tabid/70/ctl"
MONTH = "/birmingham/Meetings/tabid/70/ctl/MeetingCalendarPublicNoJava/mid/397/Date/{}/Default.aspx"


@pytest.fixture
def cmis_env(env: dict[str, str]) -> dict[str, str]:  # noqa: F811
    return env | {
        "SENDWATCH_SOURCES_MODERNGOV_ENABLED": "true",
        # Birmingham only, at the address the register gives (its meetings page).
        "SENDWATCH_SOURCES_MODERNGOV_COUNCILS": CODE,
        "SENDWATCH_SOURCES_MODERNGOV_TODAY": "2026-03-16",
    }


def _requests(site: FixtureSite, since: int = 0) -> list[str]:
    """Each request to Birmingham's site since `since`, robots.txt apart, in the order made."""
    return [
        seen.path + "".join(f"?{k}={v[0]}" for k, v in sorted(seen.query.items())[:1])
        for seen in site.requests[since:]
        if seen.host == BIRMINGHAM and seen.path != "/robots.txt"
    ]


def _meeting(meeting: str, committee: str) -> str:
    return (
        f"{MODULE}/ViewMeetingPublic/mid/397/Meeting/{meeting}/Committee/{committee}/Default.aspx"
    )


def test_a_cmis_council_s_send_paper_then_an_idle_poll(
    tmp_path: Path, site: FixtureSite, cmis_env: dict[str, str]
) -> None:
    code, counts = crawl("moderngov", cmis_env, tmp_path)
    assert code == 0, counts
    assert (counts["result"], counts["found"], counts["new"], counts["errors"]) == (
        "ok",
        "1",
        "1",
        "0",
    )
    # The meetings page (a script's calendar, with the module's id), its list view (a meeting
    # link: the tabid), the window's four months, then each meeting in the window once: the
    # Cabinet of 10 February is before the window (16 March - 30 days), never read.
    requests = _requests(site)
    assert requests[:2] == [
        "/birmingham/Meetings.aspx",
        "/birmingham/Meetings.aspx?ctl=MeetingCalendarListView",
    ]
    assert sorted(requests[2:6]) == [
        MONTH.format(month) for month in ("2026-02-01", "2026-03-01", "2026-04-01", "2026-05-01")
    ]
    assert sorted(requests[6:]) == sorted(
        _meeting(meeting, committee).removeprefix(f"https://{BIRMINGHAM}")
        for meeting, committee in (("14962", "6"), ("14990", "4"), ("15001", "12"), ("15010", "2"))
    )
    store = _store(tmp_path)
    with store.sessions() as session:
        (paper,) = session.scalars(select(Finding)).all()
        # The scrutiny committee's inspection letter; nothing of the planning meeting (its
        # special school's planning application is not the SEND case), nor the SEND strategy.
        assert (paper.identity, paper.kind, paper.la_code) == (
            f"{CODE}:15001:czJKcaeAi5tUFL1DTL2UE4sOqCLHzE2A=ed3",
            "council_paper",
            CODE,
        )
        title = "Area SEND Inspection: Ofsted and CQC Outcome Letter and the Priority Action Plan"
        assert paper.title == (
            "Education, Children and Young People Overview and Scrutiny Committee,"
            f" 10 March 2026: {title}"
        )
        document = f"{SITE}/Document.ashx?czJKcaeAi5tUFL1DTL2UE4sOqCLHzE2A=ed3"
        assert paper.url == document
        assert str(paper.published_on) == "2026-03-10"
        assert paper.fields == {
            "committee": "Education, Children and Young People Overview and Scrutiny Committee",
            "meeting_date": "2026-03-10",
            "item_title": title,
            "item_url": document,
            "meeting_url": _meeting("15001", "12"),
            "documents": [{"title": title, "url": document}],
            "ons_code": CODE,
        }
    store.close()

    # The same day, nothing new: the calendar's month, nothing more (at most 2 a council).
    before = len(site.requests)
    code, counts = crawl("moderngov", cmis_env, tmp_path)
    assert code == 0
    assert (counts["found"], counts["new"], counts["result"]) == ("0", "0", "ok")
    assert _requests(site, before) == [MONTH.format("2026-03-01")]

    # Three days on: still this month's page, and the meetings held whose minutes are due,
    # read again from their marks (not listed again); the licensing meeting of 16 February
    # has left the window (19 March - 30 days).
    before = len(site.requests)
    later = cmis_env | {"SENDWATCH_SOURCES_MODERNGOV_TODAY": "2026-03-19"}
    code, counts = crawl("moderngov", later, tmp_path)
    assert code == 0
    assert (counts["found"], counts["new"], counts["result"]) == ("1", "0", "ok")
    assert _requests(site, before)[0] == MONTH.format("2026-03-01")
    assert sorted(_requests(site, before)[1:]) == sorted(
        _meeting(meeting, committee).removeprefix(f"https://{BIRMINGHAM}")
        for meeting, committee in (("14990", "4"), ("15001", "12"))
    )


def test_a_cmis_council_answering_403_is_blocked(
    tmp_path: Path, site: FixtureSite, cmis_env: dict[str, str]
) -> None:
    site.fail("/birmingham/Meetings.aspx", 403, host=BIRMINGHAM)
    code, counts = crawl("moderngov", cmis_env, tmp_path)
    assert counts["result"] == "blocked" and code != 0
    assert _requests(site) == ["/birmingham/Meetings.aspx"]


def test_a_cmis_council_disallowing_its_pages_is_not_polled(
    tmp_path: Path, site: FixtureSite, cmis_env: dict[str, str]
) -> None:
    site.robots[BIRMINGHAM] = "User-agent: *\nDisallow: /birmingham/\n"
    code, counts = crawl("moderngov", cmis_env, tmp_path)
    assert code == 0 and counts["found"] == "0"
    assert _requests(site) == []


def test_check_says_a_page_that_is_no_cmis_calendar(
    tmp_path: Path, site: FixtureSite, cmis_env: dict[str, str]
) -> None:
    """A month answered with some other page: the council failed, saying what was missing."""
    site.fail(MONTH.format("2026-03-01"), 200, host=BIRMINGHAM)
    result = subprocess.run(
        [*COMMAND, "check", "moderngov", "--json"],
        env=cmis_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    (source,) = json.loads(result.stdout)["sources"]
    rows = {row["name"]: (row["ok"], row["detail"]) for row in source["checks"]}
    assert rows["Birmingham"] == (
        False,
        "not the answer of a ModernGov web service or a CMIS calendar: not a CMIS month calendar",
    )
