"""GOV.UK: the Department for Education's improvement notices and statutory directions.

Through GOV.UK's public APIs only (robots.txt disallows the /search/all finder pages),
in three steps, so that the first run already knows which notices are closed:

1. the Search API, newest first, for DfE's notices and directions; each result names
   the collections it belongs to, which is how DfE's "Improvement notices and
   directions" collection is found (the configured slug is only a first guess)::

       GET /api/search.json?q=improvement+notice&filter_organisations=department-for-education
           &order=-public_timestamp&count=50&start=0&fields=title&fields=link&...
       {"results": [{"title", "link", "public_timestamp",
                     "document_collections": [{"slug", "link", "title", "content_id"}]}], "total": N}

2. the Content API for each such collection: its groups say which notices are open and
   which closed, and its change history records liftings ("Moved 'Improvement notice
   issued to Plymouth City Council: October 2023' to the closed notices section. The
   notice was lifted on 30 September 2025.")::

       GET /api/content/government/collections/<slug>
       {"details": {"collection_groups": [{"title": "Closed notices", "documents": [<content_id>, ...]}],
                    "change_history": [{"note", "public_timestamp"}]},
        "links": {"documents": [{"content_id", "base_path", "title", "public_updated_at"}]}}

3. the Content API for each notice not yet handled at its current `public_updated_at`,
   or whose lifting is not yet recorded::

       GET /api/content/government/publications/<slug>
       {"content_id", "title", "description", "first_published_at", "public_updated_at",
        "details": {"body": "<html>", "documents": ["<html>"], "change_history": [{"note", "public_timestamp"}]},
        "links": {"document_collections": [{"title", "base_path"}]},
        "withdrawn_notice": {"explanation", "withdrawn_at"}}

A lifting (a change note on the notice or in the collection, a withdrawal, or a move to a
"Closed" group) yields a second item, the *notice lifted* event, under its own identity,
dated by the note ("lifted on 21 December 2023") or else by when the note was written. A
direction "revoked and replaced with an improvement notice" is a lifting and a notice.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from scrapy import Request
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.dates import parse_date
from crawler.extract import lifted_on, note_lifts, note_replaces_with_notice
from crawler.items import MarkItem, SourceItem
from crawler.spiders.base import (
    Found,
    Row,
    SourceSpider,
    dicts_in,
    failure_reason,
    html_text,
    json_object,
    read_row,
)
from sendwatch.vocab import Kind

log = logging.getLogger(__name__)

CANONICAL_HOST = "https://www.gov.uk"
DFE = "department-for-education"
#: DfE's collection as last known; the spider also reads every notices collection it finds.
COLLECTION_PATH = "/government/collections/improvement-notices-and-directions"
QUERIES = ("improvement notice", "direction issued to")
SEARCH_FIELDS = (
    "title",
    "link",
    "description",
    "public_timestamp",
    "content_store_document_type",
    "document_collections",
)
PAGE_SIZE = 50
MAX_PAGES = 20
#: Titles of the documents we want; the Search API lets weak keyword matches through.
NOTICE_TITLE = re.compile(
    r"improvement notice|\bdirections? (?:issued|given) to\b|statutory direction", re.IGNORECASE
)
COLLECTION_TITLE = re.compile(r"improvement notices|notices and directions", re.IGNORECASE)
CLOSED_GROUP = re.compile(r"\bclosed\b", re.IGNORECASE)
#: "Moved 'Improvement notice issued to …: October 2023' to the closed notices section."
COLLECTION_MARK = "collection:"
LIFTED = "#lifted"
#: A direction revoked and replaced with an improvement notice: its own lifting, and the notice.
REVOKED = "#revoked"
REPLACEMENT = "#notice"


@dataclass(frozen=True)
class Lifting:
    """What a change note (or a Closed group) says of one notice's lifting."""

    on: dt.date | None
    reason: str


@dataclass(frozen=True)
class Notice:
    """A notice as its content item gave it, kept to build its lifting item when that is learnt."""

    path: str
    title: str
    text: str
    content_id: Any


class GovukSpider(SourceSpider):
    name = "govuk"
    document_noun = "notices"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: base_path -> the collection group it sits in ("Open notices", "Closed notices", ...).
        self.groups: dict[str, str] = {}
        #: base_path -> its lifting as a collection's change history records it.
        self.liftings: dict[str, Lifting] = {}
        #: base_path -> public_updated_at, for every notice the listings named.
        self.candidates: dict[str, str] = {}
        #: Collections read and notices found by search this run, for `sendwatch check`.
        self.collections_read: list[str] = []
        self.search_hits = 0
        self.notices: dict[str, Notice] = {}
        #: Directions revoked and replaced with a notice: lifted by that, not again.
        self.revoked: set[str] = set()
        self.collections: set[str] = set()
        self.listings_pending = 0
        self.reading_notices = False

    def self_check(self, stats: Mapping[str, Any], found: Found) -> list[Row]:
        """The search's hits, the notices collection read, the notices and directions it
        lists by group, and one notice read."""
        groups = Counter(str(title).lower() for title in self.groups.values())
        counted = ", ".join(f"{title} {n}" for title, n in sorted(groups.items()))
        return [
            Row("search", self.search_hits > 0, f"{self.search_hits} notices and directions found"),
            Row(
                "collection",
                bool(self.collections_read),
                ", ".join(self.collections_read) or "no notices collection found",
            ),
            Row("notices and directions", bool(groups), counted or "the collection lists none"),
            read_row("notice", found, "kind"),
        ]

    async def start(self) -> AsyncIterator[Request]:
        remembered = {
            key.removeprefix(COLLECTION_MARK)
            for key in self.marks
            if key.startswith(COLLECTION_MARK)
        }
        for query in QUERIES:
            yield self._search_request(query, 0)
        # The configured slug is a first guess, needed only until search has named the real one.
        for path in sorted(remembered or {COLLECTION_PATH}):
            yield self._collection_request(path)

    # -- listings: search and collections, all read before any notice -----------------

    def _listing(self, request: Request) -> Request:
        self.listings_pending += 1
        return request

    def _listing_done(self) -> Iterator[Request]:
        """Once every listing is read (closed groups and collection notes known), read the notices."""
        self.listings_pending -= 1
        if self.listings_pending == 0 and not self.reading_notices:
            self.reading_notices = True
            self.count_listing(len(self.candidates))
            for path, version in sorted(self.candidates.items()):
                request = self._content_request(path, version)
                if request:
                    yield request

    def _search_request(self, query: str, start: int) -> Request:
        params: list[tuple[str, str | int]] = [
            ("q", query),
            ("filter_organisations", DFE),
            ("order", "-public_timestamp"),
            ("count", PAGE_SIZE),
            ("start", start),
        ]
        params += [("fields", name) for name in SEARCH_FIELDS]
        return self._listing(
            self.listing_request(
                self.url("/api/search.json?" + urlencode(params)),
                self.parse_search,
                self.search_failed,
                query=query,
                start=start,
            )
        )

    def parse_search(self, response: Response, query: str, start: int) -> Iterator[Any]:
        data = json_object(response)
        if data is None:
            self.listing_error(response.url, "not JSON")
            yield from self._listing_done()
            return
        results = [r for r in data.get("results") or [] if isinstance(r, dict)]
        candidates = [r for r in results if NOTICE_TITLE.search(str(r.get("title", "")))]
        self.search_hits += len(candidates)
        unhandled = 0
        for result in candidates:
            yield from self._collections_of(result.get("document_collections"))
            path, version = result.get("link"), str(result.get("public_timestamp") or "")
            if self._add_candidate(path, version) and not self.is_handled(str(path), version):
                unhandled += 1
        total = int(data.get("total") or 0)
        next_start = start + PAGE_SIZE
        more = unhandled or self.first_run
        if next_start < total and next_start < PAGE_SIZE * MAX_PAGES and more:
            yield self._search_request(query, next_start)
        yield from self._listing_done()

    def search_failed(self, failure: Failure) -> Iterator[Request]:
        self.listing_failed(failure)
        yield from self._listing_done()

    def _collections_of(self, collections: Any) -> Iterator[Request | MarkItem]:
        """The notices collections a search result or notice belongs to: each read this run,
        and remembered so later runs read them from the start."""
        for collection in collections or []:
            if isinstance(collection, dict):
                path = collection.get("link") or collection.get("base_path")
                title = str(collection.get("title", ""))
            else:  # a bare slug
                path, title = f"/government/collections/{collection}", str(collection)
            if not isinstance(path, str) or not COLLECTION_TITLE.search(title):
                continue
            if path not in self.collections:
                log.info("govuk: notices are listed in %s; reading it", path)
                yield self._collection_request(path)
            if COLLECTION_MARK + path not in self.marks:
                self.marks = {**self.marks, COLLECTION_MARK + path: "1"}
                yield MarkItem(COLLECTION_MARK + path, "1")

    def _collection_request(self, path: str) -> Request:
        self.collections.add(path)
        return self._listing(
            self.listing_request(
                self.url(f"/api/content{path}"),
                self.parse_collection,
                self.collection_failed,
                path=path,
            )
        )

    def parse_collection(self, response: Response, path: str) -> Iterator[Any]:
        data = json_object(response)
        if data is None:
            self.listing_error(response.url, "not JSON")
            yield from self._listing_done()
            return
        self.collections_read.append(path)
        docs = dicts_in(data.get("links"), "documents")
        by_id = {doc.get("content_id"): doc for doc in docs}
        for group in dicts_in(data.get("details"), "collection_groups"):
            for content_id in group.get("documents") or []:
                doc = by_id.get(content_id)
                if doc and doc.get("base_path"):
                    self.groups[doc["base_path"]] = str(group.get("title", ""))
        named = {
            doc["base_path"]: _folded(doc.get("title"))
            for doc in docs
            if isinstance(doc.get("base_path"), str)
        }
        for entry in dicts_in(data.get("details"), "change_history"):
            self._collection_note(entry, named)
        new = [
            doc
            for doc in docs
            if NOTICE_TITLE.search(str(doc.get("title", "")))
            and self._add_candidate(doc.get("base_path"), str(doc.get("public_updated_at") or ""))
        ]
        if self.reading_notices:  # a collection found late, on a notice: read what it adds now
            for doc in new:
                request = self._content_request(doc["base_path"], self.candidates[doc["base_path"]])
                if request:
                    yield request
            for notice in list(self.notices.values()):
                yield from self._lifted_items(notice)
        yield from self._listing_done()

    def _collection_note(self, entry: dict[str, Any], named: dict[str, str]) -> None:
        """A collection's change note that moves a notice to a closed group records its lifting."""
        note = str(entry.get("note") or "")
        if not note_lifts(note):
            return
        path = _noted(note, named)
        if path is None:
            log.info("govuk: a lifting note names no notice the collection lists: %s", note)
            return
        if path not in self.liftings:  # newest first: the latest word on it wins
            noted_at = parse_date(entry.get("public_timestamp"))
            self.liftings[path] = Lifting(lifted_on(note, noted_at), note)

    def collection_failed(self, failure: Failure) -> Iterator[Request]:
        request = getattr(failure, "request", None)
        path = request.cb_kwargs.get("path") if request is not None else None
        if path == COLLECTION_PATH and failure_reason(failure) in ("404", "410"):
            # The slug is DfE's to change: search finds the collection wherever it moved.
            log.warning("govuk: %s is gone; relying on the collections search names", path)
        else:
            self.listing_failed(failure)
        yield from self._listing_done()

    def _add_candidate(self, path: Any, version: str) -> bool:
        if not isinstance(path, str) or not path.startswith("/"):
            return False
        known = self.candidates.get(path)
        self.candidates[path] = max(known or "", version)
        return known is None

    # -- each notice ------------------------------------------------------------------

    def _lifting_known(self, path: str) -> bool:
        return path in self.liftings or bool(CLOSED_GROUP.search(self.groups.get(path, "")))

    def _content_request(self, path: str, version: str) -> Request | None:
        lifting_recorded = self.is_handled(path + LIFTED, "1") or self.is_handled(
            path + REVOKED, "1"
        )
        if self.is_handled(path, version) and (not self._lifting_known(path) or lifting_recorded):
            return None
        return self.detail_request(
            self.url(f"/api/content{path}"), self.parse_content, base_path=path
        )

    def parse_content(self, response: Response, base_path: str) -> Iterator[Any]:
        data = json_object(response)
        if data is None or not data.get("title"):
            self.item_error(response.url, "not the JSON the Content API returns")
            return
        path = data.get("base_path") or base_path
        title = str(data.get("title") or "").strip()
        details = data.get("details") or {}
        text = "\n".join(
            part
            for part in (
                str(data.get("description") or ""),
                html_text(details.get("body")),
                *(html_text(doc) for doc in details.get("documents") or []),
            )
            if part
        )
        version = str(data.get("public_updated_at") or "")
        yield SourceItem(
            source=self.name,
            identity=path,
            url=CANONICAL_HOST + path,
            title=title,
            text=text,
            published_on=parse_date(data.get("first_published_at")),
            extra={
                "content_id": data.get("content_id"),
                "document_type": data.get("document_type"),
            },
            mark=(base_path, version),
        )
        notice = Notice(path, title, text, data.get("content_id"))
        self.notices[path] = notice
        notes = [n for n in details.get("change_history") or [] if isinstance(n, dict)]
        self._own_lifting(path, notes, data.get("withdrawn_notice"), version)
        revoked = list(self._revocation(notice, notes))
        if revoked:  # the revocation is this direction's lifting
            self.revoked.add(path)
        yield from revoked
        yield from self._lifted_items(notice)
        yield from self._collections_of(dicts_in(data.get("links"), "document_collections"))

    def _own_lifting(
        self, path: str, notes: list[dict[str, Any]], withdrawn: Any, version: str
    ) -> None:
        """What the notice itself says of its lifting; a collection's note, read first, wins."""
        if path in self.liftings:
            return
        for note in notes:  # newest first
            text = str(note.get("note") or "")
            if note_lifts(text) and not note_replaces_with_notice(text):
                self.liftings[path] = Lifting(
                    lifted_on(text, parse_date(note.get("public_timestamp"))), text
                )
                return
        if isinstance(withdrawn, dict) and withdrawn.get("withdrawn_at"):
            explanation = html_text(withdrawn.get("explanation")) or "Withdrawn"
            self.liftings[path] = Lifting(parse_date(withdrawn.get("withdrawn_at")), explanation)
            return
        group = self.groups.get(path, "")
        if CLOSED_GROUP.search(group):
            # Closed, with no note saying when: the notice's own last update is the best date
            # there is (its title's month is when it was issued, never when it was lifted).
            reason = f"Listed under '{group}' in DfE's improvement notices and directions"
            self.liftings[path] = Lifting(parse_date(version), reason)

    def _lifted_items(self, notice: Notice) -> Iterator[SourceItem]:
        lifting = self.liftings.get(notice.path)
        key = notice.path + LIFTED
        if lifting is None or notice.path in self.revoked or self.is_handled(key, "1"):
            return
        self.marks = {**self.marks, key: "1"}  # once per run, however many collections tell it
        yield self._happening(
            notice, LIFTED, f"{notice.title} (lifted)", Kind.NOTICE_LIFTED, lifting
        )

    def _revocation(self, notice: Notice, notes: list[dict[str, Any]]) -> Iterator[SourceItem]:
        """A direction revoked and replaced with an improvement notice: a lifting, and a notice."""
        for note in notes:
            text = str(note.get("note") or "")
            if not note_replaces_with_notice(text):
                continue
            lifting = Lifting(lifted_on(text, parse_date(note.get("public_timestamp"))), text)
            council = _council(notice.title)
            title = f"Direction issued to {council} revoked"
            yield self._happening(notice, REVOKED, title, Kind.NOTICE_LIFTED, lifting)
            if not re.match(r"\s*improvement notice", notice.title, re.IGNORECASE):
                title = f"Improvement notice issued to {council}"
                yield self._happening(notice, REPLACEMENT, title, Kind.IMPROVEMENT_NOTICE, lifting)
            return

    def _happening(
        self, notice: Notice, suffix: str, title: str, kind: Kind, note: Lifting
    ) -> SourceItem:
        """A second happening a notice's page records (its lifting), dated and told by the note."""
        key = notice.path + suffix
        return SourceItem(
            source=self.name,
            identity=key,
            url=CANONICAL_HOST + notice.path,
            title=title,
            text=f"{note.reason}\n{notice.text}",
            published_on=note.on,
            kind_hint=kind,
            happened_on_hint=note.on,
            extra={"content_id": notice.content_id, "lifted_by": note.reason[:300]},
            mark=(key, "1"),
        )


def _council(title: str) -> str:
    """ "Direction issued to Kingston upon Hull City Council: May 2023" -> the council."""
    match = re.search(r"\bto\s+(?P<council>.+?)(?::|$)", title)
    return match["council"].strip() if match else title


def _noted(note: str, named: dict[str, str]) -> str | None:
    """The notice a note is about: the one whose title it quotes (the longest, should one title
    hold another), else the one whose slug its words spell out."""
    folded = _folded(note)
    quoted = [path for path, title in named.items() if title and title in folded]
    if quoted:
        return max(quoted, key=lambda path: len(named[path]))
    spelt = "-" + "-".join(re.findall(r"[a-z0-9]+", folded)) + "-"
    slugs = [path for path in named if f"-{path.rsplit('/', 1)[-1]}-" in spelt]
    return max(slugs, key=len) if slugs else None


def _folded(title: Any) -> str:
    """A title as notes quote it: case, quotes and spacing folded."""
    text = str(title or "").replace("\u2019", "'").replace("\u2018", "'").replace("\u2013", "-")
    return " ".join(text.casefold().split())
