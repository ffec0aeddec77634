"""Dates as the sources write them, read into `datetime.date`.

GOV.UK's APIs give ISO 8601; Ofsted writes "15 July 2024" and ranges such as
"4 to 8 December 2023" or "29 January 2024 to 2 February 2024"; Local Government
Lawyer writes "Nov 17, 2025"; news copy says "yesterday (1 May)" or "by the end of
August 2025". Each reader returns None rather than guess.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

MONTHS: dict[str, int] = {}
for _number in range(1, 13):
    MONTHS[calendar.month_name[_number].lower()] = _number
    MONTHS[calendar.month_abbr[_number].lower()] = _number
MONTHS["sept"] = 9

_MONTH = r"(?P<{name}>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<{name}>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<{name}>(?:19|20)\d\d)"
_WEEKDAY = r"(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day,?\s+)?"


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile(template, re.IGNORECASE)


_DMY = _pattern(
    rf"\b{_WEEKDAY}{_DAY.format(name='d')}\s+(?:of\s+)?{_MONTH.format(name='m')},?\s+{_YEAR.format(name='y')}\b"
)
_MDY = _pattern(
    rf"\b{_MONTH.format(name='m')}\s+{_DAY.format(name='d')},?\s+{_YEAR.format(name='y')}\b"
)
_ISO = re.compile(r"\b(?P<y>(?:19|20)\d\d)-(?P<m>[01]\d)-(?P<d>[0-3]\d)(?!\d)")
_SLASHED = re.compile(r"\b(?P<d>[0-3]?\d)/(?P<m>[01]?\d)/(?P<y>(?:19|20)\d\d)\b")
_MONTH_YEAR = _pattern(rf"\b{_MONTH.format(name='m')}\s+{_YEAR.format(name='y')}\b")
_DAY_MONTH = _pattern(rf"\b{_DAY.format(name='d')}\s+{_MONTH.format(name='m')}\b(?!,?\s+\d{{4}})")


def _make(year: str | int, month: str | int, day: str | int) -> dt.date | None:
    month_number = month if isinstance(month, int) else MONTHS.get(month.lower().rstrip("."))
    if month_number is None and isinstance(month, str) and month.isdigit():
        month_number = int(month)
    try:
        return dt.date(int(year), int(month_number or 0), int(day))
    except (TypeError, ValueError):
        return None


def spoken_date(day: dt.date) -> str:
    """A date as titles and texts write it in the UK: "4 March 2026"."""
    return f"{day.day} {day:%B %Y}"


def parse_date(text: str | None) -> dt.date | None:
    """The first full date written in `text`, in any of the sources' formats."""
    if not text:
        return None
    text = " ".join(text.split())
    found = []
    for pattern in (_ISO, _DMY, _MDY, _SLASHED):
        match = pattern.search(text)
        if match:
            date = _make(match["y"], match["m"], match["d"])
            if date:
                found.append((match.start(), date))
    return min(found)[1] if found else None


def parse_month(text: str | None) -> tuple[int, int] | None:
    """(year, month) from "March 2025"."""
    match = _MONTH_YEAR.search(text or "")
    if not match:
        return None
    return int(match["y"]), MONTHS[match["m"].lower().rstrip(".")]


def month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


_RANGE = _pattern(
    rf"{_DAY.format(name='d1')}(?:\s+{_MONTH.format(name='m1')})?(?:\s+{_YEAR.format(name='y1')})?"
    rf"\s*(?:to|-|\u2013|and)\s*"
    rf"{_DAY.format(name='d2')}\s+{_MONTH.format(name='m2')}\s+{_YEAR.format(name='y2')}"
)


def parse_date_range(text: str | None) -> tuple[dt.date, dt.date] | None:
    """The first range such as "4 to 8 December 2023" or "29 January 2024 to 2 February 2024"."""
    match = _RANGE.search(" ".join((text or "").split()))
    if not match:
        return None
    end = _make(match["y2"], match["m2"], match["d2"])
    start = _make(match["y1"] or match["y2"], match["m1"] or match["m2"], match["d1"])
    if start is None or end is None or start > end:
        return None
    return start, end


_DEADLINE = _pattern(
    r"\bby\s+(?:the\s+)?(?:(?P<end>end|close)\s+of\s+)?"
    rf"(?:(?:{_DAY.format(name='d')})\s+)?{_MONTH.format(name='m')}\s+{_YEAR.format(name='y')}"
)


def parse_deadline(text: str | None) -> dt.date | None:
    """A deadline such as "by the end of August 2025" (the month's last day) or "by 31 March 2025"."""
    match = _DEADLINE.search(" ".join((text or "").split()))
    if not match:
        return None
    year, month = int(match["y"]), MONTHS[match["m"].lower().rstrip(".")]
    if match["d"]:
        return _make(year, month, match["d"])
    return month_end(year, month)


_RELATIVE = _pattern(
    r"\b(?P<word>yesterday|today|last\s+week|this\s+week|on\s+(?P<weekday>monday|tuesday|wednesday|thursday|friday|saturday|sunday))\b"
    rf"(?:\s*\(\s*(?:{_WEEKDAY})?{_DAY.format(name='d')}\s+{_MONTH.format(name='m')}\s*\))?"
)


def resolve_day_month(day: str | int, month: str, reference: dt.date) -> dt.date | None:
    """A "1 May" without a year: the latest such date not after the reference date."""
    for year in (reference.year, reference.year - 1):
        date = _make(year, month, day)
        if date and date <= reference:
            return date
    return None


def resolve_relative(text: str, reference: dt.date) -> dt.date | None:
    """The date an article means by "yesterday (1 May)", "on Tuesday" or "1 May", given its own date."""
    text = " ".join(text.split())
    match = _RELATIVE.search(text)
    if match:
        if match["d"]:
            return resolve_day_month(match["d"], match["m"], reference)
        word = match["word"].lower()
        if word == "yesterday":
            return reference - dt.timedelta(days=1)
        if word == "today":
            return reference
        if match["weekday"]:
            target = list(calendar.day_name).index(match["weekday"].capitalize())
            back = (reference.weekday() - target) % 7
            return reference - dt.timedelta(days=back)
        return None
    bare = _DAY_MONTH.search(text)
    if bare:
        return resolve_day_month(bare["d"], bare["m"], reference)
    return None
