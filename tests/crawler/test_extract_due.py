"""When the next inspection is due, as the real area SEND reports say it: "The next full area
SEND inspection will be within approximately five years" (Bedford, positive), "... three years"
(Blackpool, inconsistent), "A monitoring inspection will be carried out within approximately 18
months" and "The next full reinspection will be within approximately three years" (Bexley,
significant concerns); 2026 reports write the number in digits ("approximately 5 years")."""

from __future__ import annotations

import pytest

from crawler.extract import Document, extract, months_within
from crawler.pdf import pdf_text
from sendwatch.vocab import Kind
from tests.paths import SAMPLES


@pytest.mark.parametrize(
    ("phrase", "months"),
    [
        ("three years", 36),
        ("five years", 60),
        ("5 years", 60),
        ("18 months", 18),
        ("eighteen months", 18),
        ("one year", 12),
        (None, None),
        ("", None),
        ("several years", None),
        ("zero years", None),
    ],
)
def test_months_within(phrase: str | None, months: int | None) -> None:
    assert months_within(phrase) == months


@pytest.mark.parametrize(
    ("file_id", "la", "next_months", "monitoring_months"),
    [
        ("50240360", "Bexley", 36, 18),  # significant concerns: monitoring, then reinspection
        ("50251111", "Blackpool", 36, None),  # inconsistent
        ("50262222", "Bedford", 60, None),  # positive
    ],
)
def test_real_reports_state_when_the_next_inspection_is(
    file_id: str, la: str, next_months: int, monitoring_months: int | None
) -> None:
    text = pdf_text((SAMPLES / "ofsted" / "files" / f"{file_id}.pdf").read_bytes())
    result = extract(
        Document(
            title=f"{la}: Area SEND full inspection",
            text=text,
            kind_hint=Kind.INSPECTION_REPORT,
            official=True,
        )
    )
    fields = result.fields()
    assert fields["next_inspection_within_months"] == next_months
    assert fields.get("monitoring_within_months") == monitoring_months


def test_digits_as_2026_reports_write_them() -> None:
    text = (
        "Inspection outcome The local area partnership's special educational needs and/or "
        "disabilities (SEND) arrangements typically lead to positive experiences and outcomes "
        "for children and young people with SEND. The next full area SEND inspection will be "
        "within approximately 5 years. Information about the local area partnership"
    )
    result = extract(
        Document(
            title="Area SEND inspection of Bedford Borough Local Area Partnership",
            text=text,
            kind_hint=Kind.INSPECTION_REPORT,
            official=True,
        )
    )
    assert result.fields()["next_inspection_within_months"] == 60
    assert "monitoring_within_months" not in result.fields()


def test_a_notice_states_no_next_inspection() -> None:
    result = extract(
        Document(
            title="Improvement notice issued to Bexley Council: May 2024",
            text="The council must improve its SEND services by 31 August 2025.",
        )
    )
    assert "next_inspection_within_months" not in result.fields()
