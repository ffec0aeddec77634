"""Open data: `sendwatch export` and the read-only API, on a store filled by the real crawler path."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.demo.site import FixtureSite
from tests.alerts.conftest import free_port
from tests.paths import COMMAND, serving

BEXLEY_NOTICE = "https://www.gov.uk/government/publications/improvement-notice-issued-to-london-borough-of-bexley-may-2024"
BEXLEY_NEWS = "https://www.localgovernmentlawyer.co.uk/education-law/394-education-news/57253-council-hit-with-improvement-notice-following-send-inspection"


@pytest.fixture(scope="module")
def crawled_env(
    tmp_path_factory: pytest.TempPathFactory, module_site: FixtureSite
) -> dict[str, str]:
    """A store filled once by a real crawl, for the whole module: its tests only read it."""
    where = tmp_path_factory.mktemp("crawled")
    variables = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    variables |= {
        "SENDWATCH_DATA_DIR": str(where / "data"),
        "SENDWATCH_CRAWLER_DOWNLOAD_DELAY": "0",
    }
    variables["SENDWATCH_CRAWLER_HOST_MAP"] = module_site.host_map
    crawled = subprocess.run(
        [*COMMAND, "crawl", "govuk", "ofsted", "lgl"],
        env=variables,
        cwd=where,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert crawled.returncode == 0, crawled.stderr
    return variables


@pytest.fixture
def env(crawled_env: dict[str, str]) -> dict[str, str]:
    """The crawled store's settings, a copy each test may add to."""
    return dict(crawled_env)


def export(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, "export", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_json_export_has_every_event_and_its_sources(tmp_path: Path, env: dict[str, str]) -> None:
    result = export(env, tmp_path)
    assert result.returncode == 0, result.stderr
    events = json.loads(result.stdout)
    assert len(events) == 15
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)  # oldest first
    kinds = sorted((e["kind"], (e["local_authority"] or {}).get("name")) for e in events)
    assert kinds == [
        ("improvement_notice", "Bexley"),
        ("improvement_notice", "Kent"),
        ("improvement_notice", "Kingston upon Hull"),
        ("improvement_notice", "Plymouth"),
        ("improvement_notice", "Wirral"),
        ("inspection_report", "Bedford"),
        ("inspection_report", "Bexley"),
        ("inspection_report", "Blackpool"),
        ("inspection_report", "Wirral"),
        ("monitoring_inspection", "Wirral"),
        ("notice_lifted", "Kent"),
        ("notice_lifted", "Kingston upon Hull"),
        ("notice_lifted", "Plymouth"),
        ("statutory_direction", "Bournemouth, Christchurch and Poole"),
        ("statutory_direction", "Kingston upon Hull"),
    ]
    notice = next(
        e
        for e in events
        if e["kind"] == "improvement_notice" and e["local_authority"]["name"] == "Bexley"
    )
    assert notice["local_authority"] == {
        "name": "Bexley",
        "ons_code": "E09000004",
        "dfe_code": "303",
        "region": "London",
    }
    assert (notice["happened_on"], notice["deadline"], notice["outcome"]) == (
        "2024-05-01",
        "2025-08-31",
        None,
    )
    assert notice["sources"] == [
        {
            "source": "govuk",
            "url": BEXLEY_NOTICE,
            "title": "Improvement notice issued to London Borough of Bexley: May 2024",
            "published_at": "2024-05-01",
        },
        {
            "source": "lgl",
            "url": BEXLEY_NEWS,
            "title": "Council hit with improvement notice following SEND inspection",
            "published_at": "2024-05-02",
        },
    ]
    report = next(
        e
        for e in events
        if e["kind"] == "inspection_report" and e["local_authority"]["name"] == "Bexley"
    )
    assert report["outcome"] == "significant_concerns"
    assert [s["source"] for s in report["sources"]] == ["ofsted", "lgl"]


def test_csv_round_trips_and_filters_match(tmp_path: Path, env: dict[str, str]) -> None:
    as_json = json.loads(export(env, tmp_path).stdout)
    target = tmp_path / "events.csv"
    result = export(env, tmp_path, "--format", "csv", "--output", str(target))
    assert result.returncode == 0 and result.stderr.strip() == f"wrote 15 events to {target}"
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM, for spreadsheets
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [int(row["id"]) for row in rows] == [e["id"] for e in as_json]
    bexley = next(
        row for row in rows if row["la_name"] == "Bexley" and row["kind"] == "improvement_notice"
    )
    assert bexley["source_urls"] == f"{BEXLEY_NOTICE} | {BEXLEY_NEWS}"
    assert bexley["la_ons_code"] == "E09000004" and bexley["deadline"] == "2025-08-31"

    def ids(*args: str) -> list[int]:
        return [e["id"] for e in json.loads(export(env, tmp_path, *args).stdout)]

    assert len(ids("--la", "Bexley")) == 2
    assert ids("--la", "E09000004") == ids("--la", "London Borough of Bexley")
    assert len(ids("--kind", "notice_lifted")) == 3
    assert all(
        e["happened_on"] >= "2024-05-01"
        for e in json.loads(export(env, tmp_path, "--since", "2024-05-01").stdout)
    )
    # Bexley, Wirral notices; Kent, Plymouth lifted; Blackpool, Bedford
    assert len(ids("--since", "2024-05-01")) == 6


@pytest.mark.parametrize(
    ("args", "parameter"),
    [
        (("--kind", "gossip"), "--kind"),
        (("--la", "Atlantis"), "--la"),
        (("--since", "May 2024"), "--since"),
        (("--format", "xml"), "--format"),
    ],
)
def test_bad_export_parameters_exit_2_naming_them(
    tmp_path: Path, env: dict[str, str], args: tuple[str, str], parameter: str
) -> None:
    result = export(env, tmp_path, *args)
    assert result.returncode == 2
    assert parameter in result.stderr


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, crawled_env: dict[str, str]) -> Iterator[str]:
    """`sendwatch serve` over the crawled store, for the module (its tests only read)."""
    with serving(free_port(), crawled_env, tmp_path_factory.mktemp("serve")) as running:
        yield running


def test_api_pages_through_every_event_once(tmp_path: Path, env: dict[str, str], api: str) -> None:
    seen: list[tuple[str, int]] = []  # (day happened, else first seen; id): the API's order
    cursor = None
    while True:
        params = {"limit": "3"} | ({"cursor": cursor} if cursor else {})
        page = httpx.get(f"{api}/api/events", params=params).json()
        seen += [(e["happened_on"] or e["first_seen_at"][:10], e["id"]) for e in page["events"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen)) == 15

    exported = json.loads(
        export(env, tmp_path, "--la", "Bexley", "--kind", "improvement_notice").stdout
    )
    filtered = httpx.get(
        f"{api}/api/events", params={"la": "bexley", "kind": "improvement_notice"}
    ).json()
    assert filtered["events"] == exported  # the same records, by the same code

    first = httpx.get(f"{api}/api/events")
    assert first.headers["cache-control"].startswith("public")
    assert (
        httpx.get(f"{api}/api/events", headers={"If-None-Match": first.headers["etag"]}).status_code
        == 304
    )


def test_api_las_and_bad_parameters(api: str) -> None:
    las = httpx.get(f"{api}/api/las").json()
    assert len(las) == 153
    bexley = next(la for la in las if la["ons_code"] == "E09000004")
    assert bexley["latest_inspection"] == {
        "outcome": "significant_concerns",
        "date": "2024-02-23",
        "follow_up": None,
    }
    assert bexley["case_closed"] is False
    assert bexley["notice_in_force"] is True and bexley["notice"]["deadline"] == "2025-08-31"
    kent = next(la for la in las if la["name"] == "Kent")
    assert kent["notice_in_force"] is False and kent["notice"]["lifted_on"] == "2024-08-06"

    for params, parameter in (
        ({"kind": "gossip"}, "kind"),
        ({"la": "Atlantis"}, "la"),
        ({"since": "2024-02-30"}, "since"),
        ({"limit": "501"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ):
        response = httpx.get(f"{api}/api/events", params=params)
        assert response.status_code == 400, params
        assert response.json()["parameter"] == parameter
