"""Text out of report PDFs, with PDFium (pypdfium2): about 15 ms for a real Ofsted report,
where a pure-Python parser takes 200 ms."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pypdfium2 as pdfium


@contextmanager
def _document(data: bytes) -> Iterator[pdfium.PdfDocument]:
    """The PDF opened (and closed after); ValueError when the bytes are not a readable PDF."""
    if not data.lstrip()[:5] == b"%PDF-":
        raise ValueError("not a PDF")
    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise ValueError(f"unreadable PDF: {exc}") from None
    try:
        yield document
    except pdfium.PdfiumError as exc:
        raise ValueError(f"unreadable PDF: {exc}") from None
    finally:
        document.close()


def page_count(data: bytes) -> int:
    """How many pages a PDF declares (read from its page tree, before any page is)."""
    with _document(data) as document:
        return len(document)


def pdf_text(data: bytes) -> str:
    """All pages' text, one line per line; ValueError when the bytes are not a readable PDF."""
    with _document(data) as document:
        pages = []
        for index in range(len(document)):
            page = document[index]
            textpage = page.get_textpage()
            pages.append("\n".join(textpage.get_text_bounded().splitlines()))
            textpage.close()
            page.close()
        return "\n".join(pages)
