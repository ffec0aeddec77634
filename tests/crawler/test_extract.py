"""Extraction: kind, LA, dates and outcome from titles and text as the sources write them."""

from __future__ import annotations

import datetime as dt

import pytest

from crawler.extract import Document, about_the_send_case, classify, extract
from crawler.pdf import pdf_text
from sendwatch.vocab import Kind, Outcome
from tests.paths import SAMPLES


def _kind(title: str, text: str = "", official: bool = True) -> str | None:
    kind = extract(Document(title=title, text=text, official=official)).kind
    return str(kind) if kind else None


@pytest.mark.parametrize(
    ("title", "text", "kind"),
    [
        (
            "Improvement notice issued to London Borough of Bexley: May 2024",
            "SEND services",
            "improvement_notice",
        ),
        ("Council hit with improvement notice following SEND inspection", "", "improvement_notice"),
        ("DfE issues SEND improvement notice to Wirral", "", "improvement_notice"),
        ("Improvement notice lifted for Kent's SEND services", "", "notice_lifted"),
        ("Government lifts SEND improvement notice on Kent County Council", "", "notice_lifted"),
        ("SEND improvement notice stepped down", "", "notice_lifted"),
        ("Council no longer under an improvement notice for SEND", "", "notice_lifted"),
        (
            "Kent update",
            "The improvement notice issued over special educational needs has been lifted after a review.",
            "notice_lifted",
        ),
        (
            "Improvement notice issued to Kent County Council: March 2023",
            "The notice will be lifted when the council shows sufficient progress on SEND.",
            "improvement_notice",
        ),
        (
            "Direction issued to Bournemouth, Christchurch and Poole Council: February 2024",
            "SEND services",
            "statutory_direction",
        ),
        (
            "Revised direction issued to Slough Borough Council: August 2023",
            "SEND",
            "statutory_direction",
        ),
        (
            "Secretary of State issues statutory direction over council's SEND failings",
            "",
            "statutory_direction",
        ),
        ("Area SEND monitoring inspection of Bexley", "", "monitoring_inspection"),
        ("Local area SEND revisit finds sufficient progress", "", "monitoring_inspection"),
        (
            "Ofsted finds widespread failings in SEND services in London borough",
            "area SEND inspection",
            "inspection_report",
        ),
        ("Council's written statement of action for SEND accepted", "", "wsoa"),
        ("Council loses EHCP appeal at tribunal", "special educational needs", "news"),
        (
            "Improvement notice issued to Halton Borough Council: March 2024",
            "children's social care judged inadequate (ILACS); child protection",
            None,
        ),
        ("High Court quashes inspector's decision on housing appeal", "planning", None),
        ("Councils send letters to parents", "", None),
    ],
)
def test_kind(title: str, text: str, kind: str | None) -> None:
    assert _kind(title, text) == kind


@pytest.mark.parametrize(
    ("title", "kind"),
    [
        ("Council Hit With Improvement Notice Following Send Inspection", "improvement_notice"),
        ("COUNCIL HIT WITH IMPROVEMENT NOTICE FOLLOWING SEND INSPECTION", "improvement_notice"),
        ("Area Send Inspection Of Bexley Finds Widespread Failings", "inspection_report"),
        ("Ofsted finds failings in services for children with Send in Bexley", "news"),
        ("Minister to send commissioner to council", None),
        ("Council to send improvement notice reply to DfE", None),
    ],
)
def test_kind_is_read_in_any_case(title: str, kind: str | None) -> None:
    assert _kind(title, official=False) == kind


EXPLAINER_TEXT = (
    "Area SEND inspections are carried out jointly by Ofsted and the Care Quality Commission."
    " An area SEND inspection looks at how the local area partnership meets the needs of"
    " children with special educational needs and disabilities. Where there are widespread"
    " and/or systemic failings, the partnership must produce a priority action plan."
)


@pytest.mark.parametrize(
    "title",
    ["SEND inspections: what you need to know", "Explainer: how area SEND inspections work"],
)
def test_a_guide_to_inspections_is_news(title: str) -> None:
    result = extract(Document(title=title, text=EXPLAINER_TEXT))
    assert (result.kind, result.local_authority) == (Kind.NEWS, None)
    # The same words from an official source (Ofsted, DfE) would be its report.
    assert extract(Document(title=title, text=EXPLAINER_TEXT, official=True)).kind is (
        Kind.INSPECTION_REPORT
    )


def test_news_of_a_councils_inspection_stays_an_inspection_report() -> None:
    result = extract(
        Document(
            title="Ofsted finds widespread failings in SEND services in London borough",
            text="An area SEND inspection has found widespread and/or systemic failings in Bexley.",
        )
    )
    assert result.kind is Kind.INSPECTION_REPORT
    assert result.local_authority is not None and result.local_authority.ons_code == "E09000004"


def test_news_article_about_a_notice() -> None:
    result = extract(
        Document(
            title="Council hit with improvement notice following SEND inspection",
            text=(
                "The Department for Education has issued a London borough with an improvement notice."
                " The London Borough of Bexley was issued with the improvement notice yesterday (1 May)."
                " It must deliver improvements by the end of August 2025. Inspectors had identified"
                " two areas for priority action. Neighbouring Bromley was not affected."
            ),
            published_on=dt.date(2024, 5, 2),
        )
    )
    assert result.to_json() == {
        "kind": "improvement_notice",
        "local_authority": {"name": "Bexley", "ons_code": "E09000004"},
        "happened_on": "2024-05-01",
        "deadline": "2025-08-31",
        "outcome": None,
        "title": "Council hit with improvement notice following SEND inspection",
        "published_on": "2024-05-02",
        "priority_actions": 2,
        "inspection_dates": None,
    }


def test_govuk_title_month_when_published_later() -> None:
    result = extract(
        Document(
            title="Improvement notice issued to Cumberland Council: March 2025",
            text="SEND services",
            published_on=dt.date(2025, 4, 2),
        )
    )
    assert result.local_authority is not None and result.local_authority.name == "Cumberland"
    assert result.happened_on == dt.date(2025, 3, 1)


@pytest.mark.parametrize(
    ("file_id", "outcome", "la", "dates", "next_inspection"),
    [
        (
            "50240360",
            Outcome.SIGNIFICANT_CONCERNS,
            "Bexley",
            ("2023-12-04", "2023-12-08"),
            "three years",
        ),
        (
            "50251111",
            Outcome.INCONSISTENT,
            "Blackpool",
            ("2024-05-20", "2024-05-24"),
            "three years",
        ),
        ("50262222", Outcome.POSITIVE, "Bedford", ("2024-11-18", "2024-11-22"), "five years"),
    ],
)
def test_2023_framework_reports(
    file_id: str, outcome: Outcome, la: str, dates: tuple[str, str], next_inspection: str
) -> None:
    text = pdf_text((SAMPLES / "ofsted" / "files" / f"{file_id}.pdf").read_bytes())
    result = extract(
        Document(
            title=f"{la}: Area SEND full inspection", text=text, kind_hint=Kind.INSPECTION_REPORT
        )
    )
    assert result.kind == Kind.INSPECTION_REPORT
    assert result.outcome == outcome
    assert result.local_authority is not None and result.local_authority.name == la
    assert result.inspection_dates is not None
    assert tuple(d.isoformat() for d in result.inspection_dates) == dates
    assert result.next_inspection == next_inspection
    assert result.priority_actions is None  # the report's page footers are not counts


def test_2016_framework_letter_requires_a_wsoa() -> None:
    text = pdf_text((SAMPLES / "ofsted" / "files" / "50150001.pdf").read_bytes())
    result = extract(Document(title="Wirral: Joint local area SEND inspection", text=text))
    assert result.kind == Kind.INSPECTION_REPORT
    assert result.outcome == Outcome.WSOA_REQUIRED
    assert result.local_authority is not None and result.local_authority.name == "Wirral"


@pytest.mark.parametrize(
    ("sentence", "outcome"),
    [
        (
            "HMCI has determined that a Written Statement of Action (WSOA) is not required.",
            Outcome.NO_WSOA,
        ),
        (
            "The local area is required to produce and submit a written statement of action to Ofsted.",
            Outcome.WSOA_REQUIRED,
        ),
        (
            "The local area partnership's arrangements lead to inconsistent experiences and outcomes",
            Outcome.INCONSISTENT,
        ),
    ],
)
def test_outcome_wordings(sentence: str, outcome: Outcome) -> None:
    result = extract(Document(title="Local area SEND inspection of Kent", text=sentence))
    assert result.outcome == outcome


def test_the_la_is_never_guessed() -> None:
    result = extract(
        Document(
            title="Two councils hit with SEND improvement notices",
            text="Improvement notices were issued to Bexley and Bromley over SEND services.",
        )
    )
    assert result.kind == Kind.IMPROVEMENT_NOTICE
    assert result.local_authority is None


@pytest.mark.parametrize(
    ("title", "minutes", "relevant"),
    [
        (
            "Area SEND Inspection - Feedback",
            "The Director of Children's Services presented the inspectors' feedback letter, made"
            " public that morning. Members noted the outcome for the local area partnership.",
            True,
        ),
        (
            "Written Statement of Action - Progress Report",
            "The panel received the quarterly update on the SEND WSoA.",
            True,
        ),
        (
            "Priority Action Plan",
            "Cabinet agreed the priority action plan following the joint local area SEND"
            " inspection by Ofsted and the CQC.",
            True,
        ),
        (
            "SEND Improvement Board update",
            "The chair of the SEND improvement board reported progress against the improvement"
            " notice.",
            True,
        ),
        (
            "SEND Strategy 2025-2030 refresh",
            "Members discussed the refreshed SEND strategy, co-produced with parents and carers.",
            False,
        ),
        (
            "Ofsted inspection of children's services (ILACS)",
            "The ILACS inspection found children's social care services require improvement.",
            False,
        ),
        ("Minutes of the previous meeting", "Agreed as a correct record.", False),
    ],
)
def test_which_council_papers_belong_to_the_send_case(
    title: str, minutes: str, relevant: bool
) -> None:
    assert about_the_send_case(title, minutes) is relevant
    kind = classify(title, minutes, Kind.COUNCIL_PAPER)
    assert kind == (Kind.COUNCIL_PAPER if relevant else None)
