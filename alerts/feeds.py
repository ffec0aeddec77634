"""Atom and RSS 2.0 feeds of events (feedgen): everything, and per LA, region and kind.

An entry's id is the event's own (a tag URI on sendwatch's host), so a reader
shows an event once however many sources report it; an update to the event moves
its `updated`, never its id. An entry is `published` when the event happened (else
when its first source published it), and `updated` when sendwatch last changed it.
Entries run newest happened first, as /recent and /api/events list events.

Ids and links are on sendwatch's own address (`Settings.own_url`): the same bytes
whoever asks, so a feed can be cached. The `/feeds` page lists every feed (`alerts.pages`).
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from feedgen.feed import FeedGenerator

from alerts.filters import OPT_IN_KINDS
from alerts.summary import KIND_LABELS, Summary, summarise
from sendwatch.config import Settings
from sendwatch.vocab import Kind
from storage.las import register, slugify
from storage.models import Event
from storage.queries import event_facts, newest_happened
from storage.store import Store

FORMATS = ("atom", "rss")


@dataclass(frozen=True)
class FeedSpec:
    """Which events a feed holds, and its path under /feeds/."""

    path: str
    title: str
    la_codes: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    #: The web page the feed follows (its `alternate` link), under the base URL.
    page: str = "/"


def spec_for(section: str, key: str) -> FeedSpec | None:
    """The feed at /feeds/<section>/<key>, or None when there is no such feed."""
    las = register()
    if section == "la":
        la = las.lookup(key)
        if la is None:
            return None
        return FeedSpec(
            f"la/{la.slug}",
            f"SEND notices and inspections: {la.name}",
            la_codes=(la.ons_code,),
            page=f"/la/{la.slug}",
        )
    if section == "region":
        codes = tuple(la.ons_code for la in las if la.region_slug == key)
        if not codes:
            return None
        region = las.get(codes[0]).region  # type: ignore[union-attr]
        return FeedSpec(
            f"region/{key}",
            f"SEND notices and inspections: {region}",
            la_codes=codes,
            kinds=NATIONAL_KINDS,
            page=f"/?region={key}#councils",
        )
    if section == "kind":
        try:
            kind = Kind(key)
        except ValueError:
            return None
        return FeedSpec(f"kind/{kind}", f"SEND: {KIND_LABELS[kind]}", kinds=(str(kind),))
    return None


#: What the national and regional feeds carry: everything but the opt-in kinds (councils' own
#: meeting papers, the Ombudsman's decisions), which are in each council's feed and in
#: /feeds/kind/<kind>.
NATIONAL_KINDS = tuple(str(kind) for kind in Kind if kind not in OPT_IN_KINDS)
ALL = FeedSpec("all", "SEND notices and inspections in England", kinds=NATIONAL_KINDS)


def every_spec() -> Iterator[FeedSpec]:
    las = register()
    yield ALL
    for la in las:
        yield spec_for("la", la.slug)  # type: ignore[misc]
    for region in las.regions():
        yield spec_for("region", slugify(region))  # type: ignore[misc]
    for kind in Kind:
        yield spec_for("kind", str(kind))  # type: ignore[misc]


def feed_url(base: str, spec: FeedSpec, fmt: str) -> str:
    """The feed's address on sendwatch's own address `base`."""
    return f"{base}/feeds/{spec.path}.{fmt}"


def render_feed(
    settings: Settings, store: Store, spec: FeedSpec, fmt: str, base: str | None = None
) -> bytes:
    """The feed as Atom or RSS bytes; ids and links on `base`, sendwatch's own address
    (default: `Settings.own_url` without a listening address: what `feeds write` has)."""
    base = (base or settings.own_url()).rstrip("/")
    host = urlsplit(base).hostname or "sendwatch"
    events = newest_happened(
        store, la_codes=spec.la_codes, kinds=spec.kinds, limit=settings.web.feed_entries
    )
    facts = event_facts(store, events)
    feed = FeedGenerator()
    feed.id(f"tag:{host},2024:feeds/{spec.path}")
    feed.title(spec.title)
    feed.subtitle(
        "Improvement notices, directions and area SEND inspection reports, from sendwatch"
    )
    feed.link(href=feed_url(base, spec, fmt), rel="self")
    feed.link(href=f"{base}{spec.page}", rel="alternate")
    feed.language("en-GB")
    feed.generator("sendwatch")
    if events:
        feed.updated(max(event.updated_at for event in events))
    else:
        feed.updated("2024-01-01T00:00:00Z")
    for event in reversed(events):  # feedgen prepends: oldest first gives newest on top
        _entry(feed, summarise(event, facts.get(event.id)), published(event), host)
    body: bytes = feed.atom_str(pretty=True) if fmt == "atom" else feed.rss_str(pretty=True)
    return body


def published(event: Event) -> dt.datetime:
    """When the event happened (midnight UTC that day), else when sendwatch first saw it: the
    entry's `published`, which readers sort by (the day as `sendwatch.case.event_day` has it,
    as /recent and the API order by it)."""
    if event.happened_on is None:
        return event.created_at  # aware: storage.models.UTCDateTime
    day = event.happened_on
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _entry(feed: FeedGenerator, summary: Summary, published_at: dt.datetime, host: str) -> None:
    entry = feed.add_entry()
    entry.id(f"tag:{host},2024:event/{summary.event_id}")
    entry.guid(f"tag:{host},2024:event/{summary.event_id}", permalink=False)
    entry.title(summary.headline)
    href = next((link.href for link in summary.links if link.href), None)
    if href:
        entry.link(href=href, rel="alternate")
    entry.published(published_at)
    entry.updated(summary.updated_at)
    entry.category(term=summary.kind, label=summary.kind_label)
    if summary.la:
        entry.category(term=summary.la.ons_code, label=summary.la.name)
    entry.summary(_plain(summary))
    entry.content(_html(summary), type="html")


def _plain(summary: Summary) -> str:
    parts = [summary.title]
    if summary.follows:
        parts.append(f"This {summary.follows}")
    parts += [str(fact) for fact in summary.facts]
    return ". ".join(parts)


def _html(summary: Summary) -> str:
    """HTML for the entry's content, every scraped string escaped (feedgen then escapes it as XML)."""
    e = html.escape
    rows = [f"<p>{e(summary.title)}</p>"]
    if summary.follows:
        rows.append(f"<p>This {e(summary.follows)}.</p>")
    rows += [f"<p>{e(str(fact))}</p>" for fact in summary.facts]
    if summary.text:
        rows.append(f"<p>{e(summary.text[:2000])}</p>")
    links = "".join(
        f'<li><a href="{e(link.href, quote=True)}">{e(link.label)}</a></li>'
        if link.href
        else f"<li>{e(link.label)}: {e(link.url)}</li>"
        for link in summary.links
    )
    rows.append(f"<ul>{links}</ul>")
    return "".join(rows)


def write_feeds(settings: Settings, store: Store, directory: Path) -> int:
    """Every feed as a static file under `directory` (for nginx and friends), on sendwatch's
    own address; returns the count of feeds."""
    directory.mkdir(parents=True, exist_ok=True)
    written = 0
    for spec in every_spec():
        for fmt in FORMATS:
            _write(directory / f"{spec.path}.{fmt}", render_feed(settings, store, spec, fmt))
            written += 1
    return written


def _write(target: Path, body: bytes) -> None:
    """Writes through a temporary file, so readers never see half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(target.suffix + ".tmp")
    temporary.write_bytes(body)
    temporary.replace(target)
