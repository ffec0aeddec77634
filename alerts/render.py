"""Rendering a summary for each channel: email (plain text and HTML), Telegram HTML, and
Apprise services (text, Markdown or HTML, as each service reads, within its limits).

Jinja2 autoescapes the HTML templates; Telegram's HTML is escaped by hand with
`html.escape` and cut to Telegram's 4096-character limit at a line boundary, never
inside a tag or an entity.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from alerts.summary import Summary, format_date
from sendwatch.text import web_url

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
    lines += [f"{e(fact.label)}: {e(fact.value)}" for fact in summary.facts]
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


# -- Apprise: one message in the format the service reads, within its limits ----------------

#: The body formats Apprise services read (Apprise's `NotifyFormat` values).
TEXT, MARKDOWN, HTML = "text", "markdown", "html"
#: Summary text longer than this is cut before anything else is (as for Telegram).
APPRISE_TEXT_CHARS = 1500
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>~|#])")


@dataclass(frozen=True)
class Message:
    """An Apprise notification: a title (empty for services without one) and a body."""

    title: str
    body: str


class _Markup:
    """Escaping, bold and links in one body format; scraped text is always escaped."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.newline = "<br>\n" if fmt == HTML else "\n"

    def text(self, value: str) -> str:
        if self.fmt == HTML:
            return html.escape(value)
        if self.fmt == MARKDOWN:
            return _MARKDOWN_SPECIAL.sub(r"\\\1", value)
        return value

    def bold(self, value: str) -> str:
        if self.fmt == HTML:
            return f"<b>{html.escape(value)}</b>"
        if self.fmt == MARKDOWN:
            return f"**{self.text(value)}**"
        return value

    def link(self, label: str, url: str) -> str:
        """A link where the format has them; a URL that is not http(s) is shown as text."""
        href = web_url(url)
        if href is None:
            return f"{self.text(label)}: {self.text(_clip(url, 200))}"
        if self.fmt == HTML:
            return f'<a href="{html.escape(href, quote=True)}">{html.escape(label)}</a>'
        if self.fmt == MARKDOWN:
            target = href.replace("(", "%28").replace(")", "%29").replace(" ", "%20")
            return f"[{self.text(label)}]({target})"
        return f"{label}: {href}"


def _facts(summary: Summary, markup: _Markup) -> list[str]:
    """The title, the case the event follows, and what the case says of it: a line each,
    escaped."""
    lines = []
    if summary.title and summary.title != summary.headline:
        lines.append(markup.text(_clip(summary.title, 300)))
    if summary.follows:
        lines.append(markup.text(f"This {summary.follows}."))
    lines += [markup.text(str(fact)) for fact in summary.facts]
    return lines


def render_apprise(
    summary: Summary, fmt: str, title_limit: int, body_limit: int, unsubscribe_url: str
) -> Message:
    """One event for an Apprise service: `fmt` is the body format it reads, `title_limit`
    its title length (0: it has no title, so the headline opens the body) and `body_limit`
    its body length. A long summary is shortened, never split into several messages: the
    summary text first, then the closing lines, the links last of all."""
    markup = _Markup(fmt)
    title, head = _title(summary.headline, title_limit, markup)
    head += _facts(summary, markup)
    tail = [markup.link(link.label, link.url) for link in summary.links]
    tail.append(markup.link("Stop these alerts", unsubscribe_url))
    limit = _room(title, body_limit)
    text = summary.text
    budget = APPRISE_TEXT_CHARS
    while True:
        paragraph = [markup.text(_clip(text, budget))] if text and budget > 0 else []
        body = _join(markup, head, paragraph, tail)
        if len(body) <= limit or budget <= 0:
            break
        budget = min(budget, len(text)) - (len(body) - limit) - 1
    if len(body) <= limit:
        return Message(title, body)
    return Message(title, _fit_body(markup, head, tail, limit))


def render_apprise_digest(
    summaries: Sequence[Summary],
    fmt: str,
    title_limit: int,
    body_limit: int,
    unsubscribe_url: str,
) -> Message:
    """The day's events in one Apprise message, a line each with its first link; what does not
    fit is counted in a last line ("… and 4 more"), never sent as a second message."""
    markup = _Markup(fmt)
    count = len(summaries)
    title, head = _title(
        f"{count} SEND event{'s' if count != 1 else ''} today", title_limit, markup
    )
    lines = [_digest_line(summary, markup) for summary in summaries]
    stop = [markup.link("Stop these alerts", unsubscribe_url)]
    limit = _room(title, body_limit)
    for shown in range(count, -1, -1):
        more = [markup.text(f"… and {count - shown} more")] if shown < count else []
        body = _join(markup, head, lines[:shown] + more, stop)
        if len(body) <= limit:
            return Message(title, body)
    return Message(title, _fit_body(markup, head, stop, limit))


def _digest_line(summary: Summary, markup: _Markup) -> str:
    when = format_date(summary.happened_on)
    line = markup.text(f"• {summary.headline} ({when})")
    if summary.links:
        first = summary.links[0]
        line += markup.text(" ") + markup.link(first.label, first.url)
    return line


def _title(headline: str, title_limit: int, markup: _Markup) -> tuple[str, list[str]]:
    """The message's title, and the body's first lines: the headline goes in the body, in bold,
    for a service without titles (Apprise would otherwise glue it on unescaped)."""
    if title_limit <= 0:
        return "", [markup.bold(headline)]
    return _clip(_subject(headline), title_limit), []


def _room(title: str, body_limit: int) -> int:
    """The body's room: some services count the title within the body's limit."""
    return max(1, body_limit - (len(title) + 2 if title else 0))


def _join(markup: _Markup, head: list[str], middle: list[str], tail: list[str]) -> str:
    blocks = [markup.newline.join(block) for block in (head, middle, tail) if block]
    return (markup.newline * 2 if markup.fmt != HTML else "<br>\n<br>\n").join(blocks)


def _fit_body(markup: _Markup, lines: list[str], tail: list[str], limit: int) -> str:
    """Whole lines only (no link or tag is ever cut): lines dropped from the end of `lines`,
    then of `tail`; a first line still too long is cut as plain text."""
    lines, tail = list(lines), list(tail)
    while True:
        body = _join(markup, lines, [], tail)
        if len(body) <= limit:
            return body
        if len(lines) > 1:
            lines.pop()
        elif tail:
            tail.pop()
        else:
            plain = re.sub(r"<[^>]*>", "", html.unescape(body)) if markup.fmt == HTML else body
            return plain[: max(0, limit - 1)] + "…"
