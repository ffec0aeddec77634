"""Scraped text made safe to keep and to show: one rule, used where findings enter the store
and again, defensively, by every renderer.

A broken PDF or a hostile page can carry characters XML 1.0 forbids (NUL, other C0
controls, lone surrogates, U+FFFE/FFFF); one of them in one title once made every
Atom and RSS feed answer 500. And a link is only a link when it is http(s): anything
else a source wrote (``javascript:``, ``data:``) is shown as text, never as an href.

And a moment (a run, the next run) is shown with its date and zone, wherever it is shown.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

#: What XML 1.0 allows: tab, newline, carriage return and the rest of Unicode but
#: surrogates, U+FFFE and U+FFFF. Everything else is dropped.
_XML_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_WEB_SCHEMES = ("http", "https")


def xml_safe(text: str) -> str:
    """`text` without the characters XML (and so every feed) cannot carry."""
    return _XML_ILLEGAL.sub("", text)


def xml_safe_data(value: Any) -> Any:
    """Every string inside a JSON-like value (dicts, lists) made XML-safe."""
    if isinstance(value, str):
        return xml_safe(value)
    if isinstance(value, Mapping):
        return {xml_safe(str(key)): xml_safe_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [xml_safe_data(item) for item in value]
    return value


def web_url(url: str) -> str | None:
    """`url` if it may be rendered as a link (http or https, with a host), else None."""
    if not url or any(ch.isspace() or not ch.isprintable() for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in _WEB_SCHEMES and parts.hostname else None


#: The most of what someone typed that an error message quotes back.
QUOTED = 100


def quoted(text: str, limit: int = QUOTED) -> str:
    """`text` quoted for an error message, cut to `limit` characters: an error reply never
    echoes a whole 100 KB parameter back."""
    shown = text if len(text) <= limit else text[:limit] + "…"
    return repr(shown)


def moment(when: dt.datetime) -> str:
    """ "2026-12-07 17:13 UTC": a time with its date and zone, so that tomorrow's never reads
    as today's (the daemon's log and `sendwatch status` alike)."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
