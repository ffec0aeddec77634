"""`sendwatch extract FILE`: run the extraction on a saved page, PDF, JSON, text file or
spreadsheet.

The file is read with the same parser the matching spider uses (a GOV.UK Content
API JSON with the govuk spider's, an HTML article with the lgl spider's, a PDF as
the ofsted spider reads reports, an ODS or Excel file as the statistics spider reads
Ofsted's releases, one extraction per row), so a maintainer checks exactly what a crawl
would make of it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from scrapy.http import HtmlResponse, TextResponse

from crawler.bounded import BoundedParser, Limits
from crawler.dates import parse_date
from crawler.extract import Document, Extraction, extract
from crawler.items import SourceItem
from crawler.pipelines import document_of
from crawler.spiders.base import SourceSpider
from crawler.spiders.govuk import CANONICAL_HOST as GOVUK
from crawler.spiders.govuk import GovukSpider
from crawler.spiders.lgl import LglSpider
from crawler.spiders.ofsted import OfstedSpider
from sendwatch.errors import SendwatchError
from sendwatch.sources import entry

PLACEHOLDER_URL = "https://example.invalid/document"


#: How spreadsheets begin: ODS and XLSX are zip files, XLS an OLE2 compound file.
SPREADSHEET_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")
SPREADSHEET_SUFFIXES = (".ods", ".xlsx", ".xls")


def is_official(spider: type[SourceSpider]) -> bool:
    """Whether the spider's source publishes the documents themselves (its registry entry)."""
    return entry(spider.name).official


def extract_path(
    path: Path,
    url: str | None = None,
    date: dt.date | None = None,
    limits: Limits | None = None,
    parser: BoundedParser | None = None,
) -> dict[str, Any] | list[dict[str, Any]]:
    """What `sendwatch extract` prints: one extraction, or for a spreadsheet one per row. The
    file is parsed within the limits a crawl's documents are (`crawler.bounded`): by `parser`
    when given (a worker kept for many files), else by one of its own with `limits`."""
    data = _read(path)
    with _parser(parser, limits) as bounded:
        if path.suffix.lower() in SPREADSHEET_SUFFIXES or data.startswith(SPREADSHEET_MAGIC):
            return extract_spreadsheet(data, path, url, bounded)
        return extract_file(path, url=url, date=date, parser=bounded).to_json()


def extract_spreadsheet(
    data: bytes, path: Path, url: str | None = None, parser: BoundedParser | None = None
) -> list[dict[str, Any]]:
    """Each row of an Ofsted statistics release, as the statistics spider records it: the
    finding's identity and sheet row, then its extraction (kind, council, date, outcome)."""
    from crawler.spiders.statistics import StatisticsSpider, release_for

    try:
        with _parser(parser) as bounded:
            sheet = bounded.read_workbook(data)
    except ValueError as exc:  # not a spreadsheet, no known layout, over a limit
        raise SendwatchError(f"{path}: {exc}") from None
    spider = StatisticsSpider(base_url=GOVUK)
    release = release_for(url or f"/{path.name}")
    rows: list[dict[str, Any]] = []
    for inspection in sheet.inspections:
        for item in spider.items_of(inspection, release):
            extraction = extract(document_of(item, is_official(StatisticsSpider)))
            where = {"sheet": inspection.sheet, "row": inspection.row, "identity": item.identity}
            rows.append(where | extraction.to_json())
    return rows


def extract_file(
    path: Path,
    url: str | None = None,
    date: dt.date | None = None,
    parser: BoundedParser | None = None,
) -> Extraction:
    data = _read(path)
    with _parser(parser) as bounded:
        document = _document(data, path, url, bounded)
    # Ofsted's report files are named like "..._-_23_february_2024.pdf": their publication date.
    date = date or parse_date(path.stem.replace("_", " "))
    if date and not document.published_on:
        document = Document(**{**document.__dict__, "published_on": date})
    return extract(document)


def _read(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SendwatchError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not data.strip():
        raise SendwatchError(f"{path} is empty")
    return data


@contextmanager
def _parser(given: BoundedParser | None, limits: Limits | None = None) -> Iterator[BoundedParser]:
    """The parser given, or one of its own for this file (closed after it)."""
    if given is not None:
        yield given
        return
    with BoundedParser(limits) as own:
        yield own


def _document(data: bytes, path: Path, url: str | None, parser: BoundedParser) -> Document:
    if data.lstrip()[:5] == b"%PDF-":
        try:
            text = parser.pdf_text(data)
        except ValueError as exc:
            raise SendwatchError(f"{path}: {exc}") from None
        # A PDF is read as the ofsted spider reads its reports: an official publication.
        return Document(
            title=_pdf_title(text), text=text, url=url or "", official=is_official(OfstedSpider)
        )
    if path.suffix.lower() == ".pdf":
        raise SendwatchError(f"{path}: not a PDF")
    text = _decode(data)
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        return _govuk_document(text, path, url)
    if stripped.startswith("<") or path.suffix.lower() in (".html", ".htm"):
        return _html_document(data, url)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return Document(title=lines[0], text="\n".join(lines[1:]), url=url or "")


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _govuk_document(text: str, path: Path, url: str | None) -> Document:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise SendwatchError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(data, dict) or "title" not in data:
        raise SendwatchError(f"{path}: JSON is not a GOV.UK Content API item (no title)")
    base_path = str(data.get("base_path") or "/document")
    response = TextResponse(
        url=url or GOVUK + base_path, body=text.encode("utf-8"), encoding="utf-8"
    )
    parsed = GovukSpider(base_url=GOVUK).parse_content(response, base_path)
    return _last_document(
        [item for item in parsed if isinstance(item, SourceItem)], path, is_official(GovukSpider)
    )


def _html_document(data: bytes, url: str | None) -> Document:
    response = HtmlResponse(url=url or PLACEHOLDER_URL, body=data)
    items = list(
        LglSpider(base_url="https://www.localgovernmentlawyer.co.uk").parse_article(
            response, article_id="0", listed=("", "", None)
        )
    )
    if items:
        return _last_document(items, None, is_official(LglSpider))
    title = " ".join(response.css("title::text, h1::text").getall()[:1]).strip()
    body = " ".join(" ".join(response.css("body ::text").getall()).split())
    return Document(title=title or "(untitled)", text=body, url=url or "")


def _last_document(items: list[SourceItem], path: Path | None, official: bool) -> Document:
    """The document's latest state: a lifted notice is reported as lifted."""
    if not items:
        raise SendwatchError(f"{path or 'file'}: nothing could be read from it")
    return document_of(items[-1], official)


def _pdf_title(text: str) -> str:
    lines = [" ".join(line.split()) for line in text.splitlines() if line.strip()]
    for number, line in enumerate(lines):
        if "inspection of" in line.lower():
            following = lines[number + 1] if number + 1 < len(lines) else ""
            return f"{line} {following}" if "partnership" in following.lower() else line
    return lines[0] if lines else "(untitled PDF)"
