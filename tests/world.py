"""A fixture world of councils covering every shape a SEND case takes, written as the real hosts
serve it (GOV.UK's Search and Content APIs and DfE's collection, Ofsted's search, provider pages
and report PDFs, a council's ModernGov web service), dated around today so that what is in
force, passed or overdue holds whatever day the tests run.

The shapes (`SHAPES`, by ONS code), and what each council's case must be (`Expected`):

* Rutland: no events.
* Sefton: an improvement notice in force, its deadline ahead.
* Bexley: a notice in force past its deadline.
* Plymouth: a notice lifted (DfE's collection moves it to "Closed notices": "The notice was
  lifted on …").
* Kingston upon Hull: a direction revoked and replaced with an improvement notice on one day.
* Bournemouth, Christchurch and Poole: a direction only ("Directions issued to …").
* Norfolk: two notices one after another (the second in force).
* Bristol: a full inspection (significant concerns), then its monitoring inspection.
* Medway: significant concerns and no monitoring inspection yet: overdue.
* Cornwall: a 2016-2022 inspection, a Written Statement of Action required.
* Bedford: a positive inspection ("within approximately five years").
* Worcestershire: council papers only (its ModernGov site).

Pages and JSON follow what ../shared/SOURCES.md records of the real sources, as the bundled
samples do (app/demo/files); report PDFs are written with tests/fixtures/make_pdf.py.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from tests.fixtures.make_pdf import make_pdf
from tests.paths import FIXTURES

COLLECTION = "/government/collections/improvement-notices-and-directions-childrens-services"
PUBLICATIONS = "/government/publications/"
#: The day Worcestershire's ModernGov fixture is read around (its meetings are fixed).
MODERNGOV_TODAY = "2026-03-16"
WORCESTERSHIRE_SITE = "E10000034=https://worcestershire.moderngov.co.uk"

RUTLAND, SEFTON, BEXLEY, PLYMOUTH, HULL, BCP = (
    "E06000017",
    "E08000014",
    "E09000004",
    "E06000026",
    "E06000010",
    "E06000058",
)
NORFOLK, BRISTOL, MEDWAY, CORNWALL, BEDFORD, WORCESTERSHIRE = (
    "E10000020",
    "E06000023",
    "E06000035",
    "E06000052",
    "E06000055",
    "E10000034",
)


def day(days_ago: int, today: dt.date | None = None) -> dt.date:
    """`days_ago` before today, on a day of the month every month has (month sums stay simple)."""
    moment = (today or dt.date.today()) - dt.timedelta(days=days_ago)
    return moment.replace(day=min(moment.day, 28))


def months_after(start: dt.date, months: int) -> dt.date:
    """The same day of the month, `months` later (days here are all 28th or earlier)."""
    year, month = divmod(start.month - 1 + months, 12)
    return start.replace(year=start.year + year, month=month + 1)


def spoken(day_: dt.date) -> str:
    return f"{day_.day} {day_:%B %Y}"


@dataclass(frozen=True)
class Expected:
    """What every surface must say of one council's case today."""

    #: "improvement_notice", "statutory_direction", or None when nothing is in force.
    in_force: str | None = None
    since: dt.date | None = None
    #: The deadline of what is in force, and whether it is before today.
    deadline: dt.date | None = None
    deadline_passed: bool = False
    #: When nothing is in force: the day the last one was lifted.
    lifted_on: dt.date | None = None
    outcome: str | None = None
    inspected_on: dt.date | None = None
    next_due: dt.date | None = None
    #: "monitoring" or "full".
    next_kind: str | None = None
    overdue: bool = False


# -- GOV.UK ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Issue:
    """A notice or direction DfE published, and what its collection and history say of it."""

    la_code: str
    council: str  # as DfE names it in titles
    kind: str  # "notice" or "direction"
    issued: dt.date
    deadline: dt.date | None = None
    #: Moved to the closed group with "… was lifted on <day>".
    lifted: dt.date | None = None
    #: "revoked and replaced with an improvement notice" on this day (a direction's own history).
    replaced: dt.date | None = None

    @property
    def title(self) -> str:
        what = "Improvement notice" if self.kind == "notice" else "Direction"
        if self.kind == "direction" and "," in self.council:
            what = "Directions"  # as DfE titles a direction to BCP
        return f"{what} issued to {self.council}: {self.issued:%B %Y}"

    @property
    def slug(self) -> str:
        return "-".join("".join(ch if ch.isalnum() else " " for ch in self.title.lower()).split())

    @property
    def path(self) -> str:
        return PUBLICATIONS + self.slug

    @property
    def content_id(self) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, self.path))

    @property
    def group(self) -> str:
        closed = self.lifted is not None or self.replaced is not None
        noun = "notices" if self.kind == "notice" else "directions"
        return f"{'Closed' if closed else 'Open'} {noun}"


def _stamp(day_: dt.date) -> str:
    return f"{day_.isoformat()}T09:30:00.000+00:00"


def _content_item(issue: Issue) -> dict[str, object]:
    what = "notice" if issue.kind == "notice" else "direction"
    body = (
        f"<p>The Department for Education has issued {issue.council} with an improvement notice"
        " about its special educational needs and disabilities (SEND) services.</p>"
        if issue.kind == "notice"
        else f"<p>The Secretary of State directs {issue.council} to take the actions set out in"
        " this direction to improve its special educational needs and disabilities (SEND)"
        " services.</p>"
    )
    if issue.deadline:
        body += f"<p>The council must make these improvements by {spoken(issue.deadline)}.</p>"
    history = [{"public_timestamp": _stamp(issue.issued), "note": "First published."}]
    updated = issue.issued
    if issue.replaced:
        history.insert(
            0,
            {
                "public_timestamp": _stamp(issue.replaced),
                "note": f"The direction issued to {issue.council} has been revoked and replaced"
                " with an improvement notice.",
            },
        )
        updated = issue.replaced
    return {
        "base_path": issue.path,
        "content_id": issue.content_id,
        "title": issue.title,
        "description": f"The {what} issued to {issue.council} about its SEND services.",
        "document_type": "decision",
        "schema_name": "publication",
        "locale": "en",
        "first_published_at": _stamp(issue.issued),
        "public_updated_at": _stamp(updated),
        "details": {"body": body, "documents": [], "change_history": history},
        "links": {
            "organisations": [
                {
                    "title": "Department for Education",
                    "base_path": "/government/organisations/department-for-education",
                }
            ],
            "document_collections": [
                {"title": "Improvement notices and directions", "base_path": COLLECTION}
            ],
        },
        "withdrawn_notice": {},
    }


def _collection(issues: list[Issue]) -> dict[str, object]:
    groups: dict[str, list[str]] = {
        "Open notices": [],
        "Closed notices": [],
        "Open directions": [],
        "Closed directions": [],
    }
    notes = []
    for issue in issues:
        groups[issue.group].append(issue.content_id)
        if issue.lifted:
            notes.append(
                {
                    "public_timestamp": _stamp(issue.lifted),
                    "note": f"Moved '{issue.title}' to the closed notices section. The notice"
                    f" was lifted on {spoken(issue.lifted)}.",
                }
            )
        if issue.replaced:
            notes.append(
                {
                    "public_timestamp": _stamp(issue.replaced),
                    "note": f"Moved '{issue.title}' to the closed directions section. The"
                    " direction has been revoked and replaced with an improvement notice.",
                }
            )
    notes.sort(key=lambda note: note["public_timestamp"], reverse=True)
    return {
        "base_path": COLLECTION,
        "content_id": "5d2f6b8a-1c3e-4f5a-9b7d-2e4f6a8b0c10",
        "title": "Improvement notices and directions",
        "document_type": "document_collection",
        "schema_name": "document_collection",
        "description": "Improvement notices and directions about children's services.",
        "first_published_at": "2013-07-03T00:00:00.000+01:00",
        "public_updated_at": notes[0]["public_timestamp"] if notes else _stamp(day(10)),
        "details": {
            "body": "<p>These notices and directions are issued to councils.</p>",
            "collection_groups": [
                {"title": title, "body": "", "documents": ids} for title, ids in groups.items()
            ],
            "change_history": notes,
        },
        "links": {
            "documents": [
                {
                    "content_id": issue.content_id,
                    "title": issue.title,
                    "base_path": issue.path,
                    "api_path": "/api/content" + issue.path,
                    "web_url": "https://www.gov.uk" + issue.path,
                    "public_updated_at": _stamp(issue.replaced or issue.issued),
                    "document_type": "decision",
                    "locale": "en",
                }
                for issue in issues
            ]
        },
    }


def _search(issues: list[Issue]) -> dict[str, object]:
    results = [
        {
            "title": issue.title,
            "link": issue.path,
            "description": f"Issued to {issue.council} about its SEND services.",
            "public_timestamp": _stamp(issue.replaced or issue.issued),
            "content_store_document_type": "decision",
            "document_collections": [
                {
                    "title": "Improvement notices and directions",
                    "link": COLLECTION,
                    "slug": COLLECTION.rsplit("/", 1)[1],
                }
            ],
            "index": "govuk",
            "_id": issue.path,
            "document_type": "edition",
        }
        for issue in issues
    ]
    return {"results": results, "total": len(results), "start": 0, "aggregates": {}}


def write_govuk(root: Path, issues: list[Issue]) -> None:
    folder = root / "govuk"
    (folder / "content").mkdir(parents=True, exist_ok=True)
    for issue in issues:
        (folder / "content" / f"{issue.slug}.json").write_text(json.dumps(_content_item(issue)))
    (folder / "collection.json").write_text(json.dumps(_collection(issues)))
    notices = [i for i in issues if i.kind == "notice"]
    directions = [i for i in issues if i.kind == "direction"]
    (folder / "search-improvement-notice.json").write_text(json.dumps(_search(notices)))
    (folder / "search-direction-issued-to.json").write_text(json.dumps(_search(directions)))
    (folder / "search-empty.json").write_text(json.dumps(_search([])))


# -- Ofsted ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """An area SEND report on Ofsted's reports site."""

    la_code: str
    area: str
    urn: int
    file_id: int
    label: str  # "Area SEND full inspection", "Area SEND monitoring inspection", …
    published: dt.date
    paragraphs: tuple[str, ...]


SIGNIFICANT = (
    "There are widespread and/or systemic failings leading to significant concerns about the"
    " experiences and outcomes of children and young people with special educational needs"
    " and/or disabilities (SEND), which the local area partnership must address urgently.",
    "A monitoring inspection will be carried out within approximately 18 months. The next full"
    " reinspection will be within approximately three years.",
)
POSITIVE = (
    "The local area partnership's special educational needs and/or disabilities (SEND)"
    " arrangements typically lead to positive experiences and outcomes for children and young"
    " people with SEND.",
    "The next full area SEND inspection will be within approximately five years.",
)
WSOA = (
    "As a result of the findings of this inspection and in accordance with the Children Act"
    " 2004, Her Majesty's Chief Inspector has determined that a Written Statement of Action is"
    " required because of significant areas of weakness in the local area's practice.",
)


def full_report(
    la_code: str, area: str, urn: int, file_id: int, on: dt.date, outcome: tuple[str, ...]
) -> Report:
    start = on - dt.timedelta(days=60)
    paragraphs = (
        "Local area partnership report",
        f"Area SEND inspection of {area} Local Area Partnership",
        f"Inspection dates: {spoken(start)} to {spoken(start + dt.timedelta(days=4))}",
        "Inspection outcome",
        *outcome,
        "Information about the local area partnership",
        f"{area} Council and the integrated care board plan services for children and young"
        " people with SEND.",
    )
    return Report(la_code, area, urn, file_id, "Area SEND full inspection", on, paragraphs)


def monitoring_report(la_code: str, area: str, urn: int, file_id: int, on: dt.date) -> Report:
    paragraphs = (
        f"Area SEND monitoring inspection of {area} Local Area Partnership",
        f"Ofsted and the Care Quality Commission carried out a monitoring inspection of the"
        f" {area} local area partnership's special educational needs and/or disabilities"
        " (SEND) arrangements.",
        "The partnership has made progress in addressing the areas for priority action.",
    )
    return Report(la_code, area, urn, file_id, "Area SEND monitoring inspection", on, paragraphs)


def old_framework_report(la_code: str, area: str, urn: int, file_id: int, on: dt.date) -> Report:
    paragraphs = (
        f"Joint local area SEND inspection in {area}",
        f"Between {spoken(on - dt.timedelta(days=70))} and"
        f" {spoken(on - dt.timedelta(days=66))}, Ofsted and the Care Quality Commission"
        f" conducted a joint inspection of the local area of {area} to judge the effectiveness"
        " of the area in implementing the special educational needs and/or disabilities reforms.",
        *WSOA,
    )
    return Report(la_code, area, urn, file_id, "Local area SEND inspection", on, paragraphs)


def _search_page(reports: list[Report]) -> str:
    latest: dict[int, Report] = {}
    for report in reports:
        if report.urn not in latest or report.published > latest[report.urn].published:
            latest[report.urn] = report
    items = "".join(
        f"""<li class="search-result">
  <div class="search-result__heading"><h3 class="search-result__title heading--sub"><a href="/provider/44/{urn}">{report.area}</a></h3></div>
  <ul class="search-result__provider-info"><li>Category: <strong>Local authority children's services</strong></li></ul>
  <address class="search-result__address">Civic Offices, {report.area}</address>
  <ul class="search-result__provider-info"><li>Latest report: <strong><time datetime="">{spoken(report.published)}</time></strong></li><li>URN: <strong>{urn}</strong></li></ul>
</li>"""
        for urn, report in sorted(latest.items())
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Find an inspection report - Ofsted</title></head>
<body><main id="main-content"><div class="search-results">
<div class="search-result__heading"><strong class="results-count">{len(latest)}</strong> results</div>
<ul class="results-list">{items}</ul>
</div></main></body></html>"""


def _provider_page(reports: list[Report]) -> str:
    newest_first = sorted(reports, key=lambda r: r.published, reverse=True)
    days = "".join(
        f"""<li class="timeline__day"><time>{spoken(r.published)}</time>
<a class="publication-link" href="https://files.ofsted.gov.uk/v1/file/{r.file_id}" target="_blank">{r.label} <span class="nonvisual">{r.label}, pdf - {spoken(r.published)}</span></a></li>"""
        for r in newest_first
    )
    area, urn = reports[0].area, reports[0].urn
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{area} - Ofsted</title></head>
<body><main id="main-content"><h1 class="heading--title">{area}</h1>
<p class="provider-info">Local authority children's services. URN: {urn}</p>
<ol class="timeline">{days}<li class="timeline__day timeline__day--opened"><time>1 April 1974</time><p>Opened</p></li></ol>
</main></body></html>"""


def write_ofsted(root: Path, reports: list[Report]) -> None:
    folder = root / "ofsted"
    (folder / "files").mkdir(parents=True, exist_ok=True)
    (folder / "search-1.html").write_text(_search_page(reports))
    (folder / "search-2.html").write_text(_search_page([]))
    for urn in {r.urn for r in reports}:
        mine = [r for r in reports if r.urn == urn]
        (folder / f"provider-{urn}.html").write_text(_provider_page(mine))
    for report in reports:
        (folder / "files" / f"{report.file_id}.pdf").write_bytes(make_pdf(list(report.paragraphs)))


# -- the world ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    issues: list[Issue]
    reports: list[Report]
    expected: dict[str, Expected]


def world(today: dt.date | None = None) -> World:
    """Every shape, dated around `today`."""
    today = today or dt.date.today()

    def ago(days: int) -> dt.date:
        return day(days, today)

    def ahead(days: int) -> dt.date:
        return day(-days, today)

    issues = [
        Issue(SEFTON, "Sefton Council", "notice", ago(200), deadline=ahead(300)),
        Issue(BEXLEY, "London Borough of Bexley", "notice", ago(700), deadline=ago(30)),
        Issue(PLYMOUTH, "Plymouth City Council", "notice", ago(900), ago(400), lifted=ago(100)),
        Issue(HULL, "Kingston upon Hull City Council", "direction", ago(600), replaced=ago(300)),
        Issue(
            BCP,
            "Bournemouth, Christchurch and Poole Council",
            "direction",
            ago(250),
            deadline=ahead(100),
        ),
        Issue(NORFOLK, "Norfolk County Council", "notice", ago(800), deadline=ago(500)),
        Issue(NORFOLK, "Norfolk County Council", "notice", ago(150), deadline=ahead(200)),
    ]
    cornwall_on = dt.date(2019, 5, 10)
    reports = [
        full_report(BRISTOL, "Bristol", 80100, 70000001, ago(700), SIGNIFICANT),
        monitoring_report(BRISTOL, "Bristol", 80100, 70000002, ago(200)),
        full_report(MEDWAY, "Medway", 80200, 70000003, ago(600), SIGNIFICANT),
        old_framework_report(CORNWALL, "Cornwall", 80300, 70000004, cornwall_on),
        full_report(BEDFORD, "Bedford", 80400, 70000005, ago(300), POSITIVE),
    ]
    medway_monitoring = months_after(ago(600), 18)
    expected = {
        RUTLAND: Expected(),
        SEFTON: Expected("improvement_notice", ago(200), ahead(300), False),
        BEXLEY: Expected("improvement_notice", ago(700), ago(30), True),
        PLYMOUTH: Expected(lifted_on=ago(100)),
        HULL: Expected("improvement_notice", ago(300)),
        BCP: Expected("statutory_direction", ago(250), ahead(100), False),
        NORFOLK: Expected("improvement_notice", ago(150), ahead(200), False),
        BRISTOL: Expected(
            outcome="significant_concerns",
            inspected_on=ago(700),
            next_due=months_after(ago(700), 36),
            next_kind="full",
        ),
        MEDWAY: Expected(
            outcome="significant_concerns",
            inspected_on=ago(600),
            next_due=medway_monitoring,
            next_kind="monitoring",
            overdue=medway_monitoring < today,
        ),
        CORNWALL: Expected(
            outcome="wsoa_required",
            inspected_on=cornwall_on,
            next_due=dt.date(2027, 12, 31),
            next_kind="full",
            overdue=dt.date(2027, 12, 31) < today,
        ),
        BEDFORD: Expected(
            outcome="positive",
            inspected_on=ago(300),
            next_due=months_after(ago(300), 60),
            next_kind="full",
        ),
        WORCESTERSHIRE: Expected(),
    }
    return World(issues, reports, expected)


def write_world(root: Path, shapes: World) -> None:
    """The whole world under `root`, laid out as `app.demo.site.FixtureSite` serves it."""
    write_govuk(root, shapes.issues)
    write_ofsted(root, shapes.reports)
    moderngov = root / "moderngov" / "worcestershire"
    shutil.copytree(FIXTURES / "moderngov" / "worcestershire", moderngov)


def write_empty_world(root: Path) -> None:
    """The same hosts with nothing published yet: a first crawl of it is the baseline, so the
    world crawled next is news, alerted."""
    write_govuk(root, [])
    write_ofsted(root, [])
