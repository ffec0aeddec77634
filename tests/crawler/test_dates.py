"""Dates as the sources write them."""

from __future__ import annotations

import datetime as dt

import pytest

from crawler.dates import parse_date, parse_date_range, parse_deadline, resolve_relative


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T15:30:00.000+01:00", dt.date(2024, 5, 1)),
        ("15 July 2024", dt.date(2024, 7, 15)),
        ("Area SEND full inspection, pdf - 04 February 2025", dt.date(2025, 2, 4)),
        ("Nov 17, 2025", dt.date(2025, 11, 17)),
        ("November 17, 2025", dt.date(2025, 11, 17)),
        ("Tuesday 1st October 2024", dt.date(2024, 10, 1)),
        ("Tuesday, 1 Oct. 2024", dt.date(2024, 10, 1)),
        ("the 3rd of Sept 2024", dt.date(2024, 9, 3)),
        ("01/05/2024", dt.date(2024, 5, 1)),
        ("31 February 2024", None),
        ("no date here", None),
        ("", None),
    ],
)
def test_parse_date(text: str, expected: dt.date | None) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Inspection dates: 4 to 8 December 2023", (dt.date(2023, 12, 4), dt.date(2023, 12, 8))),
        ("4 December 2023 to 8 December 2023", (dt.date(2023, 12, 4), dt.date(2023, 12, 8))),
        ("29 January 2024 to 2 February 2024", (dt.date(2024, 1, 29), dt.date(2024, 2, 2))),
        ("30 September to 4 October 2024", (dt.date(2024, 9, 30), dt.date(2024, 10, 4))),
        ("28 February to 4 March 2022", (dt.date(2022, 2, 28), dt.date(2022, 3, 4))),
        ("30 December 2024 to 3 January 2025", (dt.date(2024, 12, 30), dt.date(2025, 1, 3))),
        ("The previous full inspection was on 19 March 2018.", None),
    ],
)
def test_parse_date_range(text: str, expected: tuple[dt.date, dt.date] | None) -> None:
    assert parse_date_range(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("deliver improvements by the end of August 2025.", dt.date(2025, 8, 31)),
        ("must be made by 31 March 2025", dt.date(2025, 3, 31)),
        ("by February 2024", dt.date(2024, 2, 29)),
        ("by the close of June 2026", dt.date(2026, 6, 30)),
        ("within 12 months", None),
    ],
)
def test_parse_deadline(text: str, expected: dt.date | None) -> None:
    assert parse_deadline(text) == expected


@pytest.mark.parametrize(
    ("text", "reference", "expected"),
    [
        ("issued yesterday (1 May)", dt.date(2024, 5, 2), dt.date(2024, 5, 1)),
        ("issued yesterday", dt.date(2024, 5, 2), dt.date(2024, 5, 1)),
        ("published on Friday (23 February)", dt.date(2024, 2, 26), dt.date(2024, 2, 23)),
        ("published on Friday", dt.date(2024, 2, 26), dt.date(2024, 2, 23)),
        ("issued on 30 December", dt.date(2025, 1, 2), dt.date(2024, 12, 30)),
        ("today", dt.date(2024, 5, 2), dt.date(2024, 5, 2)),
        ("nothing relative", dt.date(2024, 5, 2), None),
    ],
)
def test_resolve_relative(text: str, reference: dt.date, expected: dt.date | None) -> None:
    assert resolve_relative(text, reference) == expected
