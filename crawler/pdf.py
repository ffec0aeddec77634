"""Text out of report PDFs."""

from __future__ import annotations

import io
import logging

from pypdf import PdfReader
from pypdf.errors import PdfReadError

logging.getLogger("pypdf").setLevel(logging.ERROR)  # it warns about every odd object


def pdf_text(data: bytes) -> str:
    """All pages' text; ValueError when the bytes are not a readable PDF."""
    if not data.lstrip()[:5] == b"%PDF-":
        raise ValueError("not a PDF")
    try:
        reader = PdfReader(io.BytesIO(data))
        return "\n".join(page.extract_text() or "" for page in reader.pages)
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"unreadable PDF: {exc}") from None
