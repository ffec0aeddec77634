"""Atom and RSS 2.0 feeds of events (feedgen): everything, and per LA, region and kind.

An entry's id is the event's own (a tag URI on the configured host), so a reader
shows an event once however many sources report it; an update to the event moves
its `updated`, never its id.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from feedgen.feed import FeedGenerator

from alerts.filters import COUNCIL_ONLY_KINDS
from alerts.summary import KIND_LABELS, Summary, format_date, summarise
from sendwatch.config import Settings
from sendwatch.vocab import Kind
from storage import outbox
from storage.las import register, slugify
from storage.queries import threads_for
from storage.store import Store

FORMATS = ("atom", "rss")


@dataclass(frozen=True)
class FeedSpec:
    """Which events a feed holds, and its path under /feeds/."""

    path: str
    title: str
    la_codes: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()


def spec_for(section: str, key: str) -> FeedSpec | None:
    """The feed at /feeds/<section>/<key>, or None when there is no such feed."""
    las = register()
    if section == "la":
        la = las.get(key) or next((la for la in las if la.slug == key), None)
        if la is None:
            return None
        return FeedSpec(
            f"la/{la.slug}", f"SEND notices and inspections: {la.name}", la_codes=(la.ons_code,)
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
        )
    if section == "kind":
        try:
            kind = Kind(key)
        except ValueError:
            return None
        return FeedSpec(f"kind/{kind}", f"SEND: {KIND_LABELS[kind]}", kinds=(str(kind),))
    return None


#: What the national and regional feeds carry: everything but councils' own meeting papers,
#: which are in each council's feed and in /feeds/kind/council_paper.
NATIONAL_KINDS = tuple(str(kind) for kind in Kind if kind not in COUNCIL_ONLY_KINDS)
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


def render_feed(settings: Settings, store: Store, spec: FeedSpec, fmt: str) -> bytes:
    base = settings.alerts.public_url.rstrip("/")
    host = urlsplit(base).hostname or "sendwatch"
    events = outbox.events(
        store, la_codes=spec.la_codes, kinds=spec.kinds, limit=settings.web.feed_entries
    )
    threads = threads_for(store, events)
    summaries = [summarise(event, threads.get(event.id)) for event in events]
    feed = FeedGenerator()
    feed.id(f"tag:{host},2024:feeds/{spec.path}")
    feed.title(spec.title)
    feed.subtitle(
        "Improvement notices, directions and area SEND inspection reports, from sendwatch"
    )
    feed.link(href=f"{base}/feeds/{spec.path}.{fmt}", rel="self")
    feed.link(href=base, rel="alternate")
    feed.language("en-GB")
    feed.generator("sendwatch")
    if summaries:
        feed.updated(max(s.updated_at for s in summaries))
    else:
        feed.updated("2024-01-01T00:00:00Z")
    for summary in reversed(summaries):  # feedgen prepends: oldest first gives newest on top
        _entry(feed, summary, host)
    body: bytes = feed.atom_str(pretty=True) if fmt == "atom" else feed.rss_str(pretty=True)
    return body


def _entry(feed: FeedGenerator, summary: Summary, host: str) -> None:
    entry = feed.add_entry()
    entry.id(f"tag:{host},2024:event/{summary.event_id}")
    entry.guid(f"tag:{host},2024:event/{summary.event_id}", permalink=False)
    entry.title(summary.headline)
    href = next((link.href for link in summary.links if link.href), None)
    if href:
        entry.link(href=href, rel="alternate")
    entry.published(summary.created_at)
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
    parts.append(f"When: {format_date(summary.happened_on)}")
    if summary.outcome_label:
        parts.append(f"Outcome: {summary.outcome_label}")
    if summary.deadline:
        parts.append(f"Deadline: {format_date(summary.deadline)}")
    return ". ".join(parts)


def _html(summary: Summary) -> str:
    """HTML for the entry's content, every scraped string escaped (feedgen then escapes it as XML)."""
    e = html.escape
    rows = [f"<p>{e(summary.title)}</p>"]
    if summary.follows:
        rows.append(f"<p>This {e(summary.follows)}.</p>")
    rows.append(f"<p>When: {e(format_date(summary.happened_on))}</p>")
    if summary.outcome_label:
        rows.append(f"<p>Outcome: {e(summary.outcome_label)}</p>")
    if summary.deadline:
        rows.append(f"<p>Deadline: {e(format_date(summary.deadline))}</p>")
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
    """Every feed as a static file under `directory` (for nginx and friends); returns the count."""
    written = 0
    for spec in every_spec():
        for fmt in FORMATS:
            target = directory / f"{spec.path}.{fmt}"
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_suffix(target.suffix + ".tmp")
            temporary.write_bytes(render_feed(settings, store, spec, fmt))
            temporary.replace(target)  # readers never see half a file
            written += 1
    return written
