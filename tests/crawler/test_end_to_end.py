"""All three spiders, run as `sendwatch crawl SOURCE` processes, against the fixture site on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from app.demo.site import LGL, LGL_SECTION, LGO, LGO_SEND, FixtureSite, publish_sample_notice
from storage.models import Alarm, Event, Finding, SourceState
from storage.store import Store
from tests.paths import COMMAND
from tests.proxy import running_proxy

BEXLEY = "E09000004"
LGL_HOST = LGL


@pytest.fixture
def env(tmp_path: Path, site: FixtureSite) -> dict[str, str]:
    variables = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    variables.update(
        {
            "SENDWATCH_DATA_DIR": str(tmp_path / "data"),
            "SENDWATCH_CRAWLER_DOWNLOAD_DELAY": "0",
            "SENDWATCH_CRAWLER_RETRY_BACKOFF_SECONDS": "0.01",
            "SENDWATCH_CRAWLER_RETRIES": "1",
            "SENDWATCH_CRAWLER_TIMEOUT_SECONDS": "3",
            "SENDWATCH_CRAWLER_MAX_PAGE_MB": "1",
            "SENDWATCH_CRAWLER_CONTACT": "maintainer@example.org",
        }
    )
    variables["SENDWATCH_CRAWLER_HOST_MAP"] = site.host_map
    return variables


def crawl(source: str, env: dict[str, str], cwd: Path) -> tuple[int, dict[str, str]]:
    result = subprocess.run(
        [*COMMAND, "crawl", source], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )
    lines = result.stdout.strip().splitlines()
    assert lines, result.stderr
    counts = dict(pair.split("=", 1) for pair in lines[-1].split())
    return result.returncode, counts


def _store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'data' / 'sendwatch.db'}")


def _expected(found: int, new: int, result: str = "ok", errors: int = 0) -> dict[str, str]:
    return {
        "found": str(found),
        "new": str(new),
        "updated": "0",
        "seen": str(found - new),
        "errors": str(errors),
        "result": result,
    }


def _without_source(counts: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in counts.items() if k != "source"}


def test_first_run_records_everything_second_fetches_only_listings(
    tmp_path: Path, site: FixtureSite, env: dict[str, str]
) -> None:
    assert _without_source(crawl("govuk", env, tmp_path)[1]) == _expected(10, 10)
    assert _without_source(crawl("ofsted", env, tmp_path)[1]) == _expected(5, 5)
    assert _without_source(crawl("lgl", env, tmp_path)[1]) == _expected(2, 2)

    store = _store(tmp_path)
    with store.sessions() as session:
        findings = session.scalars(select(Finding).order_by(Finding.id)).all()
        assert len(findings) == 17
        kinds = sorted((f.source, f.kind, f.la_code or "") for f in findings)
        assert kinds == [
            ("govuk", "improvement_notice", "E06000010"),  # Hull's, replacing its direction
            ("govuk", "improvement_notice", "E06000026"),
            ("govuk", "improvement_notice", "E08000015"),
            ("govuk", "improvement_notice", BEXLEY),
            ("govuk", "improvement_notice", "E10000016"),
            ("govuk", "notice_lifted", "E06000010"),
            ("govuk", "notice_lifted", "E06000026"),
            ("govuk", "notice_lifted", "E10000016"),
            ("govuk", "statutory_direction", "E06000010"),
            ("govuk", "statutory_direction", "E06000058"),
            ("lgl", "improvement_notice", BEXLEY),
            ("lgl", "inspection_report", BEXLEY),
            ("ofsted", "inspection_report", "E06000009"),
            ("ofsted", "inspection_report", "E06000055"),
            ("ofsted", "inspection_report", "E08000015"),
            ("ofsted", "inspection_report", BEXLEY),
            ("ofsted", "monitoring_inspection", "E08000015"),
        ]
        # The same notice, reported by GOV.UK and by LGL: one event, two findings.
        notice = session.scalars(
            select(Event).where(Event.kind == "improvement_notice", Event.la_code == BEXLEY)
        ).one()
        assert [f.source for f in notice.findings] == ["govuk", "lgl"]
        assert notice.title == "Improvement notice issued to London Borough of Bexley: May 2024"
        # The same report, published by Ofsted and written up by LGL: one event, with its outcome.
        report = session.scalars(
            select(Event).where(Event.kind == "inspection_report", Event.la_code == BEXLEY)
        ).one()
        assert sorted(f.source for f in report.findings) == ["lgl", "ofsted"]
        assert report.outcome == "significant_concerns"
        lifted = session.scalars(
            select(Event).where(Event.kind == "notice_lifted").order_by(Event.la_code)
        ).all()
        # Kent's from its own change note; Plymouth's from the collection's, in the first run.
        assert [(e.la_code, str(e.happened_on)) for e in lifted] == [
            ("E06000010", "2024-02-01"),
            ("E06000026", "2025-09-30"),
            ("E10000016", "2024-08-06"),
        ]
        states = {s.source: s for s in session.scalars(select(SourceState))}
        assert {s: (st.consecutive_failures, st.items_seen > 0) for s, st in states.items()} == {
            "govuk": (0, True),
            "ofsted": (0, True),
            "lgl": (0, True),
        }
    store.close()

    before = len(site.requests)
    for source in ("govuk", "ofsted", "lgl"):
        code, counts = crawl(source, env, tmp_path)
        assert code == 0
        assert _without_source(counts) == _expected(0, 0)
    second = site.requests[before:]
    fetched = sorted({seen.path for seen in second if seen.path != "/robots.txt"})
    assert fetched == [
        "/api/content/government/collections/improvement-notices-and-directions-childrens-services",
        "/api/search.json",
        "/education-law/394-education-news",
        "/search",
    ]
    # Listings were revalidated with the validators the server gave, and cost a 304.
    revalidated = [s for s in second if s.path != "/robots.txt"]
    assert all("if-none-match" in s.headers for s in revalidated)
    assert all(s.status == 304 for s in revalidated)
    assert all(s.headers["user-agent"].startswith("sendwatch/") for s in second)
    assert all("maintainer@example.org" in s.headers["user-agent"] for s in second)


def test_a_newly_published_notice_is_exactly_one_new_event(
    tmp_path: Path, site: FixtureSite, env: dict[str, str]
) -> None:
    crawl("govuk", env, tmp_path)
    store = _store(tmp_path)
    with store.sessions() as session:
        events_before = len(session.scalars(select(Event)).all())

    publish_sample_notice(site)
    code, counts = crawl("govuk", env, tmp_path)

    assert code == 0
    assert _without_source(counts) == _expected(1, 1)
    with store.sessions() as session:
        events = session.scalars(select(Event).order_by(Event.id)).all()
        assert len(events) == events_before + 1
        newest = events[-1]
        assert (newest.kind, newest.la_code, str(newest.happened_on)) == (
            "improvement_notice",
            "E10000007",
            "2025-01-14",
        )
        # The first crawl was the baseline (history: alerts nobody); what came after is news.
        assert newest.alert_state == "pending"
        assert {event.alert_state for event in events[:-1]} == {"baseline"}
    store.close()


def test_broken_source_fails_alone_and_alarms_once(
    tmp_path: Path, site: FixtureSite, env: dict[str, str]
) -> None:
    site.fail("/api/search.json", 500)
    site.fail("/api/content/government/collections/improvement-notices-and-directions", 500)
    for _attempt in range(4):
        code, counts = crawl("govuk", env, tmp_path)
        assert code == 1
        assert counts["result"].startswith("failed")
    assert crawl("lgl", env, tmp_path)[0] == 0  # the other sources carry on

    store = _store(tmp_path)
    alarms = store.open_alarms()
    assert [(a.source, a.kind) for a in alarms] == [("govuk", "failing")]
    assert alarms[0].message.startswith("govuk: 3 failed runs in a row")
    status = subprocess.run(
        [*COMMAND, "status"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    ).stdout.splitlines()
    # govuk yes YYYY-MM-DD HH:MM UTC failed 4 0 0 - listing failed (500) at https://www.gov.uk/…
    row = status[1].split(maxsplit=10)
    assert (row[:2], row[4:10]) == (["govuk", "yes"], ["UTC", "failed", "4", "0", "0", "-"])
    assert row[10].startswith("listing failed (500) at https://www.gov.uk/api/")
    assert status[-1].startswith("alarm since ") and "govuk: 3 failed runs in a row" in status[-1]

    site.overrides.clear()
    assert crawl("govuk", env, tmp_path)[0] == 0
    assert store.open_alarms() == []
    with store.sessions() as session:
        resolved = session.scalars(select(Alarm)).one()
        assert resolved.resolved_at is not None
    store.close()


def test_bad_items_are_logged_counted_and_skipped(
    tmp_path: Path, site: FixtureSite, env: dict[str, str]
) -> None:
    blackpool, bedford = (site.edit(f"ofsted/files/{n}.pdf") for n in ("50251111", "50262222"))
    blackpool.write_bytes(b"<html>this is not a PDF</html>")
    bedford.write_bytes(b"%PDF-1.4\n" + b"\x00" * 2_000_000)  # over the 1 MB cap
    site.delays["/provider/44/80567"] = 5  # Wirral's page times out (3 s)
    site.edit("lgl/articles/57253.html").write_bytes(
        "<html><body><h1>Caf\xe9</h1>".encode("cp1252")
    )  # truncated, not UTF-8

    code, counts = crawl("ofsted", env, tmp_path)
    assert code == 0  # the listing was fine: failed items do not fail the source
    assert (counts["new"], counts["errors"]) == ("1", "3")
    code, counts = crawl("lgl", env, tmp_path)
    assert (counts["new"], counts["errors"]) == ("1", "1")

    store = _store(tmp_path)
    with store.sessions() as session:
        recorded = sorted(f.title for f in session.scalars(select(Finding)))
    assert recorded == [
        "Bexley: Area SEND full inspection",
        "Ofsted finds widespread failings in SEND services in London borough",
    ]
    # Nothing was marked as handled for the failed items: the next run tries them again.
    marks = store.marks("ofsted")
    assert "file-50251111" not in marks and "provider:80567" not in marks
    store.close()


def test_truncated_json_fails_the_listing(
    tmp_path: Path, site: FixtureSite, env: dict[str, str]
) -> None:
    search = site.edit("govuk/search-improvement-notice.json")
    search.write_text(search.read_text()[:200])
    code, counts = crawl("govuk", env, tmp_path)
    assert code == 1
    assert counts["errors"] == "1"


def _status_row(env: dict[str, str], cwd: Path, source: str) -> list[str]:
    """`sendwatch status`'s row for `source`: nine columns, then the reason (spaces and all)."""
    lines = subprocess.run(
        [*COMMAND, "status"], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    ).stdout.splitlines()
    return next(line.split(maxsplit=10) for line in lines if line.startswith(source + " "))


def test_report_pdfs_fetched_from_the_wrong_host_fail_the_run(
    tmp_path: Path, site: FixtureSite, env: dict[str, str]
) -> None:
    # The old bug: report PDFs asked of reports.ofsted.gov.uk, which answers 404 for /v1/file/.
    wrong = site.host_map.replace(
        site.urls["files.ofsted.gov.uk"], site.urls["reports.ofsted.gov.uk"]
    )
    env = env | {"SENDWATCH_CRAWLER_HOST_MAP": wrong}
    for _run in range(3):
        code, counts = crawl("ofsted", env, tmp_path)
        assert code == 1
        assert (counts["result"], counts["found"], counts["errors"]) == ("failed", "0", "5")
    pdfs = [s for s in site.requests if s.path.startswith("/v1/file/")]
    assert {(s.host, s.status) for s in pdfs} == {("reports.ofsted.gov.uk", 404)}

    row = _status_row(env, tmp_path, "ofsted")
    assert (row[5], row[6]) == ("failed", "3")
    assert row[10].startswith(
        "5 of 5 report PDFs failed (404), e.g. https://files.ofsted.gov.uk/v1/file/"
    )
    store = _store(tmp_path)
    (alarm,) = store.open_alarms()
    assert alarm.message.startswith(
        "ofsted: 3 failed runs in a row; last: failed: 5 of 5 report PDFs"
    )
    store.close()

    # Mapped right, the same reports are read: the run is ok and the alarm resolved.
    code, counts = crawl("ofsted", env | {"SENDWATCH_CRAWLER_HOST_MAP": site.host_map}, tmp_path)
    assert (code, counts["result"], counts["new"]) == (0, "ok", "5")


def test_a_firewall_is_blocked_not_failed(
    tmp_path: Path, site: FixtureSite, env: dict[str, str]
) -> None:
    site.fail("/search", 403)
    for _run in range(3):
        code, counts = crawl("ofsted", env, tmp_path)
        assert (code, counts["result"]) == (1, "blocked")
    row = _status_row(env, tmp_path, "ofsted")
    assert row[5] == "blocked"
    assert row[10].startswith("blocked: the listing answered 403")
    store = _store(tmp_path)
    (alarm,) = store.open_alarms()
    assert "last: blocked: " in alarm.message
    store.close()


def test_production_defaults_through_a_proxy(
    tmp_path: Path, site: FixtureSite, env: dict[str, str]
) -> None:
    """No host_map, no base_url: the real URLs, reached through https_proxy as on a server."""
    del env["SENDWATCH_CRAWLER_HOST_MAP"]
    env = {k: v for k, v in env.items() if "proxy" not in k.lower()}
    with running_proxy(site.urls) as proxy:
        env |= {"https_proxy": proxy.url, "http_proxy": proxy.url}
        first = {source: crawl(source, env, tmp_path) for source in ("govuk", "ofsted", "lgl")}
        assert {s: (code, counts["result"]) for s, (code, counts) in first.items()} == {
            "govuk": (0, "ok"),
            "ofsted": (0, "ok"),
            "lgl": (0, "ok"),
        }
        assert first["ofsted"][1]["new"] == "5"  # every report, from files.ofsted.gov.uk
        before = len(site.requests)
        for source in ("govuk", "ofsted", "lgl"):
            assert crawl(source, env, tmp_path)[1]["found"] == "0"
        tunnelled = {host for method, host, _port in proxy.seen if method == "CONNECT"}
    assert {"www.gov.uk", "reports.ofsted.gov.uk", "files.ofsted.gov.uk", LGL_HOST} <= tunnelled
    pdfs = {(s.host, s.status) for s in site.requests[:before] if s.path.startswith("/v1/file/")}
    assert pdfs == {("files.ofsted.gov.uk", 200)}
    # The second run fetched no detail document: no notice, report PDF or article.
    details = [
        s.path
        for s in site.requests[before:]
        if s.path.startswith(("/v1/file/", "/api/content/government/publications/"))
        or s.path.startswith(LGL_SECTION + "/")
    ]
    assert details == []
    store = _store(tmp_path)
    with store.sessions() as session:
        plymouth = session.scalars(
            select(Event).where(Event.kind == "notice_lifted", Event.la_code == "E06000026")
        ).one()
        assert str(plymouth.happened_on) == "2025-09-30"  # from the collection's note, first run
    store.close()


def test_council_papers_and_ofsted_statistics_through_a_proxy(
    tmp_path: Path, site: FixtureSite, env: dict[str, str]
) -> None:
    """The fourth and fifth sources with production defaults too: the register's ModernGov
    sites and the statistics' spreadsheets at assets.publishing.service.gov.uk, each reached
    at its real https URL through https_proxy; a second run fetches no meeting and no file."""
    del env["SENDWATCH_CRAWLER_HOST_MAP"]
    env = {k: v for k, v in env.items() if "proxy" not in k.lower()}
    env |= {
        # Only councils served here (the register names every council's real site).
        "SENDWATCH_SOURCES_MODERNGOV_COUNCILS": "E09000002,E10000034",
        "SENDWATCH_SOURCES_MODERNGOV_TODAY": "2026-03-16",
    }
    with running_proxy(site.urls) as proxy:
        env |= {"https_proxy": proxy.url, "http_proxy": proxy.url}
        first = {source: crawl(source, env, tmp_path) for source in ("moderngov", "statistics")}
        assert {s: (code, counts["result"]) for s, (code, counts) in first.items()} == {
            "moderngov": (0, "ok"),
            "statistics": (0, "ok"),
        }
        assert int(first["moderngov"][1]["new"]) > 0 and int(first["statistics"][1]["new"]) > 0
        before = len(site.requests)
        for source in ("moderngov", "statistics"):
            assert crawl(source, env, tmp_path)[1]["found"] == "0"
        tunnelled = {host for method, host, _port in proxy.seen if method == "CONNECT"}
    assert {
        "lbbd.moderngov.co.uk",
        "worcestershire.moderngov.co.uk",
        "www.gov.uk",
        "assets.publishing.service.gov.uk",
    } <= tunnelled
    again = [
        (s.host, s.path)
        for s in site.requests[before:]
        if s.path.endswith("/GetMeeting") or s.host == "assets.publishing.service.gov.uk"
    ]
    assert again == []


def test_cmis_councils_and_the_ombudsman_through_a_proxy(
    tmp_path: Path, site: FixtureSite, env: dict[str, str]
) -> None:
    """The CMIS council (Birmingham, at the address the register gives) and the Ombudsman
    (www.lgo.org.uk) with production defaults: their real https URLs through https_proxy; a
    second run fetches no meeting page and no decision page."""
    del env["SENDWATCH_CRAWLER_HOST_MAP"]
    env = {k: v for k, v in env.items() if "proxy" not in k.lower()}
    env |= {
        "SENDWATCH_SOURCES_MODERNGOV_COUNCILS": "E08000025",
        "SENDWATCH_SOURCES_MODERNGOV_TODAY": "2026-03-16",
        # The sample decisions are of 2025: reach them whatever today is.
        "SENDWATCH_SOURCES_OMBUDSMAN_BACKFILL_DAYS": "3650",
    }
    with running_proxy(site.urls) as proxy:
        env |= {"https_proxy": proxy.url, "http_proxy": proxy.url}
        first = {source: crawl(source, env, tmp_path) for source in ("moderngov", "ombudsman")}
        assert {s: (code, c["result"], c["new"]) for s, (code, c) in first.items()} == {
            "moderngov": (0, "ok", "1"),
            "ombudsman": (0, "ok", "6"),
        }
        before = len(site.requests)
        for source in ("moderngov", "ombudsman"):
            assert crawl(source, env, tmp_path)[1]["found"] == "0"
        tunnelled = {host for method, host, _port in proxy.seen if method == "CONNECT"}
    assert {"birmingham.cmis.uk.com", LGO} <= tunnelled
    again = [
        (s.host, s.path)
        for s in site.requests[before:]
        if "/ViewMeetingPublic/" in s.path or s.path.startswith(LGO_SEND + "/")
    ]
    assert again == []


def test_an_ombudsman_crawl_whose_decision_pages_all_fail_is_failed(
    tmp_path: Path, site: FixtureSite, env: dict[str, str]
) -> None:
    """Production defaults through the proxy; the one decision page the listing sends it to
    (Somerset's statement has no summary) answers 500: the run is failed, says which, and
    records nothing it could not read."""
    del env["SENDWATCH_CRAWLER_HOST_MAP"]
    env = {k: v for k, v in env.items() if "proxy" not in k.lower()}
    env["SENDWATCH_SOURCES_OMBUDSMAN_BACKFILL_DAYS"] = "3650"
    site.fail(f"{LGO_SEND}/24-015-493", 500, host=LGO)
    with running_proxy(site.urls) as proxy:
        env |= {"https_proxy": proxy.url, "http_proxy": proxy.url}
        code, counts = crawl("ombudsman", env, tmp_path)
    assert code == 1 and counts["result"].startswith("failed"), counts
    store = _store(tmp_path)
    with store.sessions() as session:
        identities = set(session.scalars(select(Finding.identity)))
        (state,) = session.scalars(select(SourceState)).all()
    assert "24 015 493" not in identities
    assert state.last_reason == (
        "1 of 1 decisions failed (500), e.g. https://www.lgo.org.uk/decisions/education/"
        "special-educational-needs/24-015-493"
    )
    store.close()


def test_crawl_json_prints_one_object_a_source_with_the_documented_fields(
    tmp_path: Path, site: FixtureSite, env: dict[str, str]
) -> None:
    import json

    site.fail("/search", 403)
    result = subprocess.run(
        [*COMMAND, "crawl", "--json", "govuk", "ofsted"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr  # ofsted was blocked
    govuk, ofsted = (json.loads(line) for line in result.stdout.splitlines())
    fields = ["source", "found", "new", "updated", "seen", "errors", "new_events"]
    fields += ["result", "reason", "alarms"]
    assert list(govuk) == list(ofsted) == fields
    assert govuk["source"] == "govuk" and govuk["result"] == "ok"
    assert govuk["found"] == govuk["new"] > 0 and govuk["alarms"] == []
    assert ofsted["source"] == "ofsted" and ofsted["result"] == "blocked"
    assert ofsted["reason"].startswith(
        "blocked: the listing answered 403 (a firewall?) at https://"
    )
    assert ofsted["found"] == 0 and ofsted["errors"] == 1
