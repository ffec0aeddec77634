"""The register of English local authorities with SEND duties, and a matcher that finds one in text.

The register is data (``data/local_authorities.csv``): the 153 upper-tier and
unitary councils as they stand since April 2023, each with its ONS GSS code,
DfE three-digit LA code, region, and the other names people write for it.

The matcher's contract is "the one LA named, or nothing": an alert sent for the
wrong council is worse than none, so every doubt resolves to ``None``. Three kinds
of name make that work:

* plain aliases match anywhere as whole words ("Bexley", "Hull", "Durham");
* qualified aliases match only beside a council word ("Westminster City Council",
  "London Borough of Sutton", "Reading Borough Council"), because the bare word
  usually means something else (Parliament, a verb, a town elsewhere);
* a name shared by two LAs ("Kingston", "Cumbria", "Northamptonshire") is ambiguous
  on its own and only counts when the text also names one of them outright.

Matching runs on normalised text (lower case, ``&`` as "and", hyphens as spaces,
"St." as "St"), and at each position the longest name wins, so "Kingston upon Hull"
is not also "Hull", "North Yorkshire" is not "York" and "Solihull" is not "Hull".
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

#: Names that contain an LA's name but mean something else; matched so that they
#: consume the text, then ignored.
BLOCKERS: tuple[str, ...] = (
    "Greater Manchester",
    "Newcastle-under-Lyme",
    "New York",
    "Sutton Coldfield",
    "Durham University",
    "Bristol University",
    "University of Bristol",
)

#: The longest name `lookup` reads (the longest council name is under 60 characters).
MAX_LOOKUP = 200
#: How the DfE and Ofsted's statistics decorate some names ("Bristol, City of").
_DFE_NOISE = re.compile(r",?\s*(?:city|county) of\s*$|^\s*(?:city|county) of\s+", re.IGNORECASE)

_PREFIXES = (
    r"(?:london borough of|royal borough of|metropolitan borough of|borough of|city of"
    r"|council of the) "
)
_SUFFIXES = (
    r" (?:metropolitan borough |royal borough |city |county |borough |district )?council"
    r"|'s council| local authority"
)


@dataclass(frozen=True)
class LocalAuthority:
    """One English local authority with SEND duties."""

    ons_code: str
    dfe_code: str
    name: str
    region: str
    aliases: tuple[str, ...] = field(default=(), compare=False, repr=False)
    qualified_aliases: tuple[str, ...] = field(default=(), compare=False, repr=False)

    @property
    def slug(self) -> str:
        """A URL-safe name for feeds and pages ("kingston-upon-hull")."""
        return slugify(self.name)

    @property
    def region_slug(self) -> str:
        return slugify(self.region)


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", normalise(text)).strip("-")


def normalise(text: str) -> str:
    """Fold the ways one name is written into one form, for matching."""
    text = text.lower().replace("&", " and ")
    text = re.sub(r"[\u2018\u2019`]", "'", text)
    text = re.sub(r"[\-\u2010-\u2015]", " ", text)
    text = re.sub(r"\bst\.", "st", text)
    return re.sub(r"\s+", " ", text)


@dataclass(frozen=True)
class Mention:
    """A name found in text and the LAs it may stand for: none (a blocker), one, or several."""

    text: str
    candidates: frozenset[LocalAuthority]


class Register:
    """The LAs, looked up by code or name, and found in free text."""

    def __init__(self, authorities: Iterable[LocalAuthority]) -> None:
        self.authorities: tuple[LocalAuthority, ...] = tuple(
            sorted(authorities, key=lambda la: la.name)
        )
        self._by_code = {la.ons_code: la for la in self.authorities}
        self._by_code.update({la.dfe_code: la for la in self.authorities})
        self._plain: dict[str, set[LocalAuthority]] = {}
        self._qualified: dict[str, set[LocalAuthority]] = {}
        for la in self.authorities:
            # A name listed as qualified ("Westminster", "Reading") is too common a
            # word to match bare, even when it is the LA's own name.
            bare = la.aliases if la.name in la.qualified_aliases else (la.name, *la.aliases)
            for name in bare:
                self._plain.setdefault(normalise(name), set()).add(la)
            for name in la.qualified_aliases:
                self._qualified.setdefault(normalise(name), set()).add(la)
        for name in BLOCKERS:
            self._plain.setdefault(normalise(name), set())
        #: Slug of each name, alias and own slug -> its council, for names only one council has.
        self._names = _unique_names(self.authorities)
        names = sorted(set(self._plain) | set(self._qualified), key=len, reverse=True)
        alternation = "|".join(re.escape(name) for name in names)
        self._pattern = re.compile(
            rf"(?<![a-z0-9])(?P<pre>{_PREFIXES})?(?P<name>{alternation})"
            rf"(?P<post>{_SUFFIXES})?(?![a-z0-9])"
        )

    def __len__(self) -> int:
        return len(self.authorities)

    def __iter__(self) -> Iterator[LocalAuthority]:
        return iter(self.authorities)

    def get(self, code: str) -> LocalAuthority | None:
        """The LA with this ONS GSS code or DfE LA code."""
        return self._by_code.get(code.strip().upper())

    def lookup(self, query: str) -> LocalAuthority | None:
        """The one council a name, alias, slug or code given as such stands for, or None.

        The one lookup of a council by name: the web (`/la/hull`, feeds, calendars), the CLI
        (`--la`), the bot (`/subscribe Richmond`), the alert filters and Ofsted's statistics
        (which write "Bristol, City of") all ask it, so one name finds one council everywhere.
        In order: a code; a name, alias or slug that only one council has (as written, then
        without the DfE's "City of"/"County of"); the one council whose name, alias or region
        has a word starting with it ("Richmond", "north york"); the one council the text names
        (the free-text matcher: "Hull City Council", "London Borough of Sutton", "york"). A name
        two councils share ("Kingston") finds none: `suggestions` lists them.
        """
        query = query.strip()
        if not query or len(query) > MAX_LOOKUP:
            return None
        exact = self.get(query)
        if exact is not None:
            return exact
        for name in dict.fromkeys((query, _DFE_NOISE.sub("", query).strip(" ,"))):
            named = self._names.get(slugify(name))
            if named is not None:
                return named
        found = self.search(query)
        if len(found) == 1:
            return found[0]
        return self.match(query)

    def suggestions(self, query: str, limit: int = 8) -> list[LocalAuthority]:
        """The councils to offer when `lookup` finds none: those a word of theirs starts with the
        query, else the closest names to a misspelt one ("Bexly")."""
        if len(query) > MAX_LOOKUP:
            return []
        found = self.search(query) if query.strip() else []
        return found[:limit] or self.suggest(query, limit=max(1, limit // 2))

    def regions(self) -> list[str]:
        return sorted({la.region for la in self.authorities})

    def mentions(self, text: str) -> Iterator[Mention]:
        """Every LA name in the text, longest name first at each position."""
        for found in self._pattern.finditer(normalise(text)):
            name = found.group("name")
            qualified = bool(found.group("pre") or found.group("post"))
            candidates = set(self._plain.get(name, ()))
            if qualified and name in self._qualified:
                # "Kingston Council" is the Royal Borough; Hull's council calls itself Hull.
                candidates = set(self._qualified[name])
            elif name not in self._plain:
                continue  # a qualified-only name written bare: not a mention
            yield Mention(found.group(0), frozenset(candidates))

    def match(self, text: str) -> LocalAuthority | None:
        """The one LA the text names, or None when it names none or more than one."""
        definite: set[LocalAuthority] = set()
        ambiguous: list[frozenset[LocalAuthority]] = []
        for mention in self.mentions(text):
            if len(mention.candidates) == 1:
                definite |= mention.candidates
            elif mention.candidates:
                ambiguous.append(mention.candidates)
        if len(definite) != 1:
            return None
        (la,) = definite
        if all(la in candidates for candidates in ambiguous):
            return la
        return None

    def count(self, text: str) -> Counter[LocalAuthority]:
        """How often each LA is named without doubt, for picking the subject of a long article."""
        counts: Counter[LocalAuthority] = Counter()
        for mention in self.mentions(text):
            if len(mention.candidates) == 1:
                counts.update(mention.candidates)
        return counts

    def search(self, query: str) -> list[LocalAuthority]:
        """LAs whose code is the query, or whose name, alias or region has a word starting with it:
        the council so named first, then those whose name starts with it, then the rest
        ("york": York, then North Yorkshire and the region's other councils).

        Word starts, not substrings, so "hull" lists Hull and not Solihull.
        """
        if not query.strip():
            return list(self.authorities)
        if len(query) > MAX_LOOKUP:
            return []  # no council is called that: nothing to search for
        exact = self.get(query)
        if exact:
            return [exact]
        wanted = normalise(query).strip()
        needle = re.compile(rf"(?<![a-z0-9]){re.escape(wanted)}")
        found = [
            la
            for la in self.authorities
            if any(
                needle.search(normalise(name))
                for name in (la.name, la.region, *la.aliases, *la.qualified_aliases)
            )
        ]
        return sorted(found, key=lambda la: (_closeness(la, wanted), la.name))

    def suggest(self, query: str, limit: int = 3) -> list[LocalAuthority]:
        """The closest LA names to a misspelt query ("Bexly" -> Bexley)."""
        by_name = {normalise(la.name): la for la in self.authorities}
        for la in self.authorities:
            for alias in la.aliases:
                by_name.setdefault(normalise(alias), la)
        close = difflib.get_close_matches(normalise(query).strip(), list(by_name), n=limit * 2)
        found: list[LocalAuthority] = []
        for name in close:
            if by_name[name] not in found:
                found.append(by_name[name])
        return found[:limit]


def _closeness(la: LocalAuthority, wanted: str) -> int:
    """0: the query is its name or an alias; 1: its name starts with the query; 2: otherwise."""
    names = [normalise(name) for name in (la.name, *la.aliases, *la.qualified_aliases)]
    if wanted in names:
        return 0
    return 1 if names[0].startswith(wanted) else 2


def _unique_names(authorities: Iterable[LocalAuthority]) -> dict[str, LocalAuthority]:
    """Each name or alias (by its slug) that only one council answers to."""
    owners: dict[str, set[LocalAuthority]] = {}
    for la in authorities:
        for name in (la.name, *la.aliases, *la.qualified_aliases):
            owners.setdefault(slugify(name), set()).add(la)
    return {name: next(iter(las)) for name, las in owners.items() if len(las) == 1 and name}


def _split(cell: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in cell.split(";") if part.strip())


def load_authorities() -> list[LocalAuthority]:
    """Read the bundled register."""
    source = resources.files("storage").joinpath("data/local_authorities.csv")
    rows = csv.DictReader(io.StringIO(source.read_text(encoding="utf-8"), newline=""))
    return [
        LocalAuthority(
            ons_code=row["ons_code"],
            dfe_code=row["dfe_code"],
            name=row["name"],
            region=row["region"],
            aliases=_split(row["aliases"]),
            qualified_aliases=_split(row["qualified_aliases"]),
        )
        for row in rows
    ]


@cache
def register() -> Register:
    """The shared register, built once per process (the matcher's regex is not free)."""
    return Register(load_authorities())


@dataclass(frozen=True)
class MeetingSite:
    """Where a council publishes its meeting papers, and with what software."""

    ons_code: str
    #: "moderngov", "cmis", "other" or "unknown" (no public evidence found).
    software: str
    base_url: str


@cache
def meeting_sites() -> dict[str, MeetingSite]:
    """Each council's meeting-papers site (``data/meeting_sites.csv``), by ONS code.

    Gathered from public repositories' council lists (DemocracyClub's LGSF and others) in
    2026; sites move, so `[sources.moderngov] sites` overrides any council's.
    """
    text = resources.files("storage").joinpath("data/meeting_sites.csv").read_text("utf-8")
    return {
        row["ons_code"]: MeetingSite(row["ons_code"], row["software"], row["base_url"])
        for row in csv.DictReader(io.StringIO(text))
    }
