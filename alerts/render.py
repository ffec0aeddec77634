"""Rendering a summary for each channel: email (plain text and HTML), Telegram HTML.

Jinja2 autoescapes the HTML templates; Telegram's HTML is escaped by hand with
`html.escape` and cut to Telegram's 4096-character limit at a line boundary, never
inside a tag or an entity.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from dataclasses import dataclass

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from alerts.summary import Summary, format_date

TELEGRAM_LIMIT = 4096
SUMMARY_CHARS = 1200

templates = Environment(
    loader=PackageLoader("alerts", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.filters["day"] = format_date
templates.filters["isoday"] = lambda iso: format_date(dt.date.fromisoformat(str(iso)))
templates.filters["clip"] = lambda text, limit=SUMMARY_CHARS: _clip(text, limit)


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _subject(text: str) -> str:
    """One line, no control characters: headers must not be injectable."""
    return _clip("".join(ch if ch.isprintable() else " " for ch in text), 200)


def render_email(summary: Summary, unsubscribe_url: str) -> Email:
    context = {"s": summary, "unsubscribe_url": unsubscribe_url}
    return Email(
        subject=_subject(f"[sendwatch] {summary.headline}"),
        text=templates.get_template("alert.txt").render(context),
        html=templates.get_template("alert.html").render(context),
    )


def render_text(summary: Summary) -> str:
    """The alert as plain text, without an email's footer (the console, logs)."""
    return templates.get_template("_event.txt").render({"s": summary}).strip()


def render_digest(summaries: Sequence[Summary], unsubscribe_url: str) -> Email:
    context = {"summaries": summaries, "unsubscribe_url": unsubscribe_url}
    count = len(summaries)
    return Email(
        subject=_subject(f"[sendwatch] {count} SEND event{'s' if count != 1 else ''} today"),
        text=templates.get_template("digest.txt").render(context),
        html=templates.get_template("digest.html").render(context),
    )


def render_telegram(summary: Summary) -> str:
    """Telegram HTML (parse_mode=HTML), escaped, within 4096 characters."""
    e = html.escape
    lines = [f"<b>{e(summary.headline)}</b>"]
    if summary.title and summary.title != summary.headline:
        lines.append(e(_clip(summary.title, 300)))
    if summary.follows:
        lines.append(e(f"This {summary.follows}."))
    lines.append(f"When: {e(format_date(summary.happened_on))}")
    if summary.outcome_label:
        lines.append(f"Outcome: {e(summary.outcome_label)}")
    if summary.deadline:
        passed = "passed " if summary.deadline_passed else ""
        lines.append(f"Deadline: {passed}{e(format_date(summary.deadline))}")
    if summary.text:
        lines.append("")
        lines.append(e(_clip(summary.text, 1500)))
    footer = [""] + [
        f'<a href="{e(link.href, quote=True)}">{e(link.label)}</a>'
        if link.href
        else f"{e(link.label)}: {e(_clip(link.url, 200))}"
        for link in summary.links
    ]
    return _fit(lines, footer)


def _fit(lines: list[str], footer: list[str]) -> str:
    """Whole lines only, so no tag or entity is ever cut; the links are kept if anything is."""
    body = "\n".join(lines)
    tail = "\n".join(footer)
    if len(body) + 1 + len(tail) <= TELEGRAM_LIMIT:
        return f"{body}\n{tail}"
    kept: list[str] = []
    room = TELEGRAM_LIMIT - len(tail) - 3
    for line in lines:
        if len("\n".join([*kept, line])) > room:
            break
        kept.append(line)
    message = "\n".join([*kept, "…", tail])
    return message if len(message) <= TELEGRAM_LIMIT else message[:TELEGRAM_LIMIT]
