"""One bad file costs one failed document, never the machine: report PDFs and statistics
spreadsheets are parsed in a worker with a memory and a time limit, after cheap checks.

The bombs are made here, a few kilobytes each: a PDF whose one content stream, Flate-encoded
twice, expands to 88 MB of text operations (PDFium needs gigabytes for them); a PDF that
declares a million pages; an ODS that repeats a row of 200 valued cells 100,000 times; a zip
member that expands far past the limit."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import pytest

from app.demo.site import FixtureSite
from crawler.bounded import BoundedParser, DocumentRefused, declared_cells, limits_of
from tests.crawler.test_end_to_end import env as env  # the crawl's environment, on `site`
from tests.fixtures.statistics.make_ods import FRAMEWORK_2016_FILE, write_spreadsheets
from tests.paths import COMMAND, fixture
from tests.proxy import running_proxy

MEMORY_MB = 256


def _pdf(objects: list[bytes]) -> bytes:
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def pdf_bomb(expanded_mb: int = 84) -> bytes:
    """One page whose content stream, Flate-encoded twice, expands to `expanded_mb` MB."""
    operation = b"BT /F1 10 Tf 50 800 Td (AAAAAAAAAA) Tj ET\n"
    stream = zlib.compress(zlib.compress(operation * (expanded_mb * 2**20 // len(operation)), 9))
    return _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842]"
            b" /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
            b"<< /Length %d /Filter [/FlateDecode /FlateDecode] >>\nstream\n" % len(stream)
            + stream
            + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
    )


def million_pages() -> bytes:
    return _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1000000 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        ]
    )


def _ods(content: bytes, extra: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
        for name, data in (extra or {}).items():
            archive.writestr(name, data, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def ods_bomb(rows: int = 100_000, columns: int = 200) -> bytes:
    """A row of `columns` valued cells, repeated `rows` times: 906 bytes of real trouble."""
    return _ods(
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
        b' xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
        b' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0">'
        b'<office:body><office:spreadsheet><table:table table:name="Data">'
        b'<table:table-row table:number-rows-repeated="%d">'
        b'<table:table-cell table:number-columns-repeated="%d" office:value-type="float"'
        b' office:value="1"><text:p>1</text:p></table:table-cell>'
        b"</table:table-row></table:table></office:spreadsheet></office:body>"
        b"</office:document-content>" % (rows, columns)
    )


@pytest.fixture
def parser() -> BoundedParser:
    with BoundedParser(limits_of(memory_mb=MEMORY_MB)) as bounded:
        yield bounded  # type: ignore[misc]


def test_a_pdf_bomb_is_one_refused_document_and_the_next_is_read(parser: BoundedParser) -> None:
    bomb = pdf_bomb()
    assert len(bomb) < 4096
    with pytest.raises(DocumentRefused, match=rf"^parser ran out of memory \({MEMORY_MB} MB\)$"):
        parser.pdf_text(bomb)
    real = fixture("ofsted/files/50240360.pdf").read_bytes()
    assert "Area SEND inspection of Bexley" in parser.pdf_text(real)  # a new worker, at once


def test_a_pdf_declaring_a_million_pages_is_refused_before_its_pages_are_read(
    parser: BoundedParser,
) -> None:
    with pytest.raises(DocumentRefused, match=r"^report PDF over 300 pages \(1,000,000\)$"):
        parser.pdf_text(million_pages())


def test_a_spreadsheet_repeating_a_row_is_refused_by_what_it_declares(
    parser: BoundedParser,
) -> None:
    bomb = ods_bomb()
    assert len(bomb) < 2048 and declared_cells(bomb) == 20_000_000
    with pytest.raises(DocumentRefused, match=r"^spreadsheet over 200,000 cells \(20,000,000\)$"):
        parser.read_workbook(bomb)


def test_a_zip_member_expanding_past_the_limit_is_refused_unread() -> None:
    bomb = _ods(b"<office:document-content/>", {"Pictures/big.bin": bytes(5 * 2**20)})
    assert len(bomb) < 16 * 1024
    with (
        BoundedParser(limits_of(max_unzipped_mb=1)) as parser,
        pytest.raises(DocumentRefused, match=r"^spreadsheet expands to over 1 MB \(5 MB\)$"),
    ):
        parser.read_workbook(bomb)


def test_the_real_statistics_spreadsheets_are_read_through_the_worker(
    tmp_path: Path, parser: BoundedParser
) -> None:
    write_spreadsheets(tmp_path)
    data = (tmp_path / FRAMEWORK_2016_FILE).read_bytes()
    assert 0 < declared_cells(data) < 200_000
    sheet = parser.read_workbook(data)
    assert sheet.inspections


def test_a_document_over_its_time_is_refused_and_the_worker_replaced() -> None:
    real = fixture("ofsted/files/50240360.pdf").read_bytes()
    with BoundedParser(limits_of(seconds=0.001)) as hurried:
        with pytest.raises(DocumentRefused, match=r"^parser took over 0.001 s$"):
            hurried.pdf_text(real)
        hurried.limits = limits_of()
        assert "Bexley" in hurried.pdf_text(real)


def test_sendwatch_extract_obeys_the_same_limits(tmp_path: Path) -> None:
    bomb = tmp_path / "report.pdf"
    bomb.write_bytes(pdf_bomb())
    variables = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    result = subprocess.run(
        [*COMMAND, "extract", str(bomb)],
        env=variables | {"SENDWATCH_CRAWLER_PARSE_MEMORY_MB": str(MEMORY_MB)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"sendwatch: error: {bomb}: parser ran out of memory ({MEMORY_MB} MB)"
    )


#: Runs a command and prints the largest resident size (MB) any of its processes reached.
PEAK = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)\n"
    "print(done.stdout.strip().splitlines()[-1] if done.stdout.strip() else '')\n"
    "sys.stderr.write(done.stderr)\n"
)


def test_a_crawl_meeting_a_bomb_fails_that_report_alone_within_its_memory(
    tmp_path: Path, site: FixtureSite, env: dict[str, str]
) -> None:
    # Bedford's provider page lists a second report: the bomb.
    page = site.edit("ofsted/provider-80428.html")
    page.write_text(
        page.read_text().replace(
            '<li class="timeline__day">',
            '<li class="timeline__day"><time>5 February 2025</time>'
            '<a class="publication-link" href="https://files.ofsted.gov.uk/v1/file/66666666">'
            'Area SEND full inspection <span class="nonvisual">Area SEND full inspection, pdf'
            " - 5 February 2025</span></a></li>\n"
            '      <li class="timeline__day">',
            1,
        )
    )
    site.edit("ofsted/files/66666666.pdf").write_bytes(pdf_bomb())
    crawl_env = env | {"SENDWATCH_CRAWLER_PARSE_MEMORY_MB": str(MEMORY_MB)}
    measured = subprocess.run(
        [sys.executable, "-c", PEAK, *COMMAND, "crawl", "ofsted", "--json"],
        env=crawl_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    first, report_line = measured.stdout.splitlines()[:2]
    code, peak_mb = (int(word) for word in first.split())
    report = json.loads(report_line)
    assert code == 0, measured.stderr
    assert (report["result"], report["found"], report["errors"]) == ("ok", 5, 1)
    assert "parser ran out of memory (256 MB)" in measured.stderr
    assert "66666666" in measured.stderr
    # The crawl and its parser stayed small (unbounded, PDFium takes gigabytes for this file).
    assert peak_mb < 2 * MEMORY_MB, peak_mb


def test_every_report_a_bomb_fails_the_run_with_production_defaults_through_a_proxy(
    tmp_path: Path, site: FixtureSite, env: dict[str, str]
) -> None:
    """No host_map, no base_url: the real hosts, each its own server, through https_proxy. When
    every report is refused, the run read nothing it relies on: it is failed, not ok."""
    for pdf in fixture("ofsted/files/50240360.pdf").parent.glob("*.pdf"):
        site.edit(f"ofsted/files/{pdf.name}").write_bytes(pdf_bomb())
    production = {
        k: v
        for k, v in env.items()
        if "proxy" not in k.lower() and k != "SENDWATCH_CRAWLER_HOST_MAP"
    } | {"SENDWATCH_CRAWLER_PARSE_MEMORY_MB": str(MEMORY_MB)}
    with running_proxy(site.urls) as proxy:
        production |= {"https_proxy": proxy.url, "http_proxy": proxy.url}
        done = subprocess.run(
            [*COMMAND, "crawl", "ofsted", "--json"],
            env=production,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
    report = json.loads(done.stdout.splitlines()[-1])
    assert done.returncode == 1, done.stderr
    assert (report["result"], report["found"], report["errors"]) == ("failed", 0, 5)
    assert report["reason"].startswith(
        "5 of 5 report PDFs failed (refused), e.g. https://files.ofsted.gov.uk/v1/file/"
    )
    assert done.stderr.count(f"parser ran out of memory ({MEMORY_MB} MB)") == 5
