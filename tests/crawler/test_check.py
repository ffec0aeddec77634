"""`sendwatch check`: the live self-test, against the fixture hosts, healthy and broken."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest

from app.demo.site import HOSTS, OFSTED_FILES, OFSTED_REPORTS, FixtureSite
from tests.paths import COMMAND

MODERNGOV_COUNCILS = ("E09000002", "E10000034", "E09000003")


@pytest.fixture
def env(tmp_path: Path, site: FixtureSite) -> dict[str, str]:
    variables = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    return variables | {
        "SENDWATCH_DATA_DIR": str(tmp_path / "data"),
        "SENDWATCH_CRAWLER_DOWNLOAD_DELAY": "0",
        "SENDWATCH_CRAWLER_HOST_MAP": site.host_map,
        # The councils whose meeting-papers sites the fixture hosts serve.
        "SENDWATCH_SOURCES_MODERNGOV_COUNCILS": ",".join(MODERNGOV_COUNCILS),
    }


def check(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, "check", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_healthy_sources_pass_and_nothing_is_stored(
    tmp_path: Path, site: FixtureSite, env: dict[str, str]
) -> None:
    result = check(env, tmp_path, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    rows = {s["source"]: {c["name"]: c for c in s["checks"]} for s in report["sources"]}
    assert list(rows) == ["govuk", "ofsted", "lgl", "moderngov", "statistics", "ombudsman"]
    assert list(rows["govuk"]) == ["search", "collection", "notices and directions", "notice read"]
    assert rows["govuk"]["collection"]["detail"] == (
        "/government/collections/improvement-notices-and-directions-childrens-services"
    )
    assert rows["govuk"]["notices and directions"]["detail"] == (
        "closed directions 1, closed notices 2, open directions 1, open notices 2"
    )
    assert list(rows["ofsted"]) == ["search", "provider pages", "report PDF read"]
    assert rows["ofsted"]["search"]["detail"] == "4 local authorities listed"
    assert rows["ofsted"]["report PDF read"]["url"].startswith(
        "https://files.ofsted.gov.uk/v1/file/"
    )
    assert list(rows["lgl"]) == ["feed", "relevant entries", "article read"]
    assert rows["moderngov"]["councils"]["detail"] == "3 reachable"
    assert list(rows["statistics"]) == [
        "search",
        "collection",
        "releases",
        "spreadsheet read",
        "councils",
        "row read",
    ]
    assert rows["statistics"]["spreadsheet read"]["detail"] == (
        "sheet 'All_ASEND_Jan_2023_to_Dec_2024' (2023 framework), header on row 5, 4 rows"
    )
    assert rows["statistics"]["spreadsheet read"]["url"].startswith(
        "https://assets.publishing.service.gov.uk/media/"
    )
    assert rows["statistics"]["councils"]["detail"] == "4 of 4 rows placed with a council"
    assert list(rows["ombudsman"]) == ["category listing", "decision page", "decision read"]
    assert rows["ombudsman"]["category listing"]["detail"] == "5 decision statements"
    assert rows["ombudsman"]["decision read"]["detail"] == (
        "Trafford Council (24 019 137): kind ombudsman_decision, council Trafford, date 2025-09-30"
    )
    assert all(c["ok"] for source in rows.values() for c in source.values())
    # One document of each kind was read, no more; and the store was never created.
    pdfs = [s for s in site.requests if s.path.startswith("/v1/file/")]
    assert len(pdfs) == 1
    assert len([s for s in site.requests if s.path.endswith(".ods")]) == 1
    assert not (tmp_path / "data" / "sendwatch.db").exists()

    table = check(env, tmp_path, "ofsted")
    assert table.returncode == 0
    assert table.stdout.splitlines()[0] == "ofsted: ok"


def test_a_broken_step_is_a_failing_row_with_its_url(
    tmp_path: Path, site: FixtureSite, env: dict[str, str]
) -> None:
    # Report PDFs asked of the reports host: 404, as on the real site.
    env["SENDWATCH_CRAWLER_HOST_MAP"] = site.host_map.replace(
        site.urls[OFSTED_FILES], site.urls[OFSTED_REPORTS]
    )
    result = check(env, tmp_path, "ofsted", "govuk")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert "govuk: ok" in lines
    assert "ofsted: FAILING" in lines
    failing = [line for line in lines if line.startswith("  FAIL")]
    assert any("report PDF read" in line and "none was read" in line for line in failing)
    assert any(
        "1 of 1 report PDFs failed (404), e.g. https://files.ofsted.gov.uk/v1/file/" in line
        for line in failing
    )


def test_offline_each_source_is_one_line(tmp_path: Path, env: dict[str, str]) -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{closed.getsockname()[1]}"
    env["SENDWATCH_CRAWLER_HOST_MAP"] = ",".join(f"{host}={nowhere}" for host in HOSTS)
    result = check(env, tmp_path)
    assert result.returncode == 1
    # Its search or its collection, whichever was refused first: both at www.gov.uk/api/.
    statistics_url = result.stdout.split("statistics: cannot reach ", 1)[1].split(" ", 1)[0]
    assert statistics_url.startswith("https://www.gov.uk/api/")
    assert result.stdout.splitlines() == [
        f"{source}: cannot reach {url} (connection refused)"
        for source, url in (
            ("govuk", result.stdout.split("cannot reach ", 1)[1].split(" ", 1)[0]),
            (
                "ofsted",
                "https://reports.ofsted.gov.uk/search?q=&location=&radius=&level_1_types=3&level_2_types%5B%5D=12&rows=100&start=0",
            ),
            ("lgl", "https://www.localgovernmentlawyer.co.uk/education-law/394-education-news"),
        )
    ] + [
        "moderngov: cannot reach https://lbbd.moderngov.co.uk/mgWebService.asmx/GetMeetings?"
        + result.stdout.split("GetMeetings?", 1)[1].split(" ", 1)[0]
        + " (connection refused), nor the other 2 councils' sites"
    ] + [
        f"statistics: cannot reach {statistics_url} (connection refused)",
        "ombudsman: cannot reach"
        " https://www.lgo.org.uk/decisions/education/special-educational-needs"
        " (connection refused)",
    ]


def test_a_full_report_read_without_its_outcome_is_failing() -> None:
    import datetime as dt

    from crawler.extract import Extraction
    from crawler.items import SourceItem
    from crawler.spiders.base import read_row
    from sendwatch.vocab import Kind, Outcome
    from storage.las import register

    bexley = register().get("E09000004")
    item = SourceItem("ofsted", "file-1", "https://files.ofsted.gov.uk/v1/file/1", "Bexley: report")

    def read(kind: Kind, outcome: Outcome | None) -> bool:
        extraction = Extraction(
            "Bexley", kind, bexley, dt.date(2024, 2, 23), dt.date(2024, 2, 23), outcome=outcome
        )
        return read_row("report PDF", [(item, extraction)], "outcome").ok

    assert read(Kind.INSPECTION_REPORT, Outcome.SIGNIFICANT_CONCERNS)
    assert not read(Kind.INSPECTION_REPORT, None)  # the PDF's text no longer parses
    assert not read(Kind.MONITORING_INSPECTION, None)  # monitoring reports state a result
    assert not read(Kind.INSPECTION_REPORT, Outcome.UNRECOGNISED)
    assert read(Kind.MONITORING_INSPECTION, Outcome.PARTIAL_PROGRESS)
