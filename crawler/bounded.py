"""Untrusted documents are parsed in a child process with limits: one bad file costs one failed
document, never the machine.

A report PDF or a statistics spreadsheet comes from a site we do not control. A few kilobytes
can expand to gigabytes (a Flate stream that PDFium turns into millions of text objects; an
ODS row repeated 100,000 times by 200 columns; a zip member of 3 GiB), or take minutes (a PDF
declaring a million pages), and a parser in C (PDFium, calamine) may abort the whole process
rather than raise. So every document is parsed by `BoundedParser`, in a worker process whose
memory is capped (`RLIMIT_DATA`, `[crawler] parse_memory_mb`) and whose every document has a
time limit (`parse_seconds`), after cheap checks that need no parsing (the uncompressed size of
a spreadsheet's zip members, its declared repeated rows by columns, a PDF's page count).

A document over a limit is one failure with its reason (`report PDF over 300 pages`,
`spreadsheet over 200,000 cells`, `parser ran out of memory (512 MB)`, `parser took over
60 s`): `DocumentRefused`, a `ValueError`, which the spiders count as one failed document in
the crawl's failure share, and the crawl goes on; a worker that died is replaced for the next
document. `sendwatch extract` parses through the same limits.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import resource
import socket
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from crawler.ods import NotASpreadsheet, UnknownLayout
from sendwatch.config import CrawlerConfig, Settings

MB = 1024 * 1024


class DocumentRefused(ValueError):
    """A document over one of the limits: its reason, in words a maintainer acts on."""


@dataclass(frozen=True)
class Limits:
    """What one untrusted document may cost (`[crawler]` settings: `limits_of`)."""

    memory_mb: int
    seconds: float
    max_pdf_pages: int
    max_sheet_cells: int
    max_unzipped_mb: int


class BoundedParser:
    """A worker process that parses one document at a time within `limits`.

    Started on first use and kept for the next document (a crawl parses dozens); replaced
    after a document that killed it or ran out of time. `close()` ends it."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or limits_of()
        self._process: subprocess.Popen[bytes] | None = None
        self._connection: Connection | None = None

    def pdf_text(self, data: bytes) -> str:
        """A PDF's text (`crawler.pdf.pdf_text`), within the limits."""
        text: str = self._run("pdf", data)
        return text

    def read_workbook(self, data: bytes) -> Any:
        """A statistics workbook's data sheet (`crawler.ods.read_workbook`), within the limits."""
        check_zip(data, self.limits)
        return self._run("workbook", data)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        if self._process is not None:
            self._process.kill()
            self._process.wait(5)
        self._process = self._connection = None

    def __enter__(self) -> BoundedParser:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _run(self, kind: str, data: bytes) -> Any:
        connection = self._worker()
        connection.send((kind, data))
        if not connection.poll(self.limits.seconds):
            self.close()
            raise DocumentRefused(f"parser took over {self.limits.seconds:g} s")
        try:
            status, value = connection.recv()
        except (EOFError, OSError):
            self.close()  # it died: a limit it could not report (C code aborting on malloc)
            raise DocumentRefused(
                f"parser ran out of memory ({self.limits.memory_mb} MB)"
            ) from None
        if status == "ok":
            return value
        if status == "memory":
            self.close()
            raise DocumentRefused(f"parser ran out of memory ({self.limits.memory_mb} MB)")
        error_type, message = value
        raise _ERRORS.get(error_type, ValueError)(message)

    def _worker(self) -> Connection:
        if self._process is not None and self._process.poll() is None and self._connection:
            return self._connection
        self.close()
        # A process of its own (`python -m crawler.bounded`), not a fork of the crawl's (which
        # runs Twisted's reactor and threads) nor multiprocessing's spawn (which imports the
        # caller's __main__ again): it talks over a socket pair, pickled messages both ways.
        ours, theirs = socket.socketpair()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "crawler.bounded",
                str(theirs.fileno()),
                json.dumps(dataclasses.asdict(self.limits)),
            ],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self._process, self._connection = process, Connection(ours.detach())
        return self._connection


def _serve(connection: Connection, limits: Limits) -> None:
    """The worker: memory capped, then one document at a time until the socket closes."""
    cap = limits.memory_mb * MB
    resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))
    parsers: dict[str, Callable[[bytes, Limits], Any]] = {
        "pdf": _pdf_text,
        "workbook": _read_workbook,
    }
    while True:
        try:
            kind, data = connection.recv()
        except (EOFError, OSError):
            return
        try:
            connection.send(("ok", parsers[kind](data, limits)))
        except MemoryError:
            connection.send(("memory", None))
        except Exception as exc:  # the document's fault: its words go back to the crawl
            connection.send(("error", (type(exc).__name__, str(exc)[:500])))


def _pdf_text(data: bytes, limits: Limits) -> str:
    from crawler.pdf import page_count, pdf_text

    pages = page_count(data)
    if pages > limits.max_pdf_pages:
        raise DocumentRefused(f"report PDF over {limits.max_pdf_pages} pages ({pages:,})")
    return pdf_text(data)


def _read_workbook(data: bytes, limits: Limits) -> Any:
    from crawler.ods import read_workbook

    cells = declared_cells(data)
    if cells > limits.max_sheet_cells:
        raise DocumentRefused(f"spreadsheet over {limits.max_sheet_cells:,} cells ({cells:,})")
    return read_workbook(data)


# -- the cheap checks ---------------------------------------------------------------------------


def check_zip(data: bytes, limits: Limits) -> None:
    """A spreadsheet (ODS and XLSX are zips) whose members would expand past the limit is
    refused before anything reads them: the zip's directory states each member's size."""
    if not data.startswith(b"PK"):
        return  # not a zip: the parser says what it is
    try:
        members = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except zipfile.BadZipFile:
        return
    total = sum(member.file_size for member in members)
    if total > limits.max_unzipped_mb * MB:
        raise DocumentRefused(
            f"spreadsheet expands to over {limits.max_unzipped_mb} MB ({total // MB:,} MB)"
        )


_ROW = re.compile(rb"<table:table-row\b([^>]*?)(/?)>")
_CELL = re.compile(rb"<table:(?:covered-)?table-cell\b([^>]*?)(/?)>")
_REPEATED_ROWS = re.compile(rb'table:number-rows-repeated="(\d+)"')
_REPEATED_COLUMNS = re.compile(rb'table:number-columns-repeated="(\d+)"')
_VALUE = re.compile(rb"office:value-type=")


def declared_cells(data: bytes) -> int:
    """How many cells with a value an ODS declares, its repeats counted (`number-rows-repeated`
    times the row's cells, each cell's `number-columns-repeated`), before calamine expands them.
    Empty repeated rows and cells, which spreadsheet programs write to the sheet's end, count
    nothing. 0 for anything that is not an ODS (XLSX states its own dimensions)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        content = archive.read("content.xml")
    except (zipfile.BadZipFile, KeyError):
        return 0
    total = 0
    for row in _rows(content):
        attributes, body = row
        repeated = _REPEATED_ROWS.search(attributes)
        rows = int(repeated[1]) if repeated else 1
        total += rows * _cells_with_values(body)
    return total


def _rows(content: bytes) -> list[tuple[bytes, bytes]]:
    """Each table row's attributes and body (its cells), read as bytes, not as a tree."""
    rows = []
    for found in _ROW.finditer(content):
        if found[2]:  # <table:table-row …/>: no cells
            continue
        end = content.find(b"</table:table-row>", found.end())
        rows.append((found[1], content[found.end() : end if end >= 0 else len(content)]))
    return rows


def _cells_with_values(row: bytes) -> int:
    cells = 0
    for found in _CELL.finditer(row):
        if not _VALUE.search(found[1]):
            continue
        repeated = _REPEATED_COLUMNS.search(found[1])
        cells += int(repeated[1]) if repeated else 1
    return cells


#: The errors a parser raises on purpose, raised again as themselves in the crawl (by name).
_ERRORS: dict[str, type[ValueError]] = {
    error.__name__: error for error in (DocumentRefused, NotASpreadsheet, UnknownLayout)
}


def limits_of(settings: Settings | None = None, **changes: Any) -> Limits:
    """The limits `[crawler]` sets (its defaults without `settings`), with `changes` on top."""
    crawler = settings.crawler if settings is not None else CrawlerConfig()
    limits = Limits(
        memory_mb=crawler.parse_memory_mb,
        seconds=crawler.parse_seconds,
        max_pdf_pages=crawler.max_pdf_pages,
        max_sheet_cells=crawler.max_sheet_cells,
        max_unzipped_mb=crawler.max_unzipped_mb,
    )
    return dataclasses.replace(limits, **changes)


def main(argv: list[str]) -> None:
    """`python -m crawler.bounded FD LIMITS`: the worker, on the socket the crawl passed it."""
    limits = Limits(**json.loads(argv[1]))
    _serve(Connection(int(argv[0])), limits)


if __name__ == "__main__":
    main(sys.argv[1:])
