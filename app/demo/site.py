"""A local stand-in for GOV.UK, Ofsted, Local Government Lawyer, councils' ModernGov and
CMIS sites, and the Ombudsman.

Each real host is its own server (www.gov.uk; assets.publishing.service.gov.uk, where
GOV.UK keeps attachments such as Ofsted's statistics spreadsheets; reports.ofsted.gov.uk and
files.ofsted.gov.uk; Local Government Lawyer under every host it is linked at; each
council's ModernGov site; the Local Government and Social Care Ombudsman, www.lgo.org.uk),
answering only the paths the real host answers: a report PDF asked of
reports.ofsted.gov.uk is a 404, as it is on the real site. The crawler reaches them
with its production URLs through `[crawler] host_map` (`FixtureSite.host_map`).

It serves sample pages, API answers and report PDFs from an ordered list of roots, each
file from the first root that has it: the samples bundled in `app/demo/files` (`SAMPLES`,
the one copy of the pages the demo and the tests share) last, and before them what a test
adds (its own fixtures) and a folder to write to, so a test or the demo publishes or breaks
something by editing a copy there (`FixtureSite.edit`), never the samples themselves.
It gives ETags and honours If-None-Match (304), logs every request, and can be told to
fail or stall. `sendwatch demo` and the end-to-end tests both run on it.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

SAMPLES = Path(__file__).resolve().parent / "files"
SAMPLE_NOTICE_PATH = (
    "/government/publications/improvement-notice-issued-to-derbyshire-county-council"
)
#: Not the slug sendwatch guesses first: the spider must find it from search results.
GOVUK_COLLECTION = "/government/collections/improvement-notices-and-directions-childrens-services"
LGL_SECTION = "/education-law/394-education-news"
TYPES = {
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
    ".xml": "application/rss+xml",
    ".pdf": "application/pdf",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
}


GOVUK = "www.gov.uk"
#: Where GOV.UK keeps attachments (Ofsted's statistics spreadsheets): a host of its own.
GOVUK_ASSETS = "assets.publishing.service.gov.uk"
#: Ofsted's statistics releases and their collection, under www.gov.uk's Content API.
STATISTICS_PATHS = (
    "/government/statistical-data-sets/",
    "/government/statistics/",
    "/government/collections/area-send-statistics",
)
OFSTED_REPORTS = "reports.ofsted.gov.uk"
OFSTED_FILES = "files.ofsted.gov.uk"
LGL = "www.localgovernmentlawyer.co.uk"
#: Every host a Local Government Lawyer article is linked under (one article each).
LGL_HOSTS = (
    LGL,
    "localgovernmentlawyer.co.uk",
    "mail.localgovernmentlawyer.co.uk",
    "www.j5.localgovernmentlawyer.co.uk",
)
#: Councils' ModernGov sites (real hosts) -> their fixtures' folder under moderngov/.
MODERNGOV_HOSTS = {
    "lbbd.moderngov.co.uk": "barking-and-dagenham",
    "worcestershire.moderngov.co.uk": "worcestershire",
    "barnet.moderngov.co.uk": "barnet",
}
MODERNGOV_SERVICE = "/mgWebService.asmx/"
#: Councils' CMIS sites (real hosts) -> their fixtures' folder under cmis/.
CMIS_HOSTS = {"birmingham.cmis.uk.com": "birmingham"}
#: The Local Government and Social Care Ombudsman, and its SEND decisions' category listing.
LGO = "www.lgo.org.uk"
LGO_SEND = "/decisions/education/special-educational-needs"
HOSTS = (
    GOVUK,
    GOVUK_ASSETS,
    OFSTED_REPORTS,
    OFSTED_FILES,
    *LGL_HOSTS,
    *MODERNGOV_HOSTS,
    *CMIS_HOSTS,
    LGO,
)


@dataclass
class Seen:
    """One request as the server saw it."""

    host: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    status: int = 0


@dataclass
class FixtureSite:
    #: Where the files come from, first first: a file is served from the first root that has
    #: it. The first root is the one written to (`edit`): the demo and the tests lay a folder
    #: of their own over the samples, which are never written to.
    roots: tuple[Path, ...] = (SAMPLES,)
    requests: list[Seen] = field(default_factory=list)
    #: path, or host + path, -> (status, body) answered instead of the fixture (breakage); to
    #: publish something new, `edit` a file.
    overrides: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    #: path prefix -> seconds to wait before answering.
    delays: dict[str, float] = field(default_factory=dict)
    #: real host -> the local URL that serves it, once served.
    urls: dict[str, str] = field(default_factory=dict)
    #: real host -> its own robots.txt, instead of the one every host shares.
    robots: dict[str, str] = field(default_factory=dict)

    def file(self, relative: str) -> Path | None:
        """The file served for `relative` (e.g. "lgl/feed.xml"): the first root's that has it."""
        for root in self.roots:
            candidate = root / relative
            if candidate.is_file():
                return candidate
        return None

    def edit(self, relative: str) -> Path:
        """Where to write `relative` to change what the site serves: the first root's copy,
        made there from the file served now if there is none yet, so a change never reaches
        the roots below (the package's samples, a test's fixtures)."""
        target = self.roots[0] / relative
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            served = self.file(relative)
            if served is not None:
                shutil.copyfile(served, target)
        return target

    @property
    def host_map(self) -> str:
        """`[crawler] host_map` as the environment writes it: every real host onto its server."""
        return ",".join(f"{host}={url}" for host, url in self.urls.items())

    def route(self, host: str, path: str, query: dict[str, list[str]]) -> str | None:
        """The file (relative to a root) for a request, at the paths the real host answers."""
        if host == GOVUK:
            return self._govuk(path, query)
        if host == GOVUK_ASSETS and path.startswith(("/media/", "/government/uploads/")):
            return f"statistics/files/{path.rsplit('/', 1)[-1]}"
        if host == OFSTED_REPORTS:
            return self._ofsted_reports(path, query)
        if host == OFSTED_FILES and path.startswith("/v1/file/"):
            return f"ofsted/files/{path.rsplit('/', 1)[-1]}.pdf"
        if host in LGL_HOSTS:
            return self._lgl(path, query)
        if host in MODERNGOV_HOSTS:
            return self._moderngov(MODERNGOV_HOSTS[host], path, query)
        if host in CMIS_HOSTS:
            return self._cmis(CMIS_HOSTS[host], path, query)
        if host == LGO:
            return self._lgo(path, query)
        return None

    def _govuk(self, path: str, query: dict[str, list[str]]) -> str | None:
        one = {key: values[0] for key, values in query.items()}
        if path.startswith("/api/content/"):
            target = path.removeprefix("/api/content")
            if target.startswith(STATISTICS_PATHS):
                return f"statistics/content/{target.rsplit('/', 1)[-1]}.json"
            if target == GOVUK_COLLECTION:
                return "govuk/collection.json"
            return f"govuk/content/{target.rsplit('/', 1)[-1]}.json"
        if path == "/api/search.json":
            if one.get("filter_organisations") == "ofsted":  # Ofsted's statistics releases
                return "statistics/search.json"
            if one.get("start", "0") != "0":
                return "govuk/search-empty.json"
            return f"govuk/search-{one.get('q', '').replace(' ', '-')}.json"
        return None

    def _ofsted_reports(self, path: str, query: dict[str, list[str]]) -> str | None:
        one = {key: values[0] for key, values in query.items()}
        if path == "/search":
            return "ofsted/" + ("search-2.html" if one.get("start") == "100" else "search-1.html")
        if path.startswith("/provider/44/"):
            return f"ofsted/provider-{path.rsplit('/', 1)[-1]}.html"
        return None

    def _lgl(self, path: str, query: dict[str, list[str]]) -> str | None:
        one = {key: values[0] for key, values in query.items()}
        if path == LGL_SECTION:
            if one.get("format") == "feed":
                return "lgl/feed.xml"
            return "lgl/" + ("listing-2.html" if one.get("start") else "listing.html")
        if path.startswith((LGL_SECTION + "/", "/education/")):  # and the older paths
            article_id = path.rsplit("/", 1)[-1].split("-", 1)[0]
            return f"lgl/articles/{article_id}.html"
        return None

    def _lgo(self, path: str, query: dict[str, list[str]]) -> str | None:
        """The category listing (its next page by the link it gives) and each decision's page."""
        if path.rstrip("/") == LGO_SEND:
            return "ombudsman/" + ("listing-2.html" if query.get("page") else "listing.html")
        if path.startswith(LGO_SEND + "/"):
            return f"ombudsman/decisions/{path.rstrip('/').rsplit('/', 1)[-1]}.html"
        return None

    def _moderngov(self, council: str, path: str, query: dict[str, list[str]]) -> str | None:
        """The web service's answers: GetMeetings (whatever dates are asked), GetMeeting, GetCommittees."""
        operation = (
            path.removeprefix(MODERNGOV_SERVICE) if path.startswith(MODERNGOV_SERVICE) else ""
        )
        if operation in ("GetMeetings", "GetCommittees"):
            return f"moderngov/{council}/{operation}.xml"
        meeting = query.get("lMeetingId", [""])[0]
        if operation == "GetMeeting" and meeting.isdigit():
            return f"moderngov/{council}/GetMeeting-{meeting}.xml"
        return None

    def _cmis(self, council: str, path: str, query: dict[str, list[str]]) -> str | None:
        """A CMIS site's meetings page (and its list view), any month of its calendar (a month
        with no fixture is one with no meetings), and its meetings' pages."""
        folder = f"cmis/{council}"
        if path.endswith("/Meetings.aspx"):
            listing = query.get("ctl", [""])[0] == "MeetingCalendarListView"
            return f"{folder}/{'list-view' if listing else 'Meetings'}.html"
        month = re.search(
            r"/ctl/MeetingCalendarPublicNoJava/mid/\d+/Date/(\d{4}-\d{2})-\d{2}/", path
        )
        if month:
            relative = f"{folder}/calendar-{month[1]}.html"
            return relative if self.file(relative) else f"{folder}/calendar-empty.html"
        meeting = re.search(r"/ctl/ViewMeetingPublic/mid/\d+/Meeting/(\d+)/Committee/\d+/", path)
        return f"{folder}/meeting-{meeting[1]}.html" if meeting else None

    def answer(self, host: str, path: str, query: dict[str, list[str]]) -> tuple[int, bytes, str]:
        if path == "/robots.txt":
            robots = self.robots.get(
                host, "User-agent: *\nDisallow: /search/all\nDisallow: /*/print$\n"
            )
            return 200, robots.encode(), "text/plain"
        for key in (host + path, path):
            if key in self.overrides:
                status, body = self.overrides[key]
                return status, body, "text/html; charset=utf-8"
        relative = self.route(host, path, query)
        fixture = self.file(relative) if relative is not None else None
        if fixture is None:
            return 404, b"not found", "text/plain"
        return 200, fixture.read_bytes(), TYPES.get(fixture.suffix, "application/octet-stream")

    def fail(self, path: str, status: int = 500, host: str = "") -> None:
        """Answer `path` with `status`, on every host or on `host` only."""
        self.overrides[host + path] = (status, b"<html><body>Service unavailable</body></html>")


def _handler(site: FixtureSite, host: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query, keep_blank_values=True)
            headers = {k.lower(): v for k, v in self.headers.items()}
            seen = Seen(host, parts.path, query, headers)
            site.requests.append(seen)
            for prefix, seconds in site.delays.items():
                if parts.path.startswith(prefix):
                    time.sleep(seconds)
            status, body, content_type = site.answer(host, parts.path, query)
            etag = '"' + hashlib.sha1(body).hexdigest() + '"'
            if status == 200 and self.headers.get("If-None-Match") == etag:
                status, body = 304, b""
            seen.status = status
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            if status in (200, 304):
                self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def serve(site: FixtureSite | None = None) -> Iterator[FixtureSite]:
    """Run each host of the site on 127.0.0.1, on a free port each, for the duration of the block."""
    site = site or FixtureSite()
    servers = []
    try:
        for host in HOSTS:
            server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site, host))
            server.daemon_threads = True
            servers.append(server)
            site.urls[host] = f"http://127.0.0.1:{server.server_address[1]}"
            threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        yield site
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def _month(iso_date: str) -> str:
    """ "2025-01-14" -> "January 2025", as DfE titles say."""
    import datetime as dt

    return f"{dt.date.fromisoformat(iso_date):%B %Y}"


def publish_sample_notice(site: FixtureSite, published: str = "2025-01-14") -> None:
    """Publish a new SEND notice on the site: its Content API item and a search result, written
    to the site's first root (`FixtureSite.edit`), over the samples."""
    bexley = site.file(
        "govuk/content/improvement-notice-issued-to-london-borough-of-bexley-may-2024.json"
    )
    if bexley is None:
        raise FileNotFoundError("the site serves no Bexley notice to model the new one on")
    template = json.loads(bexley.read_text())
    notice = {
        **template,
        "base_path": SAMPLE_NOTICE_PATH,
        "content_id": "11111111-2222-4333-8444-555555555555",
        "title": f"Improvement notice issued to Derbyshire County Council: {_month(published)}",
        "description": "Notice to Derbyshire County Council to improve its SEND services.",
        "first_published_at": f"{published}T16:00:00.000+00:00",
        "public_updated_at": f"{published}T16:00:00.000+00:00",
        "details": {
            "body": "<p>Derbyshire County Council must improve its special educational needs and"
            f" disabilities (SEND) services by the end of December {int(published[:4]) + 1}.</p>",
            "documents": [],
            "change_history": [
                {"public_timestamp": f"{published}T16:00:00.000+00:00", "note": "First published."}
            ],
        },
    }
    site.edit(f"govuk/content/{SAMPLE_NOTICE_PATH.rsplit('/', 1)[1]}.json").write_text(
        json.dumps(notice)
    )
    search_file = site.edit("govuk/search-improvement-notice.json")
    search = json.loads(search_file.read_text())
    search["results"].insert(
        0,
        {
            "title": notice["title"],
            "link": SAMPLE_NOTICE_PATH,
            "description": notice["description"],
            "public_timestamp": notice["public_updated_at"],
            "content_store_document_type": "decision",
        },
    )
    search["total"] += 1
    search_file.write_text(json.dumps(search))
