"""Ofsted's area SEND statistics on GOV.UK: every area SEND inspection since 2016, as data.

Ofsted publishes management information twice a year and official statistics once a
year, each release a GOV.UK page with an ODS spreadsheet attached. Read through GOV.UK's
public APIs, as the `govuk` spider reads DfE's notices, in three steps:

1. the releases: the Search API, newest first, for Ofsted's statistical data sets and
   official statistics, and the "Area SEND statistics" collection::

       GET /api/search.json?q=area+SEND+inspections&filter_organisations=ofsted
           &filter_content_store_document_type=statistical_data_set
           &filter_content_store_document_type=official_statistics&order=-public_timestamp&...
       {"results": [{"title", "link", "public_timestamp", "content_store_document_type"}]}

       GET /api/content/government/collections/area-send-statistics
       {"links": {"documents": [{"base_path", "title", "public_updated_at", "document_type"}]}}

2. each release not yet read at its `public_updated_at`, from the Content API::

       GET /api/content/government/statistical-data-sets/area-send-inspections-and-outcomes-...
       {"title", "public_updated_at",
        "details": {"attachments": [{"url", "filename", "content_type", "title", "file_size"}]}}

3. each spreadsheet attached, at the URL the release gives (today
   https://assets.publishing.service.gov.uk/media/<hex>/<file>.ods), read by
   `crawler.ods`, which finds the data sheet by its header row.

Each row is one finding: a 2023-framework inspection is an `inspection_report` with its
outcome; a 2016-2022 one is a `wsoa` (`wsoa_required` or `no_wsoa`); a 2016-2022 revisit
is its own `monitoring_inspection`. Each is dated by its publication date, keyed by council,
kind and that date (never by release: every release repeats the rows before it), so it
links into the event of the report PDF (`ofsted`) or the news about it.

A release read once is not fetched again until its `public_updated_at` changes. Rows are
dated, so the store's baseline rule is the dispatcher's age rule: a release read for the
first time alerts nobody about rows older than `[alerts] max_age_days`, and only those.
A spreadsheet with no known header row fails the run (`crawler.ods.UnknownLayout`): nothing
is recorded from it and the release stays unread, to be tried again.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from scrapy import Request
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.bounded import DocumentRefused
from crawler.dates import spoken_date
from crawler.items import MarkItem, SourceItem
from crawler.ods import DataSheet, Inspection, NotASpreadsheet, Revisit, UnknownLayout
from crawler.spiders.base import (
    Found,
    Row,
    SourceSpider,
    count,
    dicts_in,
    failure_reason,
    json_object,
    read_row,
)
from crawler.verdict import LAYOUT_CHANGED, LISTING_ITEMS, RUN_NOTE, STANDING_ALARM
from sendwatch.vocab import Kind, Outcome
from storage.las import LocalAuthority, register

log = logging.getLogger(__name__)

CANONICAL_HOST = "https://www.gov.uk"
OFSTED = "ofsted"
DOCUMENT_TYPES = ("statistical_data_set", "official_statistics")
QUERY = "area SEND inspections"
COLLECTION_PATH = "/government/collections/area-send-statistics"
SEARCH_FIELDS = ("title", "link", "public_timestamp", "content_store_document_type")
PAGE_SIZE = 50
#: Ofsted's area SEND releases ("Area SEND inspections and outcomes in England: ...").
RELEASE_TITLE = re.compile(r"\barea SEND\b.*\binspections?\b", re.IGNORECASE)
#: What the collection lists besides releases (methodology, announcements) is not read.
RELEASE_TYPES = frozenset(DOCUMENT_TYPES) | {"national_statistics"}
SPREADSHEET = re.compile(r"\.(?:ods|xlsx|xls)$", re.IGNORECASE)
SPREADSHEET_TYPES = ("opendocument.spreadsheet", "spreadsheetml", "ms-excel")
#: Councils abolished since (their inspections belong to no council today): skipped, said once.
ABOLISHED = {
    "E10000006": "Cumbria",
    "E10000021": "Northamptonshire",
    "E06000028": "Bournemouth",
    "E06000029": "Poole",
    "E10000009": "Dorset (county)",
}
#: Each outcome in the words a report states it, so the pipeline's `extract` reads it back.
OUTCOME_SENTENCES = {
    Outcome.POSITIVE: "The local area partnership's arrangements typically lead to positive"
    " experiences and outcomes for children and young people with SEND.",
    Outcome.INCONSISTENT: "The local area partnership's arrangements lead to inconsistent"
    " experiences and outcomes for children and young people with SEND.",
    Outcome.SIGNIFICANT_CONCERNS: "There are widespread and/or systemic failings leading to"
    " significant concerns about the experiences and outcomes of children and young people"
    " with SEND.",
    Outcome.WSOA_REQUIRED: "HMCI has determined that a written statement of action is required.",
    Outcome.NO_WSOA: "A written statement of action is not required.",
}
#: A revisit's result in the words its letter uses, so the pipeline's `extract` reads it back.
PROGRESS_WORDS = {
    "yes": "made sufficient progress in addressing all of the significant weaknesses",
    "some": "made sufficient progress in addressing some of the significant weaknesses",
    "no": "not made sufficient progress in addressing any of the significant weaknesses",
}


@dataclass
class _Release:
    """A release being read: its mark waits until every spreadsheet of it is read."""

    path: str
    version: str
    title: str
    left: int = 0
    failed: bool = False


@dataclass
class _Tally:
    """What the run read, for the run's note and `sendwatch check`."""

    releases: list[str] = field(default_factory=list)
    sheets: list[tuple[str, DataSheet]] = field(default_factory=list)
    rows: int = 0
    problems: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    abolished: set[str] = field(default_factory=set)


class StatisticsSpider(SourceSpider):
    name = "statistics"
    document_noun = "releases"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Every row is dated: the dispatcher's `max_age_days` makes old rows history and
        # lets a row published days ago alert, even on the source's first run.
        self.baseline = False
        #: base_path -> the newest public_updated_at the listings name.
        self.candidates: dict[str, str] = {}
        self.releases: dict[str, _Release] = {}
        self.listings_pending = 0
        self.search_hits = 0
        self.collection_read = False
        self.tally = _Tally()
        #: Identities yielded this run: every release repeats the rows of those before it.
        self.yielded: set[str] = set()

    def self_check(self, stats: Mapping[str, Any], found: Found) -> list[Row]:
        """Ofsted's releases found, the newest one's spreadsheet read (its data sheet found by
        its header row), every row placed with a council, and one row read as a finding."""
        tally = self.tally
        releases = count(stats, LISTING_ITEMS)
        rows = [
            Row("search", self.search_hits > 0, f"{self.search_hits} releases found"),
            Row(
                "collection",
                self.collection_read,
                COLLECTION_PATH
                if self.collection_read
                else "not found: only the search names releases",
            ),
            Row("releases", releases > 0, f"{releases} releases listed"),
        ]
        if tally.sheets:
            url, sheet = tally.sheets[0]
            detail = (
                f"sheet {sheet.name!r} ({sheet.layout.name}), header on row {sheet.header_row},"
                f" {len(sheet.inspections)} rows"
            )
            rows.append(Row("spreadsheet read", bool(sheet.inspections), detail, url))
        else:
            why = str(stats.get(LAYOUT_CHANGED) or "none was read")
            rows.append(Row("spreadsheet read", False, why))
        trouble = [*(f"council {name} not recognised" for name in tally.unmatched), *tally.problems]
        placed = f"{tally.rows - len(tally.unmatched)} of {tally.rows} rows placed with a council"
        rows.append(Row("councils", not trouble, f"{placed}; {trouble[0]}" if trouble else placed))
        rows.append(read_row("row", found, "outcome"))
        return rows

    async def start(self) -> AsyncIterator[Request]:
        self.listings_pending = 2
        yield self._search_request()
        yield self.listing_request(
            self.url(f"/api/content{COLLECTION_PATH}"),
            self.parse_collection,
            self.collection_failed,
        )

    # -- 1. the releases ----------------------------------------------------------------

    def _search_request(self) -> Request:
        params: list[tuple[str, str | int]] = [
            ("q", QUERY),
            ("filter_organisations", OFSTED),
            *(("filter_content_store_document_type", kind) for kind in DOCUMENT_TYPES),
            ("order", "-public_timestamp"),
            ("count", PAGE_SIZE),
            ("start", 0),
        ]
        params += [("fields", name) for name in SEARCH_FIELDS]
        return self.listing_request(
            self.url("/api/search.json?" + urlencode(params)), self.parse_search, self.search_failed
        )

    def parse_search(self, response: Response) -> Iterator[Request]:
        data = json_object(response)
        if data is None:
            self.listing_error(response.url, "not JSON")
        else:
            for result in dicts_in(data, "results"):
                kind = str(result.get("content_store_document_type") or "")
                if RELEASE_TITLE.search(str(result.get("title", ""))) and (
                    not kind or kind in RELEASE_TYPES
                ):
                    self.search_hits += 1
                    self._add_candidate(result.get("link"), result.get("public_timestamp"))
        yield from self._listing_done()

    def search_failed(self, failure: Failure) -> Iterator[Request]:
        self.listing_failed(failure)
        yield from self._listing_done()

    def parse_collection(self, response: Response) -> Iterator[Request]:
        data = json_object(response)
        if data is None:
            self.listing_error(response.url, "not JSON")
        else:
            self.collection_read = True
            for doc in dicts_in(data.get("links"), "documents"):
                kind = str(doc.get("document_type") or "")
                if RELEASE_TITLE.search(str(doc.get("title", ""))) and (
                    not kind or kind in RELEASE_TYPES
                ):
                    self._add_candidate(doc.get("base_path"), doc.get("public_updated_at"))
        yield from self._listing_done()

    def collection_failed(self, failure: Failure) -> Iterator[Request]:
        if failure_reason(failure) in ("404", "410"):
            # The slug is Ofsted's to change: the search still finds every release.
            log.warning("statistics: %s is gone; relying on the search", COLLECTION_PATH)
        else:
            self.listing_failed(failure)
        yield from self._listing_done()

    def _add_candidate(self, path: Any, version: Any) -> None:
        if isinstance(path, str) and path.startswith("/"):
            self.candidates[path] = max(self.candidates.get(path, ""), _version(version))

    def _listing_done(self) -> Iterator[Request]:
        """Once the search and the collection are read, read each release not yet read."""
        self.listings_pending -= 1
        if self.listings_pending:
            return
        self.count_listing(len(self.candidates))
        newest_first = sorted(self.candidates.items(), key=lambda pair: pair[1], reverse=True)
        for path, version in newest_first:
            if not self.is_handled(path, version):
                yield self.detail_request(
                    self.url(f"/api/content{path}"),
                    self.parse_release,
                    path=path,
                    version=version,
                )

    # -- 2. each release ------------------------------------------------------------------

    def parse_release(self, response: Response, path: str, version: str) -> Iterator[Any]:
        data = json_object(response)
        if data is None or not data.get("title"):
            self.item_error(response.url, "not the JSON the Content API returns")
            return
        attachments = [a for a in dicts_in(data.get("details"), "attachments") if _spreadsheet(a)]
        version = max(version, _version(data.get("public_updated_at")))
        release = _Release(path, version, str(data["title"]), left=len(attachments))
        self.releases[path] = release
        self.tally.releases.append(path)
        if not attachments:
            log.warning("statistics: %s has no spreadsheet attached; nothing to read", path)
            yield MarkItem(path, version)
            return
        for attachment in attachments:
            yield self.detail_request(
                response.urljoin(str(attachment["url"])),
                self.parse_spreadsheet,
                self.spreadsheet_failed,
                noun="spreadsheets",
                release=path,
            )

    # -- 3. each spreadsheet ------------------------------------------------------------

    def parse_spreadsheet(self, response: Response, release: str) -> Iterator[Any]:
        try:
            sheet = self.parser.read_workbook(response.body)
        except DocumentRefused as exc:  # over a limit: one failed spreadsheet
            self.document_failed(response.url, "refused", str(exc), "spreadsheets")
            yield from self._release_done(release, ok=False)
            return
        except NotASpreadsheet as exc:
            self.document_failed(response.url, "unreadable", str(exc), "spreadsheets")
            yield from self._release_done(release, ok=False)
            return
        except UnknownLayout as exc:
            self.layout_changed(f"statistics: {response.url}: {exc}; nothing was recorded from it")
            yield from self._release_done(release, ok=False)
            return
        self.tally.sheets.append((response.url, sheet))
        if not sheet.inspections:
            why = sheet.problems[0] if sheet.problems else "it has no rows"
            self.layout_changed(
                f"statistics: {response.url}: sheet {sheet.name!r} ({sheet.layout.name}, header"
                f" on row {sheet.header_row}) has no readable row ({why}); nothing was recorded"
            )
            yield from self._release_done(release, ok=False)
            return
        for problem in sheet.problems:
            self._problem(f"{sheet.name} {problem}")
        self.tally.rows += len(sheet.inspections)
        for inspection in sheet.inspections:
            yield from self.items_of(inspection, self.releases[release])
        yield from self._release_done(release, ok=True)

    def spreadsheet_failed(self, failure: Failure) -> Iterator[MarkItem]:
        self.item_failed(failure)
        request = getattr(failure, "request", None)
        if request is not None:
            yield from self._release_done(request.cb_kwargs["release"], ok=False)

    def _release_done(self, path: str, ok: bool) -> Iterator[MarkItem]:
        """Once every spreadsheet of a release is read, the release is not fetched again."""
        release = self.releases.get(path)
        if release is None:
            return
        release.left -= 1
        release.failed |= not ok
        if release.left == 0 and not release.failed:
            yield MarkItem(release.path, release.version)

    def items_of(self, inspection: Inspection, release: _Release) -> Iterator[SourceItem]:
        """The row's finding, and its revisit's (each once a run, whichever release has it)."""
        la = self.council_of(inspection)
        if la is None:
            return
        for item in (
            self._inspection_item(inspection, la, release),
            self._revisit_item(inspection, la, release),
        ):
            if item is not None and item.identity not in self.yielded:
                self.yielded.add(item.identity)
                yield item

    def council_of(self, inspection: Inspection) -> LocalAuthority | None:
        """By ONS code where the row gives one, else by name; a doubt is no council."""
        where = f"{inspection.sheet} row {inspection.row}"
        if inspection.code in ABOLISHED:
            self.tally.abolished.add(ABOLISHED[inspection.code])
            return None
        la = (register().get(inspection.code) if inspection.code else None) or council_named(
            inspection.area
        )
        if la is None:
            self.tally.unmatched.append(f"{inspection.area!r} ({where})")
            log.error(
                "statistics: %s: council %r (code %r) is not one the register knows; row skipped",
                where,
                inspection.area,
                inspection.code,
            )
        return la

    def _inspection_item(
        self, inspection: Inspection, la: LocalAuthority, release: _Release
    ) -> SourceItem:
        wsoa = inspection.outcome in (Outcome.WSOA_REQUIRED, Outcome.NO_WSOA)
        kind = Kind.WSOA if wsoa else Kind.INSPECTION_REPORT
        published = inspection.published
        if wsoa:
            required = inspection.outcome is Outcome.WSOA_REQUIRED
            verdict = f"written statement of action {'required' if required else 'not required'}"
        else:
            verdict = inspection.outcome_text
        return SourceItem(
            source=self.name,
            identity=f"{la.ons_code}/{'wsoa' if wsoa else 'inspection'}/{published.isoformat()}",
            url=inspection.link or CANONICAL_HOST + release.path,
            title=f"Area SEND inspection of {la.name}: {verdict}",
            text=inspection_text(inspection),
            published_on=published,
            kind_hint=kind,
            la_hint=f"{la.name} Council",  # "Reading" alone is a verb to the matcher
            happened_on_hint=published,
            extra=_fields(
                {
                    "framework": inspection.framework,
                    "statistics_area": inspection.area,
                    "ofsted_outcome": inspection.outcome_text,
                    "inspection_start": _iso(inspection.started),
                    "priority_action_plan": inspection.priority_action_plan,
                    "priority_actions": inspection.priority_actions,
                    "significant_weaknesses": inspection.weaknesses,
                    "ofsted_region": inspection.region or None,
                }
            ),
        )

    def _revisit_item(
        self, inspection: Inspection, la: LocalAuthority, release: _Release
    ) -> SourceItem | None:
        revisit = inspection.revisit
        if revisit is None:
            return None
        if revisit.progress is None:
            self._problem(
                f"{inspection.sheet} row {inspection.row}: {inspection.area}: revisit outcome"
                f" {revisit.progress_text!r} is not one known; the revisit is skipped"
            )
            return None
        words = progress_words(revisit)
        return SourceItem(
            source=self.name,
            identity=f"{la.ons_code}/revisit/{revisit.published.isoformat()}",
            url=inspection.link or CANONICAL_HOST + release.path,
            title=f"Area SEND revisit of {la.name}: {words.replace('made ', '', 1)}",
            text=(
                f"Ofsted's area SEND statistics record the revisit of {inspection.area}"
                f"{_started(revisit.started)}, published {spoken_date(revisit.published)}, after the"
                f" inspection published {spoken_date(inspection.published)}. The area has"
                f" {words}."
            ),
            published_on=revisit.published,
            kind_hint=Kind.MONITORING_INSPECTION,
            la_hint=f"{la.name} Council",  # "Reading" alone is a verb to the matcher
            happened_on_hint=revisit.published,
            extra=_fields(
                {
                    "framework": inspection.framework,
                    "statistics_area": inspection.area,
                    "revisit_progress": revisit.progress,
                    "revisit_start": _iso(revisit.started),
                    "inspection_published": inspection.published.isoformat(),
                }
            ),
        )

    def _problem(self, problem: str) -> None:
        self.tally.problems.append(problem)
        log.error("statistics: %s", problem)

    def closed(self, reason: str) -> None:
        """The run's note (what was read), and a standing alarm while rows cannot be placed."""
        super().closed(reason)
        stats = self.stats
        if stats is None:
            return
        tally = self.tally
        note = f"{len(tally.releases)} releases read, {tally.rows} rows"
        if tally.abolished:
            note += f"; rows of abolished councils skipped: {', '.join(sorted(tally.abolished))}"
        stats.set_value(RUN_NOTE, note)
        trouble = [*(f"council {name} not recognised" for name in tally.unmatched), *tally.problems]
        if trouble:
            stats.set_value(
                STANDING_ALARM,
                f"statistics: {len(trouble)} rows could not be read or placed, e.g. {trouble[0]}",
            )


def progress_words(revisit: Revisit) -> str:
    """ "made sufficient progress in addressing 3 of the 5 significant weaknesses", where the
    sheet counts them, else its Yes, Some or No in words."""
    assert revisit.progress is not None
    addressed, left = revisit.addressed, revisit.left
    if revisit.progress == "some" and addressed is not None and left is not None:
        return (
            f"made sufficient progress in addressing {addressed} of the {addressed + left}"
            " significant weaknesses"
        )
    return PROGRESS_WORDS[revisit.progress]


def release_for(path: str) -> _Release:
    """A release known only by its path (a spreadsheet read on its own, by `extract`)."""
    return _Release(path=path, version="", title="")


def council_named(name: str) -> LocalAuthority | None:
    """The council a row names as Ofsted or DfE write it ("Bristol", "Bristol, City of",
    "Durham", "St. Helens", "Bedford Borough"): the register's one lookup, which answers None
    when in doubt."""
    return register().lookup(name)


def inspection_text(inspection: Inspection) -> str:
    """The row in words, the outcome as a report states it (see OUTCOME_SENTENCES)."""
    parts = [
        f"Ofsted's area SEND statistics record the area SEND inspection of {inspection.area}"
        f"{_started(inspection.started)}, published {spoken_date(inspection.published)}.",
        f"Inspection outcome: {OUTCOME_SENTENCES[inspection.outcome]}",
    ]
    if inspection.priority_action_plan is not None:
        plan = "is" if inspection.priority_action_plan else "is not"
        parts.append(f"A priority action plan {plan} required.")
    if inspection.priority_actions:
        noun = "area" if inspection.priority_actions == 1 else "areas"
        parts.append(f"{inspection.priority_actions} {noun} for priority action.")
    if inspection.weaknesses:
        parts.append(f"{inspection.weaknesses} significant weaknesses identified.")
    return " ".join(parts)


def _started(day: dt.date | None) -> str:
    return f", started {spoken_date(day)}" if day else ""


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def _fields(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def _spreadsheet(attachment: dict[str, Any]) -> bool:
    url = str(attachment.get("url") or "")
    kind = str(attachment.get("content_type") or "")
    name = str(attachment.get("filename") or url)
    return bool(url) and (
        bool(SPREADSHEET.search(name.split("?", 1)[0])) or any(t in kind for t in SPREADSHEET_TYPES)
    )


def _version(value: Any) -> str:
    """A timestamp as one string whatever its form ("...+01:00" and "...Z" alike), for marks."""
    text = str(value or "")
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")
