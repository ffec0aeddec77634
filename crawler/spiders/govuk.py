"""GOV.UK: the Department for Education's improvement notices and statutory directions.

Through GOV.UK's public APIs only (robots.txt disallows the /search/all finder pages):

1. the Content API for DfE's "Improvement notices and directions" collection, whose
   groups say which notices are open and which closed::

       GET /api/content/government/collections/<slug>
       {"details": {"collection_groups": [{"title": "Closed notices", "documents": [<content_id>, ...]}]},
        "links": {"documents": [{"content_id", "base_path", "title", "public_updated_at"}]}}

2. the Search API, newest first, for notices the collection does not list (yet)::

       GET /api/search.json?q=improvement+notice&filter_organisations=department-for-education
           &order=-public_timestamp&count=50&start=0&fields=title&fields=link&...
       {"results": [{"title", "link", "public_timestamp", "document_collections"}], "total": N}

3. the Content API for each notice not yet handled at its current `public_updated_at`::

       GET /api/content/government/publications/<slug>
       {"content_id", "title", "description", "first_published_at", "public_updated_at",
        "details": {"body": "<html>", "documents": ["<html>"], "change_history": [{"note", "public_timestamp"}]},
        "withdrawn_notice": {"explanation", "withdrawn_at"}}

A notice moved to a "Closed" group, a change note saying it was lifted, or a
withdrawal yields a second item, the *notice lifted* event, under its own identity.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlencode

from scrapy import Request
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.dates import parse_date
from crawler.items import MarkItem, SourceItem
from crawler.spiders.base import SourceSpider, html_text
from sendwatch.vocab import Kind

log = logging.getLogger(__name__)

CANONICAL_HOST = "https://www.gov.uk"
DFE = "department-for-education"
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
LIFTED_NOTE = re.compile(
    r"\b(?:lifted|removed|closed|revoked|withdrawn|stepped down|ended)\b|closed notices|closed directions",
    re.IGNORECASE,
)
COLLECTION_MARK = "collection:"


class GovukSpider(SourceSpider):
    name = "govuk"
    official = True
    document_noun = "notices"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: base_path -> the collection group it sits in ("Open notices", "Closed notices", ...).
        self.groups: dict[str, str] = {}
        self.collections_pending = 0

    async def start(self) -> AsyncIterator[Request]:
        collections = {COLLECTION_PATH} | {
            key.removeprefix(COLLECTION_MARK)
            for key in self.marks
            if key.startswith(COLLECTION_MARK)
        }
        self.collections_pending = len(collections)
        for path in sorted(collections):
            yield self.listing_request(
                self.url(f"/api/content{path}"),
                self.parse_collection,
                self.collection_failed,
                path=path,
            )

    # -- the collection ---------------------------------------------------------------

    def parse_collection(self, response: Response, path: str) -> Iterator[Any]:
        data = _json(response)
        if data is None:
            log.warning("govuk: collection %s is not the JSON expected", response.url)
            yield from self._collection_done()
            return
        by_id = {doc.get("content_id"): doc for doc in _list(data.get("links"), "documents")}
        for group in _list(data.get("details"), "collection_groups"):
            for content_id in group.get("documents") or []:
                doc = by_id.get(content_id)
                if doc and doc.get("base_path"):
                    self.groups[doc["base_path"]] = str(group.get("title", ""))
        candidates = [
            doc for doc in by_id.values() if NOTICE_TITLE.search(str(doc.get("title", "")))
        ]
        self.count_listing(len(candidates))
        for doc in candidates:
            request = self._content_request(doc.get("base_path"), doc.get("public_updated_at"))
            if request:
                yield request
        yield from self._collection_done()

    def collection_failed(self, failure: Failure) -> Iterator[Request]:
        # The collection's slug is DfE's to change: without it, search still finds the
        # notices and their change notes still tell of lifting, so this is a warning.
        log.warning("govuk: collection unavailable: %s", failure.getErrorMessage())
        yield from self._collection_done()

    def _collection_done(self) -> Iterator[Request]:
        """Search once every collection is read, so closed groups are known first."""
        self.collections_pending -= 1
        if self.collections_pending == 0:
            for query in QUERIES:
                yield self._search_request(query, 0)

    # -- search -----------------------------------------------------------------------

    def _search_request(self, query: str, start: int) -> Request:
        params: list[tuple[str, str | int]] = [
            ("q", query),
            ("filter_organisations", DFE),
            ("order", "-public_timestamp"),
            ("count", PAGE_SIZE),
            ("start", start),
        ]
        params += [("fields", name) for name in SEARCH_FIELDS]
        return self.listing_request(
            self.url("/api/search.json?" + urlencode(params)),
            self.parse_search,
            query=query,
            start=start,
        )

    def parse_search(self, response: Response, query: str, start: int) -> Iterator[Any]:
        data = _json(response)
        if data is None:
            self.listing_error(response.url, "not JSON")
            return
        results = data.get("results") or []
        candidates = [r for r in results if NOTICE_TITLE.search(str(r.get("title", "")))]
        self.count_listing(len(candidates))
        unhandled = 0
        for result in candidates:
            yield from self._other_collections(result.get("document_collections"))
            request = self._content_request(result.get("link"), result.get("public_timestamp"))
            if request:
                unhandled += 1
                yield request
        total = int(data.get("total") or 0)
        next_start = start + PAGE_SIZE
        first_run = not self.marks
        if next_start < total and next_start < PAGE_SIZE * MAX_PAGES and (unhandled or first_run):
            yield self._search_request(query, next_start)

    def _other_collections(self, collections: Any) -> Iterator[MarkItem]:
        """Other notice collections a result belongs to: remembered, so later runs read them too."""
        for collection in collections or []:
            if isinstance(collection, dict):
                link, title = collection.get("link"), str(collection.get("title", ""))
            else:
                link, title = f"/government/collections/{collection}", str(collection)
            key = COLLECTION_MARK + str(link)
            if (
                link
                and link != COLLECTION_PATH
                and COLLECTION_TITLE.search(title)
                and key not in self.marks
            ):
                log.info("govuk: notices also listed in %s; reading it from the next run", link)
                self.marks = {**self.marks, key: "1"}
                yield MarkItem(key, "1")

    # -- each notice ------------------------------------------------------------------

    def _content_request(self, base_path: Any, version: Any) -> Request | None:
        if not isinstance(base_path, str) or not base_path.startswith("/"):
            return None
        version = str(version or "")
        closed = bool(CLOSED_GROUP.search(self.groups.get(base_path, "")))
        if self.is_handled(base_path, version) and (
            not closed or self.is_handled(base_path + "#lifted", "1")
        ):
            return None
        return self.detail_request(
            self.url(f"/api/content{base_path}"), self.parse_content, base_path=base_path
        )

    def parse_content(self, response: Response, base_path: str) -> Iterator[SourceItem]:
        data = _json(response)
        if data is None or not data.get("title"):
            self.item_error(response.url, "not the JSON the Content API returns")
            return
        path = data.get("base_path") or base_path
        title = str(data.get("title") or "").strip()
        details = data.get("details") or {}
        notes = [n for n in details.get("change_history") or [] if isinstance(n, dict)]
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
        notice = SourceItem(
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
        yield notice
        lifted = self._lifting(path, notes, data.get("withdrawn_notice"))
        if lifted is not None:
            when, reason = lifted
            yield SourceItem(
                source=self.name,
                identity=path + "#lifted",
                url=CANONICAL_HOST + path,
                title=f"{title} (lifted)",
                text=f"{reason}\n{text}",
                published_on=when,
                kind_hint=Kind.NOTICE_LIFTED,
                happened_on_hint=when,
                extra={"content_id": data.get("content_id"), "lifted_by": reason[:300]},
                mark=(path + "#lifted", "1"),
            )

    def _lifting(
        self, path: str, notes: list[dict[str, Any]], withdrawn: Any
    ) -> tuple[dt.date | None, str] | None:
        """When and why a notice was lifted: a change note, a withdrawal, or a closed group."""
        for note in notes:  # newest first
            text = str(note.get("note") or "")
            if LIFTED_NOTE.search(text) and not re.search(r"\b(?:will|may|could)\s+be\b", text):
                return parse_date(text) or parse_date(note.get("public_timestamp")), text
        if isinstance(withdrawn, dict) and withdrawn.get("withdrawn_at"):
            explanation = html_text(withdrawn.get("explanation")) or "Withdrawn"
            return parse_date(withdrawn.get("withdrawn_at")), explanation
        group = self.groups.get(path, "")
        if CLOSED_GROUP.search(group):
            return None, f"Listed under '{group}' in DfE's improvement notices and directions"
        return None


def _json(response: Response) -> dict[str, Any] | None:
    """The response's JSON object, or None for anything else (truncated, HTML, a list)."""
    try:
        data = json.loads(response.body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _list(container: Any, key: str) -> list[dict[str, Any]]:
    if not isinstance(container, dict):
        return []
    return [entry for entry in container.get(key) or [] if isinstance(entry, dict)]
