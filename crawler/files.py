"""`sendwatch extract FILE`: run the extraction on a saved page, PDF, JSON or text file.

The file is read with the same parser the matching spider uses (a GOV.UK Content
API JSON with the govuk spider's, an HTML article with the lgl spider's, a PDF as
the ofsted spider reads reports), so a maintainer checks exactly what a crawl
would make of it.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from scrapy.http import HtmlResponse, TextResponse

from crawler.dates import parse_date
from crawler.extract import Document, Extraction, extract
from crawler.items import SourceItem
from crawler.pdf import pdf_text
from crawler.pipelines import document_of
from crawler.spiders.govuk import CANONICAL_HOST as GOVUK
from crawler.spiders.govuk import GovukSpider
from crawler.spiders.lgl import LglSpider
from crawler.spiders.ofsted import OfstedSpider
from sendwatch.errors import SendwatchError

PLACEHOLDER_URL = "https://example.invalid/document"


def extract_file(path: Path, url: str | None = None, date: dt.date | None = None) -> Extraction:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SendwatchError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not data.strip():
        raise SendwatchError(f"{path} is empty")
    document = _document(data, path, url)
    # Ofsted's report files are named like "..._-_23_february_2024.pdf": their publication date.
    date = date or parse_date(path.stem.replace("_", " "))
    if date and not document.published_on:
        document = Document(**{**document.__dict__, "published_on": date})
    return extract(document)


def _document(data: bytes, path: Path, url: str | None) -> Document:
    if data.lstrip()[:5] == b"%PDF-":
        try:
            text = pdf_text(data)
        except ValueError as exc:
            raise SendwatchError(f"{path}: {exc}") from None
        # A PDF is read as the ofsted spider reads its reports: an official publication.
        return Document(
            title=_pdf_title(text), text=text, url=url or "", official=OfstedSpider.official
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
        [item for item in parsed if isinstance(item, SourceItem)], path, GovukSpider.official
    )


def _html_document(data: bytes, url: str | None) -> Document:
    response = HtmlResponse(url=url or PLACEHOLDER_URL, body=data)
    items = list(
        LglSpider(base_url="https://www.localgovernmentlawyer.co.uk").parse_article(
            response, article_id="0", listed=("", "", None)
        )
    )
    if items:
        return _last_document(items, None, LglSpider.official)
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
