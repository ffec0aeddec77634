"""The Local Government and Social Care Ombudsman's decisions about councils' SEND work.

The Ombudsman publishes its decision statements six weeks after issuing them, several a day,
and lists the recent ones of each category on a page of its own. The SEND category's
(stored copies of www.lgo.org.uk, 2022-2025; see the README's "ombudsman")::

    /decisions/education/special-educational-needs
      Special educational needs
      Recent statements in this category are shown below:
        • Somerset Council (24 015 493)                                  a link to the decision
          Statement Upheld Special educational needs 19-Jun-2025          type, outcome, category, date
          Summary: Mrs X complained … pays her a total of £1,950 …

and each decision has a page of labelled fields::

    /decisions/education/special-educational-needs/24-015-493
      Somerset Council (24 015 493)
      Category : Education > Special educational needs
      Decision : Upheld
      Decision date : 19 Jun 2025
      The Ombudsman's final decision:
      Summary: …

Only the words are confirmed, not the markup, so both are read by their text and labels, never
by layout: a statement is the smallest element around one decision link; its line "Statement
<outcome> <category> <dd-Mon-yyyy>" and its "Summary:" give the rest. A decision page is
fetched only when its statement lacks a field (or in `sendwatch check`, to see the labels).
How the listing pages is unconfirmed too: the spider follows the page's own "next" link, if
it has one, and says in the run's note how far back the listing reached when it cannot reach
the backfill.

Read from a watermark: the mark ``listing:newest`` is the decision date of the newest decision
handled; a crawl looks at statements dated from two weeks before it (decisions of one day are
published over several; those seen are skipped by their own marks, the case number -> "1"),
and a first crawl back `backfill_days` (365). The watermark is written once every decision page
asked for has answered, and never past one that failed. A poll with nothing new costs the one
listing request.

A decision names the body complained about; only a council the register's one lookup knows is
recorded. A school, an academy trust or a care provider is skipped (and said in the run's
note). An outcome label the vocabulary does not know is recorded as `unrecognised`, the label
kept (`outcome_unread`), and the store raises one alarm naming the decision and the label.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from parsel import Selector
from scrapy import Request
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.dates import parse_date
from crawler.items import MarkItem, SourceItem
from crawler.spiders.base import (
    Found,
    Row,
    SourceSpider,
    Watermark,
    card_of,
    count,
    read_row,
    text_of,
)
from crawler.verdict import DOCS, LISTING_ITEMS, RUN_NOTE
from sendwatch.vocab import Kind, OmbudsmanOutcome, ombudsman_outcome
from storage.las import LocalAuthority, register

CANONICAL_HOST = "https://www.lgo.org.uk"
LISTING_PATH = "/decisions/education/special-educational-needs"
#: The category's name as the statements' lines end with it.
CATEGORY = "Special educational needs"
#: A SEND decision's address: the category's path, then the case number, dashed. (Decisions
#: of other categories the page links to, in a sidebar or a footer, are not statements.)
DECISION = re.compile(re.escape(LISTING_PATH) + r"/(?P<case>\d{2}-\d{3}-\d{3})/?$")
#: "Somerset Council (24 015 493)": the body complained about, and the case number.
TITLE = re.compile(r"^(?P<body>.+?)\s*\((?P<case>\d{2}\s?\d{3}\s?\d{3})\)\s*$")
#: A statement's line: "Statement Upheld Special educational needs 30-Sep-2025".
LISTED = re.compile(
    r"^(?P<type>Statement|Report)\s+(?P<rest>.+?)\s+(?P<date>\d{1,2}[-\s][A-Za-z]{3,9}[-\s]\d{4})$",
    re.IGNORECASE,
)
#: The mark holding the decision date (ISO) of the newest decision handled.
WATERMARK = "listing:newest"
#: Statements this much older than the watermark are looked at again (see above).
OVERLAP = dt.timedelta(days=14)
BACKFILL_DAYS = 365
#: Listing pages a crawl follows at most (a first crawl's backfill).
MAX_PAGES = 60
#: Links to the next page of a listing, by what they say (the paging is unconfirmed).
NEXT_WORDS = frozenset({"next", "next page", "older", "more", "\u203a", "»", ">"})
#: Words that name a body that is not a council: a school, a trust, a care provider.
NOT_A_COUNCIL = re.compile(
    r"\b(?:trust|academ(?:y|ies)|schools?|college|universit(?:y|ies)|ltd|limited|plc|llp|cic"
    r"|care|nursing|homes?|healthcare|nhs|charity|foundation|group|partnership|services)\b",
    re.IGNORECASE,
)
#: A sum of money: "£1,950", "£7500", "£300.50".
POUNDS = re.compile(r"£\s?(?P<n>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<p>\d{2}))?")
#: "a total of £1,950": the remedy in one sum.
TOTAL = re.compile(r"\btotal\s+(?:of\s+)?£", re.IGNORECASE)
#: A sentence that pays: the Council will pay, a payment, a remedy.
PAYS = re.compile(r"\bpa(?:y|ys|id|ying|yment|yments)\b|\bremed|\bcompensat|\bsymbolic", re.I)


@dataclass(frozen=True)
class Decision:
    """What the Ombudsman says of one decision, from its statement or its page; "" or None
    where that has not said it."""

    url: str
    case: str
    body: str = ""
    label: str = ""
    decided_on: dt.date | None = None
    summary: str = ""
    category: str = ""
    kind: str = ""

    @property
    def key(self) -> str:
        """Its mark: the case number as its address writes it ("24-015-493")."""
        return self.case.replace(" ", "-")

    @property
    def complete(self) -> bool:
        return bool(self.body and self.label and self.decided_on and self.summary)

    def filled_from(self, page: Decision) -> Decision:
        """This statement, what it lacks taken from the decision's own page."""
        return replace(
            self,
            body=self.body or page.body,
            label=page.label or self.label,
            decided_on=self.decided_on or page.decided_on,
            summary=self.summary or page.summary,
            category=page.category or self.category,
        )


@dataclass
class Tally:
    """What the run read, for its note."""

    not_councils: list[str] = field(default_factory=list)
    reached_back_to: dt.date | None = None
    short_of: dt.date | None = None


class OmbudsmanSpider(SourceSpider):
    name = "ombudsman"
    document_noun = "decisions"

    def __init__(
        self,
        base_url: str,
        marks: Mapping[str, str] | None = None,
        baseline: bool = False,
        backfill_days: int = BACKFILL_DAYS,
        now: dt.datetime | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(base_url, marks, baseline, **kwargs)
        self.backfill_days = int(backfill_days)
        self.today = (now or dt.datetime.now(dt.UTC)).date()
        self.tally = Tally()
        #: Where the listing was read to; written once every listing and decision page asked
        #: for has answered (a listing page that failed: what it named is unknown, so it stays).
        self.reached = Watermark(self.watermark, dt.timedelta(days=1))

    def self_check(self, stats: Mapping[str, Any], found: Found) -> list[Row]:
        """The listing's statements, and one decision page read by its labels."""
        listed = count(stats, LISTING_ITEMS)
        pages = count(stats, f"{DOCS}{self.document_noun}/requested")
        return [
            Row("category listing", listed > 0, f"{listed} decision statements"),
            Row("decision page", pages > 0, f"{pages} asked for"),
            read_row("decision", found, "date"),
        ]

    @property
    def watermark(self) -> dt.date | None:
        """The decision date of the newest decision handled by earlier crawls."""
        return self.stamp_mark(WATERMARK, dt.date.fromisoformat)

    def since(self) -> dt.date:
        """Statements dated before this are not looked at (the watermark's overlap, or on a
        first crawl the backfill)."""
        watermark = self.watermark
        if watermark is not None:
            return watermark - OVERLAP
        return self.today - dt.timedelta(days=self.backfill_days)

    async def start(self) -> AsyncIterator[Request]:
        yield self._listing(self.url(LISTING_PATH), 0)

    def _listing(self, url: str, page: int) -> Request:
        self.reached.pending += 1
        return self.listing_request(url, self.parse_listing, self.listing_page_failed, page=page)

    def listing_page_failed(self, failure: Failure) -> Iterator[MarkItem]:
        self.listing_failed(failure)
        self.reached.listing_broken = True
        yield from self._answered()

    def parse_listing(self, response: Response, page: int) -> Iterator[Any]:
        """The statements newer than the watermark (or the backfill): recorded from the listing,
        their pages fetched only where the statement lacks a field."""
        decisions = statements(response)
        self.count_listing(len(decisions))
        if not decisions:
            self.layout_changed(
                f"the category listing names no decisions (links to /decisions/…/NN-NNN-NNN)"
                f" at {response.url}: its layout may have changed"
            )
            yield from self._answered()
            return
        if self.check:  # the newest decision's page, whatever is handled: are the labels there?
            self.reached.pending += 1
            yield self.detail_request(
                decisions[0].url, self.parse_decision, self.decision_failed, listed=decisions[0]
            )
            yield from self._answered()
            return
        since = self.since()
        dated = [d.decided_on for d in decisions if d.decided_on is not None]
        if dated:
            # One misdated decision never hides the rest.
            self.reached.saw(min(max(dated), self.today))
        unhandled = 0
        for decision in decisions:
            if decision.decided_on is not None and decision.decided_on < since:
                continue
            if self.is_handled(decision.key, "1"):
                continue
            unhandled += 1
            if decision.complete:
                yield from self.recorded(decision)
            else:
                self.reached.pending += 1
                yield self.detail_request(
                    decision.url, self.parse_decision, self.decision_failed, listed=decision
                )
        yield from self._next_page(response, page, decisions, since, unhandled)
        yield from self._answered()

    def _next_page(
        self, response: Response, page: int, decisions: list[Decision], since: dt.date, new: int
    ) -> Iterator[Request]:
        """The listing's next page, while it is newer than `since` and still names decisions
        not handled (or, on a first crawl, until the backfill is reached)."""
        dated = [d.decided_on for d in decisions if d.decided_on is not None]
        oldest = min(dated) if dated else None
        self.tally.reached_back_to = oldest
        if oldest is not None and oldest < since:
            return
        if not (new or self.first_run):
            return
        href = next_link(response)
        if href and page + 1 < MAX_PAGES:
            yield self._listing(response.urljoin(href), page + 1)
        elif self.first_run:
            self.tally.short_of = since

    def parse_decision(self, response: Response, listed: Decision) -> Iterator[Any]:
        """A decision's page: its labelled fields fill what its statement lacked."""
        page = decision_page(response)
        decision = listed.filled_from(page) if page is not None else listed
        if page is None or not decision.complete:
            missing = "a title with a case number" if page is None else _missing(decision)
            self.item_error(response.url, f"no {missing} found on the decision page")
            self._failed(listed.decided_on)
        else:
            yield from self.recorded(decision)
        yield from self._answered()

    def decision_failed(self, failure: Failure) -> Iterator[MarkItem]:
        self.item_failed(failure)
        request = getattr(failure, "request", None)
        listed = request.cb_kwargs.get("listed") if request is not None else None
        self._failed(listed.decided_on if isinstance(listed, Decision) else self.today)
        yield from self._answered()

    def recorded(self, decision: Decision) -> Iterator[SourceItem | MarkItem]:
        """The decision as an item, if it is about a council; else only its mark."""
        council = council_of(decision.body)
        if council is None:
            self.tally.not_councils.append(f"{decision.body} ({decision.case})")
            yield MarkItem(decision.key, "1")
            return
        outcome = ombudsman_outcome(decision.label)
        # A label the vocabulary lacks: recorded, and the store alarms once while it is unread
        # (`Store.keep_unread_alarms`), naming the decision and the label.
        unread = (
            f"Decision : {decision.label}" if outcome is OmbudsmanOutcome.UNRECOGNISED else None
        )
        yield SourceItem(
            source=self.name,
            identity=decision.case,
            url=CANONICAL_HOST + urlsplit(decision.url).path,
            title=f"{decision.body} ({decision.case})",
            text=decision.summary,
            published_on=decision.decided_on,
            kind_hint=Kind.OMBUDSMAN_DECISION,
            la_hint=council.name,
            happened_on_hint=decision.decided_on,
            outcome=outcome,
            extra=_fields(
                {
                    "case_number": decision.case,
                    "decision": decision.label,
                    "statement_type": decision.kind or None,
                    "category": decision.category or None,
                    "remedy_gbp": remedy_of(decision.summary),
                    "outcome_unread": unread,
                }
            ),
            mark=(decision.key, "1"),
        )

    def _failed(self, decided_on: dt.date | None) -> None:
        self.reached.failed(decided_on or self.today)

    def _answered(self) -> Iterator[MarkItem]:
        if self.reached.answered():
            yield from self._watermark_item()

    def _watermark_item(self) -> Iterator[MarkItem]:
        """The new watermark: the newest decision's date, never past one that failed."""
        value = None if self.check else self.reached.moved()
        if value is not None:
            yield MarkItem(WATERMARK, value.isoformat())

    def closed(self, reason: str) -> None:
        """The run's note: what was skipped, how far back the listing reached."""
        super().closed(reason)
        stats = self.stats
        if stats is None:
            return
        tally = self.tally
        notes = []
        if tally.not_councils:
            notes.append(
                f"{len(tally.not_councils)} decisions about bodies that are not councils"
                f" skipped, e.g. {tally.not_councils[0]}"
            )
        if tally.short_of is not None and tally.reached_back_to is not None:
            notes.append(
                f"the listing reaches back to {tally.reached_back_to.isoformat()} only"
                f" (the backfill asked for {tally.short_of.isoformat()})"
            )
        if notes:
            stats.set_value(RUN_NOTE, "; ".join(notes))


def statements(response: Response) -> list[Decision]:
    """The listing's decision statements, one per decision link, read by their words."""
    found: dict[str, Decision] = {}
    for link in response.css("a[href]"):
        href = response.urljoin(link.attrib["href"])
        match = DECISION.search(urlsplit(href).path)
        if not match or match["case"] in found:
            continue
        card = card_of(link, lambda other: bool(DECISION.search(urlsplit(other).path)))
        found[match["case"]] = statement(href, match["case"], text_of(link), lines_of(card))
    return list(found.values())


def statement(url: str, case: str, link_text: str, lines: list[str]) -> Decision:
    """One statement: its title (the link's words), its line, its summary."""
    title = TITLE.match(link_text) or next(filter(None, map(TITLE.match, lines)), None)
    decision = Decision(url=url, case=case.replace("-", " "))
    if title is not None:
        decision = replace(decision, body=title["body"], case=_case(title["case"]))
    for line in lines:
        listed = LISTED.match(line)
        if listed:
            rest = listed["rest"]
            label = (
                rest[: -len(CATEGORY)].strip() if rest.lower().endswith(CATEGORY.lower()) else ""
            )
            decision = replace(
                decision,
                kind=listed["type"].capitalize(),
                label=label,
                decided_on=decision_date(listed["date"]),
                category=f"Education > {CATEGORY}" if label else "",
            )
            break
    return replace(decision, summary=summary_of(lines))


def decision_page(response: Response) -> Decision | None:
    """A decision's page, by its labels; None when it has no title with a case number."""
    if not hasattr(response, "css"):
        return None
    root = response.css("#article, article, main") or response.css("body")
    lines = lines_of(root[0]) if root else []
    heading = text_of(response.css("h1"))
    title = TITLE.match(heading) or next(filter(None, map(TITLE.match, lines)), None)
    match = DECISION.search(urlsplit(response.url).path)
    if title is None and match is None:
        return None
    text = "\n".join(lines)
    return Decision(
        url=response.url,
        case=_case(title["case"]) if title else match["case"].replace("-", " "),  # type: ignore[index]
        body=title["body"] if title else "",
        label=labelled(text, "Decision"),
        decided_on=decision_date(labelled(text, "Decision date")),
        summary=summary_of(lines),
        category=labelled(text, "Category"),
    )


def labelled(text: str, label: str) -> str:
    """The value after "<label> :" (on its line, or the next: a label and its value may be
    elements of their own)."""
    match = re.search(
        rf"^\s*{re.escape(label)}\s*:[ \t]*\n?[ \t]*(?P<value>[^\n]+)", text, re.IGNORECASE | re.M
    )
    return " ".join(match["value"].split()) if match else ""


def summary_of(lines: list[str]) -> str:
    """The words after "Summary:", to the end of the paragraph."""
    for index, line in enumerate(lines):
        if line.lower().startswith("summary"):
            after = line.split(":", 1)[1].strip() if ":" in line else ""
            if after:
                return after
            return lines[index + 1] if index + 1 < len(lines) else ""
    return ""


def lines_of(selection: Selector) -> list[str]:
    """An element's words, a line per block of text (its text nodes, whitespace folded)."""
    texts = (
        " ".join(t.split()) for t in selection.xpath(".//text()[not(ancestor::script)]").getall()
    )
    lines: list[str] = []
    for text in texts:
        if not text:
            continue
        if lines and _inline(lines[-1], text):
            lines[-1] = f"{lines[-1]} {text}"
        else:
            lines.append(text)
    return lines


def _inline(previous: str, text: str) -> bool:
    """A label and its words in elements of their own ("<strong>Summary:</strong> Mrs X…")
    make one line."""
    return previous.lower() in ("summary:", "summary")


def next_link(response: Response) -> str | None:
    """The listing's link to its next page: rel=next, or a link saying "Next"."""
    href = response.css("a[rel~=next]::attr(href), link[rel~=next]::attr(href)").get()
    if href:
        return href
    for link in response.css("a[href]"):
        if text_of(link).lower() in NEXT_WORDS or link.attrib.get("aria-label", "").lower() in (
            "next",
            "next page",
        ):
            return link.attrib["href"]
    return None


def decision_date(text: str) -> dt.date | None:
    """ "30-Sep-2025" (the listing's) or "19 Jun 2025" (a decision page's)."""
    return parse_date(re.sub(r"(\d{1,2})-([A-Za-z]{3,9})-(\d{4})", r"\1 \2 \3", text or ""))


def council_of(body: str) -> LocalAuthority | None:
    """The council a decision is about, by the register's one lookup; None for a body that
    is not a council (a school, an academy trust, a care provider), whatever place it names."""
    if not body or NOT_A_COUNCIL.search(body):
        return None
    return register().lookup(body)


def remedy_of(summary: str) -> int | float | None:
    """The money the summary says the council pays, in pounds: "a total of £X" when it says
    one, else the sum of the amounts in its sentences about paying; None when it states none."""
    total = TOTAL.search(summary)
    if total:
        amount = POUNDS.match(summary, total.end() - 1)
        return _pounds(amount) if amount else None
    amounts = [
        _pounds(amount)
        for sentence in re.split(r"(?<=[.;])\s+", summary)
        if PAYS.search(sentence)
        for amount in POUNDS.finditer(sentence)
    ]
    if not amounts:
        return None
    value = sum(amounts)
    return int(value) if float(value).is_integer() else round(value, 2)


def _pounds(amount: re.Match[str]) -> int | float:
    whole = int(amount["n"].replace(",", ""))
    return whole + int(amount["p"]) / 100 if amount["p"] else whole


def _case(text: str) -> str:
    """A case number as the Ombudsman writes it: "24 015 493"."""
    digits = re.sub(r"\D", "", text)
    return f"{digits[:2]} {digits[2:5]} {digits[5:]}"


def _missing(decision: Decision) -> str:
    names = {
        "'Decision :' label": decision.label,
        "'Decision date :' label": decision.decided_on,
        "body complained about": decision.body,
        "summary": decision.summary,
    }
    return ", ".join(name for name, value in names.items() if not value)


def _fields(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}
