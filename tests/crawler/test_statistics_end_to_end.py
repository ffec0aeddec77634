"""The statistics source end to end: `sendwatch crawl` against the fixture hosts on 127.0.0.1
(GOV.UK's Search and Content APIs, spreadsheets at assets.publishing.service.gov.uk, reached
with their real URLs through `[crawler] host_map`), then `sendwatch reconcile`."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from app.demo.site import GOVUK_ASSETS, FixtureSite
from storage.models import Event, Finding, SourceState
from storage.store import Store
from tests.crawler.test_end_to_end import crawl
from tests.fixtures.statistics.make_ods import MI_2023_FILE, unknown_layout
from tests.paths import COMMAND

BEXLEY, BRISTOL, HULL, WIRRAL = "E09000004", "E06000023", "E06000010", "E08000015"
MI = (
    "/government/statistical-data-sets/"
    "area-send-inspections-and-outcomes-in-england-management-information-autumn-term-2024-to-2025"
)


@pytest.fixture
def env(tmp_path: Path, site: FixtureSite) -> dict[str, str]:
    variables = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    return variables | {
        "SENDWATCH_DATA_DIR": str(tmp_path / "data"),
        "SENDWATCH_CRAWLER_DOWNLOAD_DELAY": "0",
        "SENDWATCH_CRAWLER_RETRIES": "1",
        "SENDWATCH_CRAWLER_TIMEOUT_SECONDS": "3",
        "SENDWATCH_CRAWLER_HOST_MAP": site.host_map,
    }


def _store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'data' / 'sendwatch.db'}")


def reconcile(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, "reconcile", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_statistics_join_the_reports_and_reconcile_names_what_the_crawl_missed(
    tmp_path: Path, site: FixtureSite, env: dict[str, str]
) -> None:
    assert crawl("ofsted", env, tmp_path)[0] == 0
    code, counts = crawl("statistics", env, tmp_path)
    assert code == 0, counts
    assert (counts["new"], counts["errors"], counts["result"]) == ("7", "0", "ok")

    store = _store(tmp_path)
    with store.sessions() as session:
        # In both: one event, two sources, the report's own title.
        bexley = session.scalars(
            select(Event).where(Event.kind == "inspection_report", Event.la_code == BEXLEY)
        ).one()
        assert sorted(f.source for f in bexley.findings) == ["ofsted", "statistics"]
        assert bexley.outcome == "significant_concerns"
        # Only in Ofsted's data: recorded all the same, with its outcome.
        bristol = session.scalars(select(Event).where(Event.la_code == BRISTOL)).one()
        assert (bristol.kind, bristol.outcome, str(bristol.happened_on)) == (
            "inspection_report",
            "significant_concerns",
            "2024-05-17",
        )
        assert [f.source for f in bristol.findings] == ["statistics"]
        # A 2018 Written Statement of Action.
        hull = session.scalars(select(Event).where(Event.la_code == HULL)).one()
        assert (hull.kind, hull.outcome, str(hull.happened_on)) == (
            "wsoa",
            "wsoa_required",
            "2018-11-20",
        )
        # Wirral's revisit, its own finding (reconciled with Ofsted's revisit report below).
        revisit = session.scalars(
            select(Finding).where(Finding.source == "statistics", Finding.la_code == WIRRAL)
        ).all()
        assert sorted((f.kind, str(f.published_on)) for f in revisit) == [
            ("monitoring_inspection", "2023-03-07"),
            ("wsoa", "2021-12-14"),
        ]
    store.close()

    result = reconcile(env, tmp_path)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(
        "Bristol (E06000023) 2024-05-17: missing from the crawl: Ofsted's statistics:"
        " inspection report published 2024-05-17, significant_concerns;"
        " Ofsted's reports site: no such report found <https://www.gov.uk/government/"
    )
    assert lines[1].startswith(
        "Kingston upon Hull (E06000010) 2018-11-20: missing from the crawl: Ofsted's statistics:"
        " wsoa published 2018-11-20, wsoa_required"
    )
    as_json = json.loads(reconcile(env, tmp_path, "--json").stdout)
    assert [(d["kind"], d["local_authority"]["ons_code"]) for d in as_json["discrepancies"]] == [
        ("missing", BRISTOL),
        ("missing", HULL),
    ]

    # A second run with the same releases fetches no release and no spreadsheet.
    before = len(site.requests)
    code, counts = crawl("statistics", env, tmp_path)
    assert (code, counts["new"], counts["result"]) == (0, "0", "ok")
    fetched = sorted({(s.host, s.path) for s in site.requests[before:] if s.path != "/robots.txt"})
    assert fetched == [
        ("www.gov.uk", "/api/content/government/collections/area-send-statistics"),
        ("www.gov.uk", "/api/search.json"),
    ]


def test_no_discrepancies_is_one_line_and_exit_0(
    tmp_path: Path, site: FixtureSite, env: dict[str, str]
) -> None:
    created = subprocess.run([*COMMAND, "db", "upgrade"], env=env, cwd=tmp_path, timeout=60)
    assert created.returncode == 0  # reconcile reads a store; it never creates one
    result = reconcile(env, tmp_path)
    assert (result.returncode, result.stdout) == (
        0,
        "no discrepancies (nothing to compare yet: Ofsted's area SEND statistics and Ofsted"
        " reports have not been read in full yet)\n",
    )


def test_a_spreadsheet_without_a_known_header_fails_the_source_and_records_nothing(
    tmp_path: Path, site: FixtureSite, env: dict[str, str]
) -> None:
    site.edit(f"statistics/files/{MI_2023_FILE}").write_bytes(unknown_layout())
    code, counts = crawl("statistics", env, tmp_path)
    assert (code, counts["result"]) == (1, "failed")
    store = _store(tmp_path)
    with store.sessions() as session:
        state = session.get(SourceState, "statistics")
        assert state is not None and state.last_result == "failed"
        assert state.last_reason is not None
        assert state.last_reason.startswith(
            f"statistics: https://{GOVUK_ASSETS}/media/67d1a2b3c4d5e6f708192a3b/{MI_2023_FILE}:"
            " no sheet has a known header row in its first 30 rows (sheets: 'Cover', 'Contents',"
            " 'Notes', 'Data_2025')"
        )
        assert state.last_reason.endswith("nothing was recorded from it")
        # Nothing from that file (the 2016-2022 file of the other release is read as usual).
        kinds = {f.kind for f in session.scalars(select(Finding))}
        assert "inspection_report" not in kinds
    # The release stays unread, to be read again once the file can be.
    assert MI not in store.marks("statistics")
    store.close()


def test_spreadsheets_that_all_fail_fail_the_run(
    tmp_path: Path, site: FixtureSite, env: dict[str, str]
) -> None:
    """Releases listed, every file behind them gone (404): a dead crawl, never `ok`."""
    for spreadsheet in (site.roots[0] / "statistics" / "files").iterdir():  # made there alone
        spreadsheet.unlink()
    code, counts = crawl("statistics", env, tmp_path)
    assert (code, counts["result"], counts["new"]) == (1, "failed", "0")
    store = _store(tmp_path)
    with store.sessions() as session:
        state = session.get(SourceState, "statistics")
        assert state is not None and state.last_reason is not None
        assert state.last_reason.startswith(
            f"2 of 2 spreadsheets failed (404), e.g. https://{GOVUK_ASSETS}/"
        ), state.last_reason
    assert not store.marks("statistics")  # every release is read again next time
    store.close()
