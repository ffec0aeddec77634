"""Text out of report PDFs, with PDFium (pypdfium2): about 15 ms for a real Ofsted report,
where a pure-Python parser takes 200 ms."""

from __future__ import annotations

import pypdfium2 as pdfium


def page_count(data: bytes) -> int:
    """How many pages a PDF declares (read from its page tree, before any page is), or
    ValueError when the bytes are not a readable PDF."""
    if not data.lstrip()[:5] == b"%PDF-":
        raise ValueError("not a PDF")
    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise ValueError(f"unreadable PDF: {exc}") from None
    try:
        return len(document)
    finally:
        document.close()


def pdf_text(data: bytes) -> str:
    """All pages' text, one line per line; ValueError when the bytes are not a readable PDF."""
    if not data.lstrip()[:5] == b"%PDF-":
        raise ValueError("not a PDF")
    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise ValueError(f"unreadable PDF: {exc}") from None
    try:
        pages = []
        for index in range(len(document)):
            page = document[index]
            textpage = page.get_textpage()
            pages.append("\n".join(textpage.get_text_bounded().splitlines()))
            textpage.close()
            page.close()
        return "\n".join(pages)
    except pdfium.PdfiumError as exc:
        raise ValueError(f"unreadable PDF: {exc}") from None
    finally:
        document.close()
