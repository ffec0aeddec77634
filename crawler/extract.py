"""From a document's title, date and text to what happened: kind, LA, dates, outcome.

Pure functions, no Scrapy: the spiders' pipeline, `sendwatch extract` and the
tests all call `extract()`. The rules read like the documents do:

* the title says most (GOV.UK: "Improvement notice issued to Bexley: March 2024";
  LGL: "Council hit with improvement notice following SEND inspection"), then the
  lede, then the whole text;
* DfE's notices collection also holds children's social care notices, and LGL
  writes about every kind of council failure, so a notice counts only when the
  document is about SEND (special educational needs and disabilities);
* "will be lifted when..." is a condition, not a lifting: only past-tense wording
  ("has been lifted", "was removed", "stepped down") makes a *notice lifted*;
* the verbs that lift, issue and replace are those of one table, `crawler.wording.VERBS`:
  every rule below builds its alternation from it, so they all know the same verbs;
* an unknown answer is None, never a guess.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from crawler.dates import (
    parse_date,
    parse_date_range,
    parse_deadline,
    parse_month,
    resolve_relative,
)
from crawler.wording import ANY, DONE, Does, Form, alternation, verb_of, verbs
from sendwatch.case import LIFTING_KINDS, MONITORING_KINDS, NOTICE_KINDS, REPORT_KINDS
from sendwatch.vocab import Kind, Outcome
from storage.las import LocalAuthority, register

LEDE_CHARS = 1500

_SEND = re.compile(
    r"\bSEND\b|\bSEN\b|special educational needs|\bEHC ?Ps?\b|education,? health and care plans?"
    r"|high needs|local area partnership",
    re.IGNORECASE,
)
# SEND in capitals only: "send" is also a verb.
_SEND_CASED = re.compile(r"\bSEND\b|\bSEN\b|\bEHC ?Ps?\b")
# "Send" in any case where it can only be the noun (titles are capitalised freely:
# "Failings In Send Services", "children with Send"), never after "to", "will"...
# ("Minister to send commissioner to council").
_SEND_NOUN = re.compile(
    r"(?<!\bto )(?<!\bwill )(?<!\bwould )(?<!\bcould )(?<!\bshould )(?<!\bmust )(?<!\bmay )"
    r"(?<!\bmight )(?<!\bcan )(?<!\bnot )(?<!\bdid )(?<!\band )(?<!\bor )"
    r"\bsend\b(?=[\s-]+(?:services?|provision|system|support|inspections?|inspected|reforms?"
    r"|review|pupils?|children|young people|needs|tribunals?|partnerships?|failings|deficits?"
    r"|budgets?|funding|transport|sufficiency|improvement|strategy|code|plans?|cases?|appeals?"
    r"|area|and alternative provision|and ap)\b)"
    r"|(?<=\bwith )send\b|(?<=\bfor )send\b(?![\s-]+(?:a|an|the|them|him|her|it|letters?)\b)"
    r"|(?<=\barea )send\b|(?<=\bon )send\b(?=\s*(?:$|[.,;:!?]))",
    re.IGNORECASE,
)
_SEND_WORDS = re.compile(
    r"special educational needs|education,? health and care plans?|high needs|local area partnership",
    re.IGNORECASE,
)
_SOCIAL_CARE = re.compile(
    r"children's social care|\bILACS\b|inspection of local authority children's services"
    r"|child protection|children in care|care leavers|youth justice",
    re.IGNORECASE,
)

# The verbs of crawler/wording.py, as the rules below read them.
_LIFTINGS = verbs(Does.LIFTS)
_ISSUINGS = verbs(Does.ISSUES)
#: "lifted", "withdrawn", "stepped down": a notice that "has been" or "was" ...
_LIFTED = alternation(_LIFTINGS, Form.PARTICIPLE)
#: A headline's "lifts", "withdrew", "revoked" ... before the notice, in any tense.
_LIFTS = alternation(verbs(Does.LIFTS, loose=False), *ANY)
_NO_LONGER = r"no longer (?:subject to|under) an? improvement notice"

#: What is lifted: an improvement notice, or a statutory direction (never called a notice).
_LIFTABLE = r"(?:notice|direction)s?"
_LIFTED_TITLE = re.compile(
    rf"{_LIFTABLE}\s+(?:has\s+been\s+|is\s+|was\s+)?{_LIFTED}"
    rf"|\b{_LIFTS}\b.{{0,60}}\b{_LIFTABLE}\b"
    rf"|\b{alternation(verbs(Does.LIFTS, alone=True), *ANY)}\b|{_NO_LONGER}"
    r"|closure of (?:the |an )?improvement notice",
    re.IGNORECASE,
)
# Past tense only: "will be lifted when ..." is a condition.
_LIFTED_TEXT = re.compile(
    rf"\b{_LIFTABLE}\b[^.]{{0,120}}?\b(?:has|have|had|was|were)\s+"
    rf"(?:now\s+|formally\s+|officially\s+)?(?:been\s+)?{_LIFTED}\b"
    r"|\b(?:has|have|had)\s+(?:now\s+|formally\s+)?"
    rf"{alternation(verbs(Does.LIFTS, loose=False), Form.PARTICIPLE)}\b[^.]{{0,80}}\b{_LIFTABLE}\b"
    rf"|\b{alternation(verbs(Does.LIFTS, alone=True), *DONE)}\b|{_NO_LONGER}",
    re.IGNORECASE,
)
_ISSUED = alternation(_ISSUINGS, Form.PARTICIPLE)
_DIRECTION = re.compile(
    rf"\b(?:revised\s+)?(?:statutory\s+)?directions?\s+{_ISSUED}\s+to\b|\bstatutory directions?\b"
    rf"|\bsection 497A\b|\bdirections? (?:has|have) been {_ISSUED}\b"
    rf"|\b{alternation(verbs(Does.ISSUES, loose=False), *DONE)}\s+(?:with\s+)?an?\s+"
    # Not "a direction of travel", "a clear direction for ...": the ordinary word.
    r"(?:statutory\s+)?direction\b(?!\s+(?:of|for|on|in)\b)",
    re.IGNORECASE,
)
_NOTICE = re.compile(r"\bimprovement notices?\b", re.IGNORECASE)
_MONITORING = re.compile(
    r"\bmonitoring inspection\b|\bmonitoring visit\b|\brevisit\b|\bre-visit\b", re.IGNORECASE
)
_WSOA = re.compile(r"written statement of action|\bWSoA\b", re.IGNORECASE)
_INSPECTION = re.compile(
    r"\b(?:area|local area|joint local area)\s+SEND\s+(?:full\s+)?inspection"
    r"|\bSEND\s+(?:full\s+)?inspection|inspection of [\w ,'&-]{2,80}? local area partnership"
    r"|\blocal area SEND\b|\barea SEND\b",
    re.IGNORECASE,
)

_PRODUCE = r"(?:produce|submit|prepare)(?:\s+and\s+(?:produce|submit|prepare))?"
_OUTCOMES: tuple[tuple[re.Pattern[str], Outcome], ...] = (
    (re.compile(r"widespread\s+and/?or\s+systemic\s+failings", re.I), Outcome.SIGNIFICANT_CONCERNS),
    (
        re.compile(r"lead\s+to\s+inconsistent\s+experiences\s+and\s+outcomes", re.I),
        Outcome.INCONSISTENT,
    ),
    (
        re.compile(r"typically\s+lead\s+to\s+positive\s+experiences\s+and\s+outcomes", re.I),
        Outcome.POSITIVE,
    ),
    (
        re.compile(
            r"written\s+statement\s+of\s+action\s*(?:\(WSOA\)\s*)?is\s+not\s+required"
            r"|not\s+(?:be\s+)?required\s+to\s+" + _PRODUCE + r"\s+a\s+written\s+statement",
            re.I,
        ),
        Outcome.NO_WSOA,
    ),
    (
        re.compile(
            r"written\s+statement\s+of\s+action\s*(?:\(WSOA\)\s*)?is\s+required"
            r"|required\s+to\s+" + _PRODUCE + r"\s+a\s+written\s+statement\s+of\s+action"
            r"|(?:determined|decided)\s+that\s+a\s+written\s+statement\s+of\s+action",
            re.I,
        ),
        Outcome.WSOA_REQUIRED,
    ),
)
_OUTCOME_SECTION = re.compile(
    r"Inspection outcome(?P<body>.*?)(?:Information about the local area|What is it like to be)",
    re.IGNORECASE | re.DOTALL,
)
_NEXT_INSPECTION = re.compile(
    r"next\s+(?:full\s+)?(?:area\s+SEND\s+)?(?:re)?inspection\s+will\s+(?:be|take\s+place)\s+within\s+"
    r"(?:approximately\s+)?"
    r"(?P<when>[\w-]+\s+(?:years?|months?))",
    re.IGNORECASE,
)
_MONITORING_DUE = re.compile(
    r"monitoring inspection\s+will\s+be\s+carried\s+out\s+within\s+approximately\s+(?P<when>[\w-]+\s+months?)",
    re.IGNORECASE,
)
_NUMBER_WORDS = {
    word: number
    for number, word in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
        ]
    )
}
# Lower-case nouns, and no digit right after a year: "2023 6 Areas for priority action" is a
# report's page footer (date, page number) running into the next heading.
_PRIORITY_ACTIONS = re.compile(
    r"(?<!\d{4} )\b(?P<n>\d{1,2}|(?i:" + "|".join(_NUMBER_WORDS) + r"))\s+"
    r"(?:areas? (?:for|of) priority action|priority actions?|areas for priority)"
)
#: A number as reports write it: digits or a word ("3", "three").
_COUNT = r"(?:\d{1,2}|" + "|".join(_NUMBER_WORDS) + r")"
_WEAKNESSES = r"(?:(?:areas?|aspects?)\s+of\s+)?(?:significant\s+)?weakness(?:es)?"
#: A revisit's (2016-2022) or monitoring inspection's result, in the words its letter uses:
#: progress on the weaknesses (revisits) or priority actions (monitoring) the inspection named.
#: Partial progress first: its letter says both "has made sufficient progress in addressing 3
#: of the 5 ..." and "has not made sufficient progress in addressing 2 ...".
_PROGRESS_OF: tuple[tuple[re.Pattern[str], Outcome], ...] = (
    (
        re.compile(
            r"(?<!not )made\s+sufficient\s+progress\s+in\s+addressing\s+(?P<done>"
            + _COUNT
            + r"|some)\s+(?:out\s+)?of\s+(?:the\s+)?(?:(?P<of>"
            + _COUNT
            + r")\s+)?"
            + _WEAKNESSES,
            re.I,
        ),
        Outcome.PARTIAL_PROGRESS,
    ),
    (
        # The 2023 framework as revised in 2025 (Oxfordshire's monitoring inspection, November
        # 2025): "has taken effective action as it has taken reasonable steps to address all
        # the areas for priority action identified at the initial inspection".
        re.compile(
            r"(?<!not )taken\s+reasonable\s+steps\s+to\s+address\s+all\s+(?:of\s+)?the\s+"
            r"(?:(?P<of>" + _COUNT + r")\s+)?areas\s+for\s+priority\s+action",
            re.I,
        ),
        Outcome.SUFFICIENT_PROGRESS,
    ),
    (
        # "... in addressing the three areas of significant weakness" (Northumberland, 2021).
        re.compile(
            r"(?<!not )made\s+sufficient\s+progress\s+in\s+addressing\s+the\s+(?P<of>"
            + _COUNT
            + r")\s+"
            + _WEAKNESSES,
            re.I,
        ),
        Outcome.SUFFICIENT_PROGRESS,
    ),
    (
        re.compile(
            r"(?<!not )made\s+sufficient\s+progress\s+in\s+addressing\s+(?:all|each)\s+(?:of\s+)?"
            r"(?:the\s+)?(?:(?P<of>" + _COUNT + r")\s+)?" + _WEAKNESSES,
            re.I,
        ),
        Outcome.SUFFICIENT_PROGRESS,
    ),
    (
        re.compile(
            r"not\s+made\s+sufficient\s+progress\s+in\s+addressing\s+(?:any\s+of\s+)?the\s+"
            r"(?:(?P<of>"
            + _COUNT
            + r")\s+)?"
            + _WEAKNESSES
            + r"|made\s+(?:no|insufficient)\s+progress\s+in\s+addressing\s+(?:any\s+of\s+)?the\s+"
            + _WEAKNESSES,
            re.I,
        ),
        Outcome.INSUFFICIENT_PROGRESS,
    ),
)
#: The version of the rules that read a report's result: a report recorded `unrecognised` by
#: other rules (an older sendwatch) is read again by these (`crawler.runner`).
OUTCOME_RULES = hashlib.sha256(
    "\n".join(pattern.pattern for pattern, _ in (*_OUTCOMES, *_PROGRESS_OF)).encode()
).hexdigest()[:12]
#: Where a report states its result, for the sentence quoted when no rule reads it.
_RESULT_WORDS = re.compile(r"\b(?:outcome|progress|judgement|concluded|determined)\b", re.I)
#: The longest sentence kept of a result no rule reads (`outcome_unread`).
UNREAD_SENTENCE = 240
#: A sentence that tells a happening: anything issued, lifted, replaced or published.
_EVENT_VERBS = re.compile(
    rf"\b{alternation(verbs(*Does, loose=False), *DONE)}\b",
    re.IGNORECASE,
)
#: A happening's own date, the one rule for news ledes and change notes: "issued on 1 May
#: 2024", "revoked on 3 March 2025", "withdrawn with effect from 1 April 2025". The verb says
#: whose date it is (`verb_of`): an issue's or a lifting's. The date is looked ahead at, not
#: consumed, so "issued on 3 March 2023 was lifted from Kent on 4 June 2025" has both.
_HAPPENED_ON = re.compile(
    rf"\b(?P<verb>{alternation(verbs(Does.ISSUES, Does.LIFTS), *DONE)})\s+"
    r"(?:on|with\s+effect\s+from|from|as\s+of)\s+(?=(?P<date>[^.;]{6,40}))",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Document:
    """What a spider, or a file given to `sendwatch extract`, says."""

    title: str
    text: str = ""
    published_on: dt.date | None = None
    url: str = ""
    #: A source's own strong signal, e.g. GOV.UK's "Closed notices" group or an Ofsted label.
    kind_hint: Kind | None = None
    #: Text known to name the LA, e.g. the Ofsted provider's name.
    la_hint: str = ""
    #: When the source itself dates the happening (a change-history entry), trust that.
    happened_on_hint: dt.date | None = None
    #: The source publishes the notices and reports themselves (DfE, Ofsted), not news about them.
    official: bool = False


@dataclass(frozen=True)
class Extraction:
    """What happened, as far as the document says. `kind` None: not about SEND notices or inspections."""

    title: str
    kind: Kind | None
    local_authority: LocalAuthority | None
    published_on: dt.date | None
    happened_on: dt.date | None
    deadline: dt.date | None = None
    outcome: Outcome | None = None
    priority_actions: int | None = None
    inspection_dates: tuple[dt.date, dt.date] | None = None
    next_inspection: str | None = None
    monitoring_within: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def relevant(self) -> bool:
        return self.kind is not None

    def fields(self) -> dict[str, Any]:
        """The extracted details beyond the store's columns, JSON-ready."""
        details: dict[str, Any] = {
            "deadline": _iso(self.deadline),
            "priority_actions": self.priority_actions,
            "inspection_start": _iso(self.inspection_dates[0]) if self.inspection_dates else None,
            "inspection_end": _iso(self.inspection_dates[1]) if self.inspection_dates else None,
            "next_inspection": self.next_inspection,
            "monitoring_within": self.monitoring_within,
            "next_inspection_within_months": months_within(self.next_inspection),
            "monitoring_within_months": months_within(self.monitoring_within),
            **self.extra,
        }
        return {key: value for key, value in details.items() if value is not None}

    def to_json(self) -> dict[str, Any]:
        """The shape `sendwatch extract` prints."""
        la = self.local_authority
        return {
            "kind": str(self.kind) if self.kind else None,
            "local_authority": {"name": la.name, "ons_code": la.ons_code} if la else None,
            "happened_on": _iso(self.happened_on),
            "deadline": _iso(self.deadline),
            "outcome": str(self.outcome) if self.outcome else None,
            "title": self.title,
            "published_on": _iso(self.published_on),
            "priority_actions": self.priority_actions,
            "inspection_dates": [_iso(d) for d in self.inspection_dates]
            if self.inspection_dates
            else None,
        }


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def clean(text: str) -> str:
    """One space between words, typographic quotes folded: what every rule below expects."""
    return " ".join(text.replace("\u2019", "'").replace("\u00a0", " ").split())


def extract(document: Document) -> Extraction:
    title = clean(document.title)
    text = clean(document.text)
    lede = text[:LEDE_CHARS]
    kind = classify(title, text, document.kind_hint)
    outcome, result = _result_of(kind, text, document.official)
    if kind is Kind.NEWS and outcome is not None and _INSPECTION.search(f"{title} {lede}"):
        kind = Kind.INSPECTION_REPORT
    local_authority = find_la(title, text, document.la_hint)
    if kind in REPORT_KINDS and local_authority is None and not document.official:
        # News about no council's inspection is a guide or an explainer ("SEND inspections:
        # what you need to know"), not a report.
        kind = Kind.NEWS
    return Extraction(
        title=title,
        kind=kind,
        local_authority=local_authority,
        published_on=document.published_on,
        happened_on=document.happened_on_hint
        or find_happened_on(kind, title, text, document.published_on),
        # Only an issue sets a deadline: a lifting's text may quote the one it had.
        deadline=parse_deadline(text) if kind in NOTICE_KINDS else None,
        outcome=outcome,
        priority_actions=find_priority_actions(text),
        inspection_dates=find_inspection_dates(text) if kind in REPORT_KINDS else None,
        next_inspection=_group(_NEXT_INSPECTION, text, "when"),
        monitoring_within=_group(_MONITORING_DUE, text, "when"),
        extra=result,
    )


def _result_of(
    kind: Kind | None, text: str, official: bool
) -> tuple[Outcome | None, dict[str, Any]]:
    """(the outcome, what else the result says) of a report, or of news of one.

    A monitoring inspection or revisit is read for its progress, never for the outcome of the
    inspection it quotes. Ofsted's own report always states a result: one no rule reads is
    `unrecognised`, with the sentence that could not be placed, never blank and never guessed.
    News may say nothing of an outcome, and then has none."""
    if kind in MONITORING_KINDS:
        outcome, result = find_progress(text)
    elif kind in REPORT_KINDS or kind is Kind.NEWS:
        outcome, result = find_outcome(text), {}
    else:
        return None, {}
    if outcome is None and official and kind in REPORT_KINDS:
        unread = {"outcome_unread": unplaced_sentence(text), "outcome_rules": OUTCOME_RULES}
        return Outcome.UNRECOGNISED, unread
    return outcome, result


#: A notice's life: its issue and its lifting (their titles carry the month: "…: May 2024").
_NOTICE_LIFE = NOTICE_KINDS | LIFTING_KINDS


def _send_mentions(passage: str) -> int:
    """How often a passage names SEND: "SEND", "SEN", "EHCP", the words in full, or "Send" as a noun."""
    # Capitals say nothing in an all-capitals headline.
    shouted = passage.isupper() and len(passage.split()) > 2
    cased = [] if shouted else _SEND_CASED.findall(passage)
    nouns = [m for m in _SEND_NOUN.finditer(passage) if shouted or m.group() != "SEND"]
    return len(cased) + len(nouns) + len(_SEND_WORDS.findall(passage))


def is_about_send(title: str, text: str) -> bool:
    """Whether SEND is the subject, not a passing mention beside children's social care."""
    if _send_mentions(title):
        return True
    send = _send_mentions(text)
    care = len(_SOCIAL_CARE.findall(text))
    return send > 0 and send >= care


#: What a listing says when the article may tell of a notice, direction or inspection.
_EVENT_WORDS = re.compile(
    r"\bimprovement notices?\b|\bdirections?\b|\binspect\w*|\bofsted\b|\bCQC\b"
    r"|written statement of action|\bWSoA\b|\bmonitoring visit|\bcommissioners?\b",
    re.IGNORECASE,
)
#: Improvement notices of other law: housing (Housing Act 2004), health and safety, food.
_OTHER_NOTICES = re.compile(
    r"\blandlords?\b|\btenants?\b|\bHMOs?\b|\bhousing\b|\bfire safety\b|\bhealth and safety\b"
    r"|\bHSE\b|\bfood\b|\bplanning\b|\benvironmental\b",
    re.IGNORECASE,
)


def worth_reading(title: str, standfirst: str = "") -> bool:
    """Whether a listing entry (a news title and its standfirst) may be about a SEND notice,
    direction or inspection, so its article is worth fetching; the article itself is then
    classified by `extract`.

    SEND named (in any case, not the verb "send") together with a notice, direction or
    inspection word; or an improvement notice or statutory direction that the listing does
    not place in children's social care, housing or safety law (LGL often names SEND only
    in the article's body).
    """
    title, standfirst = clean(title), clean(standfirst)
    listing = f"{title} {standfirst}"
    if _WSOA.search(listing):  # only area SEND inspections lead to one
        return True
    if not _EVENT_WORDS.search(listing):
        return False
    if is_about_send(title, standfirst):
        return True
    strong = _NOTICE.search(listing) or _DIRECTION.search(listing)
    return bool(strong) and not _SOCIAL_CARE.search(listing) and not _OTHER_NOTICES.search(listing)


#: What makes a council's agenda item part of a SEND case: the inspection, its outcome or
#: feedback letter, the plans it requires, a notice or direction, the improvement board.
_SEND_CASE = re.compile(
    r"\b(?:joint\s+)?(?:local\s+)?area\s+SEND\s+(?:full\s+)?(?:re-?)?inspections?\b"
    r"|\bSEND\s+(?:area\s+)?(?:re-?)?inspections?\b|\binspection of (?:the )?local area\b"
    r"|\blocal area partnership(?:'s)? inspection\b|\binspection outcome\b|\bfeedback letter\b"
    r"|written statement of action|\bWSoA\b|priority action plan|accelerated progress plan"
    r"|\bimprovement notice\b|\bstatutory direction\b|\bSEND improvement (?:and assurance )?board\b",
    re.IGNORECASE,
)


def about_the_send_case(title: str, text: str) -> bool:
    """Whether a council's agenda item (title and minutes) belongs to its SEND case: the area
    SEND inspection, the Written Statement of Action or priority action plan, a notice or
    direction, the improvement board. Not every item that says SEND: a SEND strategy refresh
    that never mentions the inspection or a notice is the council's ordinary business."""
    title, text = clean(title), clean(text)
    passage = f"{title} {text}"
    return bool(_SEND_CASE.search(passage)) and _send_mentions(passage) > 0


def classify(title: str, text: str, hint: Kind | None = None) -> Kind | None:
    """The kind of happening, or None when the document is not about SEND at all."""
    if hint is Kind.COUNCIL_PAPER:  # a paper's own rule: part of the SEND case, or not ours
        return hint if about_the_send_case(title, text) else None
    if hint is Kind.OMBUDSMAN_DECISION:  # filed under SEND by the Ombudsman itself
        return hint
    if not is_about_send(title, text):
        return None
    if hint is not None:
        return hint
    kind = _kind_of(title, _LIFTED_TITLE)
    if kind:
        return kind
    # Sentence by sentence: the lede says what happened first ("An area SEND inspection has
    # found ...") and what follows later ("A monitoring inspection will follow ...").
    for sentence in _sentences(text[:LEDE_CHARS]):
        kind = _kind_of(sentence, _LIFTED_TEXT)
        if kind:
            return kind
    return Kind.NEWS


def _sentences(text: str) -> list[str]:
    return re.split(r"(?<=[.!?])\s+", text)


def _kind_of(passage: str, lifted: re.Pattern[str]) -> Kind | None:
    if lifted.search(passage) and (_NOTICE.search(passage) or "direction" in passage.lower()):
        return Kind.NOTICE_LIFTED
    if _DIRECTION.search(passage):
        return Kind.STATUTORY_DIRECTION
    if _NOTICE.search(passage):
        return Kind.IMPROVEMENT_NOTICE
    if _MONITORING.search(passage) and (_INSPECTION.search(passage) or _SEND.search(passage)):
        return Kind.MONITORING_INSPECTION
    if _WSOA.search(passage) and not _INSPECTION.search(passage):
        return Kind.WSOA
    if _INSPECTION.search(passage):
        return Kind.INSPECTION_REPORT
    return None


def find_la(title: str, text: str, hint: str = "") -> LocalAuthority | None:
    """The LA: from the hint, the title, the lede, then the one clearly most named in the text."""
    las = register()
    lede = text[:LEDE_CHARS]
    for passage in (hint, title, *_event_sentences(lede), lede):
        if passage:
            la = las.match(passage)
            if la:
                return la
    counts = las.count(text).most_common(2)
    if not counts:
        return None
    if len(counts) == 1 or counts[0][1] >= 2 * counts[1][1]:
        return counts[0][0]
    return None


def find_outcome(text: str) -> Outcome | None:
    """The inspection outcome, read from the report's "Inspection outcome" section when it has one."""
    section = _OUTCOME_SECTION.search(text)
    for passage in ((section["body"],) if section else ()) + (text,):
        for pattern, outcome in _OUTCOMES:
            if pattern.search(passage):
                return outcome
    return None


def find_progress(text: str) -> tuple[Outcome | None, dict[str, Any]]:
    """A revisit's or monitoring inspection's result, and the areas it counts: "sufficient
    progress in addressing 3 of the 5 areas of significant weakness" is partial progress, 3
    areas addressed of 5."""
    for pattern, outcome in _PROGRESS_OF:
        match = pattern.search(text)
        if match is None:
            continue
        groups = match.groupdict()
        total = _count(groups.get("of"))
        done = _count(groups.get("done"))
        if outcome is Outcome.SUFFICIENT_PROGRESS:
            done = total
        elif outcome is Outcome.INSUFFICIENT_PROGRESS:
            done = 0 if total is not None else None
        elif done is not None and total is not None and done >= total:
            outcome = Outcome.SUFFICIENT_PROGRESS
        counts = {"areas_addressed": done, "areas_total": total}
        return outcome, {key: value for key, value in counts.items() if value is not None}
    return None, {}


def _count(value: str | None) -> int | None:
    if not value:
        return None
    value = value.lower()
    return int(value) if value.isdigit() else _NUMBER_WORDS.get(value)


def unplaced_sentence(text: str) -> str:
    """The sentence a report states its result in, as far as can be told without reading it:
    the first of its "Inspection outcome" section, else the first that speaks of an outcome or
    progress; quoted to the maintainer when no rule reads it."""
    section = _OUTCOME_SECTION.search(text)
    candidates = _sentences(section["body"]) if section else []
    candidates += [s for s in _sentences(text) if _RESULT_WORDS.search(s)]
    sentence = next((s.strip() for s in candidates if len(s.strip()) > 20), "")
    if not sentence:
        return "(no sentence states an outcome)"
    if len(sentence) > UNREAD_SENTENCE:
        return sentence[: UNREAD_SENTENCE - 1].rstrip() + "…"
    return sentence


def find_inspection_dates(text: str) -> tuple[dt.date, dt.date] | None:
    match = re.search(r"Inspection dates?:?\s*(?P<rest>.{0,80})", text, re.IGNORECASE)
    return parse_date_range(match["rest"]) if match else None


def find_priority_actions(text: str) -> int | None:
    match = _PRIORITY_ACTIONS.search(text)
    return _count(match["n"]) if match else None


def find_happened_on(
    kind: Kind | None, title: str, text: str, published_on: dt.date | None
) -> dt.date | None:
    """When it happened: an explicit date, a relative one resolved against publication, or publication."""
    if kind is None:
        return None
    lede = text[:LEDE_CHARS]
    told = told_date(lede, _DATED_BY.get(kind, _ANY_DATED), published_on)
    if told:
        return told
    if published_on:
        for sentence in _event_sentences(lede):
            resolved = resolve_relative(sentence, published_on)
            if resolved:
                return resolved
    month = parse_month(title) if kind in _NOTICE_LIFE else None
    if month and (published_on is None or (published_on.year, published_on.month) != month):
        return dt.date(month[0], month[1], 1)
    return published_on


#: Whose date dates a kind's happening. A lifting only by a lifting verb: the notice's issue,
#: often dated beside it ("the notice, issued on 3 March 2023, has been lifted"), is not the
#: lifting. A notice or direction only by an issuing verb, for the same reason the other way
#: round. Anything else (news, an inspection) by either, as `_ANY_DATED` says.
_LIFTING = frozenset({Does.LIFTS})
_ISSUING = frozenset({Does.ISSUES})
_DATED_BY: dict[Kind, frozenset[Does]] = {
    Kind.NOTICE_LIFTED: _LIFTING,
    Kind.IMPROVEMENT_NOTICE: _ISSUING,
    Kind.STATUTORY_DIRECTION: _ISSUING,
}
_ANY_DATED = _LIFTING | _ISSUING


def told_date(
    passage: str, does: frozenset[Does], relative_to: dt.date | None = None
) -> dt.date | None:
    """The first date `passage` gives a happening that `does` ("revoked on 3 March 2025"): a
    full date, else a day and month ("issued on 1 May") read against `relative_to`."""
    for match in _HAPPENED_ON.finditer(passage):
        verb = verb_of(match["verb"])
        if verb is None or verb.does not in does:
            continue
        date = parse_date(match["date"]) or (
            resolve_relative(match["date"], relative_to) if relative_to else None
        )
        if date:
            return date
    return None


def _event_sentences(lede: str) -> list[str]:
    """The sentences that tell the happening itself ("X was issued with the notice yesterday")."""
    return [
        sentence
        for sentence in _sentences(lede)
        if _EVENT_VERBS.search(sentence)
        and (
            _NOTICE.search(sentence)
            or _DIRECTION.search(sentence)
            or _INSPECTION.search(sentence)
            or "report" in sentence.lower()
        )
    ]


#: Numbers reports write in words beyond _NUMBER_WORDS ("within approximately eighteen months").
_MORE_NUMBER_WORDS = {"eighteen": 18, "twenty-four": 24, "thirty-six": 36}
_WITHIN = re.compile(r"^(?P<n>\d{1,3}|[a-z-]+)\s+(?P<unit>years?|months?)$")


def months_within(phrase: str | None) -> int | None:
    """The report's "within approximately three years" (as `_NEXT_INSPECTION` reads it, "three
    years") in months, 36, so the store can date the next inspection from what the report
    itself says rather than the framework's default; None when unstated or unreadable."""
    match = _WITHIN.match(clean(phrase or "").lower())
    if not match:
        return None
    word = match["n"]
    number = int(word) if word.isdigit() else _NUMBER_WORDS.get(word, _MORE_NUMBER_WORDS.get(word))
    if not number:
        return None
    return number * 12 if match["unit"].startswith("year") else number


def _group(pattern: re.Pattern[str], text: str, name: str) -> str | None:
    match = pattern.search(text)
    return match[name].lower() if match else None


# -- liftings, as DfE records them in change histories ---------------------------------

# "Moved '...' to the closed notices section", "The notice was lifted on ...": done, not to be.
_LIFTING_NOTE = re.compile(rf"\b{alternation(_LIFTINGS, *DONE)}\b", re.IGNORECASE)
_CONDITIONAL = re.compile(r"\b(?:will|may|could|would|should)\s+be\b", re.IGNORECASE)
_REPLACED_BY_NOTICE = re.compile(
    rf"\b{alternation(verbs(Does.REPLACES), *DONE)}\s+(?:it\s+)?(?:with|by)\s+an?\s+"
    r"improvement\s+notice\b",
    re.IGNORECASE,
)


def note_lifts(note: str) -> bool:
    """Whether a change-history note records a notice or direction lifted (not one that may be)."""
    note = clean(note)
    return bool(_LIFTING_NOTE.search(note)) and not _CONDITIONAL.search(note)


def note_replaces_with_notice(note: str) -> bool:
    """ "The direction … has been revoked and replaced with an improvement notice"."""
    return bool(_REPLACED_BY_NOTICE.search(clean(note))) and note_lifts(note)


def lifted_on(note: str, noted_at: dt.date | None) -> dt.date | None:
    """When a lifting took effect: the date the note gives ("lifted on 21 December 2023"), else
    the date the note was written. Never a date from a title quoted in the note."""
    return told_date(clean(note), _LIFTING, noted_at) or noted_at
