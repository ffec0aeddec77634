"""`sendwatch extract FILE` prints what a crawl would make of a saved page, PDF, JSON or text."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.paths import COMMAND, SAMPLES


def extract(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    return subprocess.run(
        [*COMMAND, "extract", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def test_report_pdf(tmp_path: Path) -> None:
    result = extract(
        str(SAMPLES / "ofsted/files/50240360.pdf"), "--date", "2024-02-23", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "kind": "inspection_report",
        "local_authority": {"name": "Bexley", "ons_code": "E09000004"},
        "happened_on": "2024-02-23",
        "deadline": None,
        "outcome": "significant_concerns",
        "title": "Area SEND inspection of Bexley Local Area Partnership",
        "published_on": "2024-02-23",
        "priority_actions": None,
        "inspection_dates": ["2023-12-04", "2023-12-08"],
    }


def test_govuk_content_json_with_a_lifting(tmp_path: Path) -> None:
    path = (
        SAMPLES / "govuk/content/improvement-notice-issued-to-kent-county-council-march-2023.json"
    )
    result = extract(str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["kind"], data["local_authority"]["name"], data["happened_on"]) == (
        "notice_lifted",
        "Kent",
        "2024-08-06",
    )


def test_news_article_html(tmp_path: Path) -> None:
    """A saved article page says no date (its feed entry does): --date gives it."""
    result = extract(
        str(SAMPLES / "lgl/articles/57253.html"),
        "--url",
        "https://www.localgovernmentlawyer.co.uk/education-law/394-education-news/57253-x",
        "--date",
        "2024-05-02",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data == {
        "kind": "improvement_notice",
        "local_authority": {"name": "Bexley", "ons_code": "E09000004"},
        "happened_on": "2024-05-01",
        "deadline": "2025-08-31",
        "outcome": None,
        "title": "Council hit with improvement notice following SEND inspection",
        "published_on": "2024-05-02",
        "priority_actions": 2,
        "inspection_dates": None,
    }


def test_plain_text(tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text(
        "Direction issued to Slough Borough Council: August 2023\n"
        "The Secretary of State has issued a statutory direction about SEND services.\n"
    )
    result = extract(str(note), "--date", "2023-08-04", cwd=tmp_path)
    data = json.loads(result.stdout)
    assert (data["kind"], data["local_authority"]["ons_code"], data["happened_on"]) == (
        "statutory_direction",
        "E06000039",
        "2023-08-04",
    )


def test_irrelevant_document_has_no_kind(tmp_path: Path) -> None:
    result = extract(str(SAMPLES / "lgl/articles/57300.html"), cwd=tmp_path)
    assert result.returncode == 0
    assert json.loads(result.stdout)["kind"] is None


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.html", None, "cannot read"),
        ("report.pdf", b"<html>not a pdf</html>", "not a PDF"),
        ("broken.pdf", b"%PDF-1.4\n1 0 obj garbage", "unreadable PDF"),
        ("truncated.json", b'{"title": "Improvement notice issued', "not valid JSON"),
        ("empty.txt", b"", "is empty"),
    ],
)
def test_unreadable_files_are_one_clear_error(
    tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    result = extract(str(path), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("sendwatch: error: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_date_is_a_usage_error(tmp_path: Path) -> None:
    result = extract(str(SAMPLES / "lgl/articles/57253.html"), "--date", "2 May 2024", cwd=tmp_path)
    assert result.returncode == 2


def test_a_statistics_spreadsheet_is_one_extraction_per_row(tmp_path: Path) -> None:
    """An Ofsted release (ODS) reads as the statistics spider reads it: a list, one per row."""
    from tests.fixtures.statistics.make_ods import framework_2016, unknown_layout

    release = tmp_path / "Area_SEND_inspection_data_01_May_2016_to_31_August_2022.ods"
    release.write_bytes(framework_2016())
    result = extract(str(release), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    wirral = [row for row in rows if row["identity"].startswith("E08000015/")]
    assert wirral[0] == {
        "sheet": "Area_SEND_up_to_31_Aug_2022",
        "row": 6,
        "identity": "E08000015/wsoa/2021-12-14",
        "kind": "wsoa",
        "local_authority": {"name": "Wirral", "ons_code": "E08000015"},
        "happened_on": "2021-12-14",
        "deadline": None,
        "outcome": "wsoa_required",
        "title": "Area SEND inspection of Wirral: written statement of action required",
        "published_on": "2021-12-14",
        "priority_actions": None,
        "inspection_dates": None,
    }
    assert (wirral[1]["kind"], wirral[1]["happened_on"]) == ("monitoring_inspection", "2023-03-07")

    unknown = tmp_path / "notes.ods"
    unknown.write_bytes(unknown_layout())
    failed = extract(str(unknown), cwd=tmp_path)
    assert failed.returncode == 1 and failed.stdout == ""
    assert "no sheet has a known header row" in failed.stderr
