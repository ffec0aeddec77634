"""Ofsted's area SEND statistics spreadsheets (ODS): which sheet holds the data, and its rows.

Pure functions, no Scrapy, like `crawler.extract`. Ofsted publishes its area SEND
management information and official statistics on GOV.UK as ODS files laid out for
people: a Cover, Contents, Guidance and Notes sheets first, then the data sheet, whose
name changes every release (`Area_SEND_up_to_31_Aug_2022`, `All_ASEND_Jan_2023_to_Aug_2023`)
and whose header row comes after a few title and note rows (row 5 in the files seen).

So the data sheet is found by its header row, never by its name or position: the first
sheet with a row, among its first `HEADER_ROWS`, that holds every required column of one
known layout. Two layouts are known:

* the 2023 framework's: "Local area partnership", "Inspection publication date",
  "Inspection outcome" ("Typically positive experiences and outcomes" / "Inconsistent
  experiences and outcomes" / "Widespread and/or systemic failings"), "Priority action
  plan required?", "Number of areas for priority action"; no council code;
* the 2016-2022 framework's: "Local authority code" (the ONS code), "Area name",
  "Inspection publication date", "Inspection outcome: written statement of action
  required?" (Yes/No), and the revisit: "Revisit start date" (or "Not revisited yet"),
  "Revisit publication date", "Revisit outcome: sufficient progress in addressing all
  significant weaknesses?" (Yes/Some/No), then two counts: the weaknesses with sufficient
  progress and without (headers unconfirmed: read when they say so).

A workbook with no such sheet raises `UnknownLayout`: the caller fails loudly rather than
guess which column means what. A row that cannot be read (no publication date, an outcome
worded in a way not known here) is reported in `DataSheet.problems`, never guessed at.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from python_calamine import CalamineError, CalamineWorkbook

from crawler.dates import parse_date
from sendwatch.vocab import Outcome

#: How far down a sheet its header row may be (title and note rows come first).
HEADER_ROWS = 30

Cell = Any


class UnknownLayout(ValueError):
    """No sheet of the workbook has the header row of a known layout."""


class NotASpreadsheet(ValueError):
    """The bytes are not a workbook calamine can open (an HTML error page, a truncated file)."""


@dataclass(frozen=True)
class Column:
    """One column a layout knows, by the whole of its (normalised) header."""

    key: str
    #: The header as Ofsted writes it, for messages.
    label: str
    header: re.Pattern[str]
    required: bool = False


def _column(key: str, label: str, variants: str = "", required: bool = False) -> Column:
    """A column headed `label`, or anything `variants` (a regex on the normalised header) allows."""
    pattern = variants or re.escape(label.lower())
    return Column(key, label, re.compile(pattern), required)


@dataclass(frozen=True)
class Layout:
    """The columns of one known form of the data sheet."""

    name: str
    columns: tuple[Column, ...]

    def locate(self, row: Sequence[Cell]) -> dict[str, int] | None:
        """Column key -> index when `row` is this layout's header row, else None."""
        found: dict[str, int] = {}
        for index, cell in enumerate(row):
            header = normalise_header(cell)
            for column in self.columns:
                if column.key not in found and column.header.fullmatch(header):
                    found[column.key] = index
                    break
        required = {column.key for column in self.columns if column.required}
        return found if required <= found.keys() else None


FRAMEWORK_2023 = Layout(
    "2023 framework",
    (
        _column("link", "Link to report webpage", r"link to report webpage.*"),
        _column("area", "Local area partnership", required=True),
        _column("region", "Ofsted region"),
        _column("started", "Inspection start date"),
        _column("published", "Inspection publication date", required=True),
        _column("outcome", "Inspection outcome", required=True),
        _column("plan", "Priority action plan required?", r"priority action plan required\??"),
        _column("priority_actions", "Number of areas for priority action"),
    ),
)
FRAMEWORK_2016 = Layout(
    "2016-2022 framework",
    (
        _column("link", "Web link to Ofsted local authority webpage", r"web link to ofsted.*"),
        _column("code", "Local authority code", required=True),
        _column("area", "Area name", required=True),
        _column("region", "Ofsted region"),
        _column("started", "Inspection start date"),
        _column("published", "Inspection publication date", required=True),
        _column(
            "outcome",
            "Inspection outcome: written statement of action required?",
            r"inspection outcome: written statement of action required\??",
            required=True,
        ),
        _column(
            "weaknesses",
            "Number significant weaknesses identified",
            r"number (?:of )?significant weaknesses identified.*",
        ),
        _column("revisit_started", "Revisit start date"),
        _column("revisit_published", "Revisit publication date"),
        _column(
            "revisit_outcome",
            "Revisit outcome: sufficient progress in addressing all significant weaknesses?",
            r"revisit outcome: sufficient progress.*",
        ),
        # The two counts after it (their exact headers unconfirmed): weaknesses where the
        # revisit found sufficient progress, and where it did not.
        _column(
            "revisit_addressed",
            "Number of significant weaknesses with sufficient progress",
            r"(?!.*(?:insufficient|not sufficient|not made))number .*\bsufficient progress.*",
        ),
        _column(
            "revisit_left",
            "Number of significant weaknesses with insufficient progress",
            r"number .*(?:(?:insufficient|not sufficient|not made sufficient) progress|progress not made).*",
        ),
    ),
)
LAYOUTS = (FRAMEWORK_2023, FRAMEWORK_2016)

#: The 2023 framework's three outcomes as Ofsted's statistics word them.
OUTCOMES_2023: tuple[tuple[re.Pattern[str], Outcome], ...] = (
    (re.compile(r"typically positive|positive experiences", re.I), Outcome.POSITIVE),
    (re.compile(r"inconsistent", re.I), Outcome.INCONSISTENT),
    (re.compile(r"widespread and/?or systemic failings", re.I), Outcome.SIGNIFICANT_CONCERNS),
)
YES = {"yes", "y"}
NO = {"no", "n"}
#: A revisit's answer: sufficient progress in addressing all, some or none of the weaknesses.
PROGRESS = {"yes": "yes", "some": "some", "no": "no"}
URL = re.compile(r"https?://[^\s\"')]+")


@dataclass(frozen=True)
class Revisit:
    """A 2016-2022 revisit: did the area make sufficient progress on its significant weaknesses."""

    published: dt.date
    started: dt.date | None
    #: "yes", "some" or "no"; None when the cell says something else (reported as a problem).
    progress: str | None
    progress_text: str
    #: Significant weaknesses it found sufficient progress on, and not, where the sheet counts.
    addressed: int | None = None
    left: int | None = None


@dataclass(frozen=True)
class Inspection:
    """One row of a data sheet: one area SEND inspection as Ofsted's statistics record it."""

    framework: str
    sheet: str
    #: The row's number in the sheet, 1-based as a spreadsheet shows it.
    row: int
    #: The council or partnership as written ("Bristol", "Durham", "Bedford Borough").
    area: str
    #: The ONS code (2016-2022 layout only).
    code: str
    published: dt.date
    started: dt.date | None
    outcome: Outcome
    #: The outcome as the cell words it.
    outcome_text: str
    priority_action_plan: bool | None = None
    priority_actions: int | None = None
    weaknesses: int | None = None
    region: str = ""
    link: str = ""
    revisit: Revisit | None = None


@dataclass
class DataSheet:
    """The data sheet found in a workbook: where, in which layout, and its readable rows."""

    name: str
    layout: Layout
    #: 1-based, as a spreadsheet shows it.
    header_row: int
    inspections: list[Inspection] = field(default_factory=list)
    #: Rows that could not be read, each in a sentence ("row 12: ...").
    problems: list[str] = field(default_factory=list)


def normalise_header(cell: Cell) -> str:
    """A header as the layouts spell it: lower case, one space, no "[note 3]" markers."""
    text = str(cell or "").replace("\u2019", "'").replace("\u00a0", " ").lower()
    text = re.sub(r"\[(?:note|notes|x|c)[^\]]*\]", " ", text)
    return " ".join(text.split()).strip()


def read_workbook(body: bytes) -> DataSheet:
    """The workbook's data sheet, read. Raises NotASpreadsheet or UnknownLayout."""
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(body))
    except (CalamineError, ValueError, OSError) as exc:
        raise NotASpreadsheet(f"not a spreadsheet calamine can read ({exc})") from None
    names = list(workbook.sheet_names)
    for name in names:
        try:
            rows = workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
        except (CalamineError, ValueError) as exc:
            raise NotASpreadsheet(f"sheet {name!r} cannot be read ({exc})") from None
        found = find_header(rows)
        if found is not None:
            index, layout, columns = found
            return read_sheet(name, rows, index, layout, columns)
    listed = ", ".join(repr(name) for name in names) or "none"
    wanted = " or ".join(
        ", ".join(f'"{c.label}"' for c in layout.columns if c.required) + f" ({layout.name})"
        for layout in LAYOUTS
    )
    raise UnknownLayout(
        f"no sheet has a known header row in its first {HEADER_ROWS} rows (sheets: {listed});"
        f" looked for a row with {wanted}"
    )


def find_header(rows: Sequence[Sequence[Cell]]) -> tuple[int, Layout, dict[str, int]] | None:
    """(row index, layout, column indexes) of the first known header row, or None."""
    for index, row in enumerate(rows[:HEADER_ROWS]):
        for layout in LAYOUTS:
            columns = layout.locate(row)
            if columns is not None:
                return index, layout, columns
    return None


def read_sheet(
    name: str,
    rows: Sequence[Sequence[Cell]],
    header_index: int,
    layout: Layout,
    columns: dict[str, int],
) -> DataSheet:
    """Every data row under the header; rows without a council are notes, and skipped."""
    sheet = DataSheet(name, layout, header_index + 1)
    for number, row in _data_rows(rows, header_index, columns):
        try:
            sheet.inspections.append(_inspection(layout, name, number, row, columns))
        except ValueError as exc:
            sheet.problems.append(f"row {number}: {exc}")
    return sheet


def _data_rows(
    rows: Sequence[Sequence[Cell]], header_index: int, columns: dict[str, int]
) -> Iterator[tuple[int, Sequence[Cell]]]:
    for index in range(header_index + 1, len(rows)):
        row = rows[index]
        if _text(_cell(row, columns["area"])):
            yield index + 1, row


def _inspection(
    layout: Layout, sheet: str, number: int, row: Sequence[Cell], columns: dict[str, int]
) -> Inspection:
    def get(key: str) -> Cell:
        return _cell(row, columns[key]) if key in columns else None

    area = _text(get("area"))
    published = as_date(get("published"))
    if published is None:
        raise ValueError(f"{area}: publication date {_text(get('published'))!r} is not a date")
    outcome_text = _text(get("outcome"))
    outcome = (
        outcome_2023(outcome_text) if layout is FRAMEWORK_2023 else _wsoa_outcome(outcome_text)
    )
    if outcome is None:
        raise ValueError(f"{area}: inspection outcome {outcome_text!r} is not one known")
    return Inspection(
        framework=layout.name,
        sheet=sheet,
        row=number,
        area=area,
        code=_text(get("code")).upper(),
        published=published,
        started=as_date(get("started")),
        outcome=outcome,
        outcome_text=outcome_text,
        priority_action_plan=_yes_no(get("plan")),
        priority_actions=_count(get("priority_actions")),
        weaknesses=_count(get("weaknesses")),
        region=_text(get("region")),
        link=_link(get("link")),
        revisit=_revisit(
            get("revisit_started"),
            get("revisit_published"),
            get("revisit_outcome"),
            (_count(get("revisit_addressed")), _count(get("revisit_left"))),
        ),
    )


def outcome_2023(text: str) -> Outcome | None:
    """ "Widespread and/or systemic failings" -> significant_concerns; None if not known."""
    for pattern, outcome in OUTCOMES_2023:
        if pattern.search(text):
            return outcome
    return None


def _wsoa_outcome(text: str) -> Outcome | None:
    answer = _yes_no(text)
    if answer is None:
        return None
    return Outcome.WSOA_REQUIRED if answer else Outcome.NO_WSOA


def _revisit(
    started: Cell, published: Cell, outcome: Cell, counts: tuple[int | None, int | None]
) -> Revisit | None:
    """The revisit, when it has been published ("Not revisited yet" is none)."""
    on = as_date(published)
    if on is None:
        return None
    text = _text(outcome)
    return Revisit(on, as_date(started), PROGRESS.get(text.lower()), text, *counts)


def as_date(cell: Cell) -> dt.date | None:
    """A date cell, or a date written as text ("23/02/2024", "23 February 2024")."""
    if isinstance(cell, dt.datetime):
        return cell.date()
    if isinstance(cell, dt.date):
        return cell
    if isinstance(cell, str):
        return parse_date(cell)
    return None


def _cell(row: Sequence[Cell], index: int) -> Cell:
    return row[index] if index < len(row) else None


def _text(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    return " ".join(str(cell).split())


def _yes_no(cell: Cell) -> bool | None:
    text = _text(cell).lower()
    if text in YES:
        return True
    if text in NO:
        return False
    return None


def _count(cell: Cell) -> int | None:
    if isinstance(cell, bool):
        return None
    if isinstance(cell, int | float):
        return int(cell)
    text = _text(cell)
    return int(text) if text.isdigit() else None


def _link(cell: Cell) -> str:
    """The row's link to the council's Ofsted page, when the cell shows its address."""
    match = URL.search(_text(cell))
    return match.group(0) if match else ""
