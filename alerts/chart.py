"""The home page's chart of events per month (pygal SVG), and the same numbers as a table.

The SVG is drawn for sighted readers: whole-number axis, the page's font, a legend of the
kinds that occur, labels that fit. It is one image to assistive technology (role="img" with
a name); the table beneath it carries the numbers for screen readers and for anyone who
wants them exactly.

With no event to draw (a new store, or none in these three years) nothing is asked of pygal:
its axes need a series, and versions differ in what they do without one (3.1 raises). The
chart is then a plain drawing of its own that says there is nothing yet, and so does the
sentence in place of the table.

pygal is imported only to draw: on import it adds a finder of its own to `sys.meta_path` (an
old-style one, with no `find_spec`), which code that walks the import hooks trips on (pytest's
importlib import mode, for one); a process that reads the chart's constants, or draws nothing,
never gets it.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass
from math import ceil
from typing import TYPE_CHECKING

from alerts.summary import KIND_LABELS
from sendwatch.vocab import Kind
from storage.queries import has_events, monthly_counts
from storage.store import Store

if TYPE_CHECKING:
    import pygal
    from pygal.style import Style

#: The pages' own font (base.html), so the chart reads as part of the page.
FONT = "Arial, Helvetica, sans-serif"
#: One colour per kind, in Kind's order; each strong enough against white (3:1 or more).
COLOURS = ("#d4351c", "#00703c", "#6f3f91", "#1d70b8", "#b58105", "#912b88", "#28a197", "#505a5f")
NAME = "Bar chart of SEND events per month over the last three years, by kind. The same numbers are in the table below it."
SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL | re.IGNORECASE)
YEARS = 3
#: The drawing's width, in its own units. The page scales it to fit (base.html: the whole width,
#: at most 560 px), so its text is sized for the narrowest it is shown at.
WIDTH = 400
#: The narrowest the page shows the chart: a 390 px phone, less the page's margins (base.html).
NARROWEST = 366
#: The smallest text anyone should have to read on the chart, in CSS pixels, at its narrowest.
SMALLEST_TEXT = 12
#: The chart's text size in the drawing's units: SMALLEST_TEXT once scaled down to NARROWEST.
TEXT = ceil(SMALLEST_TEXT * WIDTH / NARROWEST)
#: Months between the axis's labels: as many as fit across WIDTH at TEXT.
LABEL_EVERY = 12
#: The height of the chart that has nothing to draw: a line of text in a frame.
EMPTY_HEIGHT = 160
#: What the chart and the sentence in place of its table say when there is nothing to draw.
NOTHING_YET = "No events recorded yet"
NOTHING_THESE_YEARS = "No events in the last three years"


@dataclass(frozen=True)
class MonthRow:
    """One month in the table: its name, its count of each kind shown, and their total."""

    month: str
    counts: tuple[int, ...]
    total: int


@dataclass(frozen=True)
class Chart:
    """What the home page shows of events per month: the drawing and its table."""

    svg: str
    #: The labels of the kinds that occur, in the order of the table's columns.
    kinds: tuple[str, ...]
    #: The months that had any event, oldest first (the others are all zeros).
    rows: tuple[MonthRow, ...]
    #: When there are no rows, what the chart says instead (NOTHING_YET, NOTHING_THESE_YEARS).
    nothing: str = ""


def months_since(start: dt.date, today: dt.date) -> list[dt.date]:
    """The first day of each month from `start`'s to `today`'s."""
    months = []
    year, month = start.year, start.month
    while (year, month) <= (today.year, today.month):
        months.append(dt.date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def events_chart(store: Store, today: dt.date | None = None) -> Chart:
    """Events per month by kind over the last three years, as an SVG and as table rows."""
    today = today or dt.date.today()
    start = dt.date(today.year - YEARS, today.month, 1)
    counts = monthly_counts(store, start)
    months = months_since(start, today)
    present = [kind for kind in Kind if any(counts.get((f"{m:%Y-%m}", str(kind))) for m in months)]
    series = {kind: [counts.get((f"{m:%Y-%m}", str(kind)), 0) for m in months] for kind in present}
    rows = tuple(
        MonthRow(f"{m:%B %Y}", tuple(series[k][i] for k in present), total)
        for i, m in enumerate(months)
        if (total := sum(series[k][i] for k in present))
    )
    if not rows:
        nothing = NOTHING_THESE_YEARS if has_events(store) else NOTHING_YET
        return Chart(empty_svg(nothing), (), (), nothing)
    svg = _svg(months, series, max(row.total for row in rows))
    return Chart(svg, tuple(KIND_LABELS[kind] for kind in present), rows)


def empty_svg(text: str) -> str:
    """The chart with nothing to draw, drawn without pygal: `text` in a frame the page's width,
    one image named by that text (as the drawn chart is named by NAME)."""
    name = html.escape(text, quote=True)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{name}"'
        f' viewBox="0 0 {WIDTH} {EMPTY_HEIGHT}" width="{WIDTH}" height="{EMPTY_HEIGHT}">'
        f"<title>{name}</title>"
        f'<rect x="0.5" y="0.5" width="{WIDTH - 1}" height="{EMPTY_HEIGHT - 1}"'
        ' fill="#ffffff" stroke="#b1b4b6"/>'
        f'<text x="{WIDTH // 2}" y="{EMPTY_HEIGHT // 2}" text-anchor="middle"'
        f' dominant-baseline="middle" font-family="{FONT}" font-size="20" fill="#0b0c0c">'
        f"{name}</text></svg>"
    )


def _svg(months: list[dt.date], series: dict[Kind, list[int]], highest: int) -> str:
    """The bars, by pygal: only ever with a series to draw (see the module's docstring)."""
    import pygal

    chart = pygal.StackedBar(_config(highest, len(series)), style=_style(list(series)))
    labels = [f"{m:%b %Y}" for m in months]
    chart.x_labels = labels
    chart.x_labels_major = labels[::LABEL_EVERY]
    for kind, values in series.items():
        chart.add(KIND_LABELS[kind], values)
    svg: str = chart.render(is_unicode=True)
    return _accessible(SCRIPT.sub("", svg))


def y_labels(highest: int) -> list[int]:
    """Whole numbers from 0 past the highest month, at most about six of them."""
    step = max(1, ceil(highest / 5))
    top = max(step, ceil(highest / step) * step)
    return list(range(0, top + 1, step))


def _config(highest: int, kinds: int) -> pygal.Config:
    import pygal

    labels = y_labels(highest)
    return pygal.Config(
        js=[],
        disable_xml_declaration=True,
        width=WIDTH,
        height=WIDTH * 3 // 4 + ceil(1.5 * TEXT) * kinds,  # a legend line per kind
        show_legend=True,
        legend_at_bottom=True,
        legend_at_bottom_columns=1,
        truncate_legend=-1,  # never cut a kind's name short
        truncate_label=-1,
        y_labels=labels,
        range=(0, labels[-1]),
        show_minor_x_labels=False,
        x_label_rotation=0,
        margin=16,
        margin_right=3 * TEXT,  # half the last month's label, centred on the last bar
        spacing=12,
        tooltip_border_radius=0,
    )


def _style(kinds: list[Kind]) -> Style:
    from pygal.style import Style

    colours = tuple(COLOURS[list(Kind).index(kind) % len(COLOURS)] for kind in kinds)
    return Style(
        font_family=FONT,
        label_font_size=TEXT,
        major_label_font_size=TEXT,
        legend_font_size=TEXT,
        background="#ffffff",
        plot_background="#ffffff",
        foreground="#0b0c0c",
        foreground_strong="#0b0c0c",
        foreground_subtle="#b1b4b6",
        opacity="1",
        opacity_hover="1",
        colors=colours,
    )


def _accessible(svg: str) -> str:
    """One image with a name for assistive technology (the table gives the numbers);
    pygal's own title ("Pygal") replaced by that name, so a hover says what it is."""
    name = html.escape(NAME, quote=True)
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{name}" ', 1)
    return svg.replace("<title>Pygal</title>", f"<title>{name}</title>", 1)
