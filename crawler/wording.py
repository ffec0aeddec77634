"""The verbs that tell a notice's or direction's life, in one table, and the regex pieces built from it.

The sources tell the same few happenings with many verbs: DfE "lifted", "closed" or "revoked" a
notice, it was "withdrawn" or "stepped down"; a council was "issued", "served", "handed" or "hit
with" one. Every rule in `crawler.extract` that reads such wording builds its alternation from
`VERBS`, so that adding a verb is one line here and every rule learns it, and no two rules
disagree on which verbs lift a notice.

Each rule chooses the forms it needs: a rule that must see the thing done (a lifting, not "will be
lifted when ...") takes only the past and the participle; a headline, which tells a past event in
the present ("Government lifts SEND improvement notice"), also takes the present.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum


class Does(Enum):
    """What a verb does to a notice or direction (or, for PUBLISHES, to a report)."""

    #: Ends a notice or direction: lifts, removes, closes, withdraws, revokes, steps down.
    LIFTS = "lifts"
    #: Puts a notice or direction on a council: issues, serves, gives, hands, hits with.
    ISSUES = "issues"
    #: Puts another in its place: a direction "replaced with an improvement notice".
    REPLACES = "replaces"
    #: Puts out a report: tells an inspection's happening, never a notice's.
    PUBLISHES = "publishes"


class Form(Enum):
    """Which of a verb's forms a rule reads."""

    PRESENT = "present"  # "lifts", "steps down"
    PAST = "past"  # "lifted", "withdrew"
    PARTICIPLE = "participle"  # "lifted", "withdrawn"


#: The thing done: what a rule takes when only completion counts.
DONE = (Form.PAST, Form.PARTICIPLE)
ANY = (Form.PRESENT, *DONE)


@dataclass(frozen=True)
class Verb:
    """One verb and the forms the sources write it in."""

    does: Does
    #: As a headline tells a past event ("lifts"); a base form that is just as often a noun or
    #: an adjective ("end", "close") is left out.
    present: tuple[str, ...]
    past: str
    participle: str
    #: Also an everyday word ("progress made", "closed the gap"): it counts only where a rule
    #: pins it to a notice, a direction or a date, never a verb loosely near one.
    loose: bool = False
    #: Tells a lifting with no "notice" right beside it ("Kent's improvement notice for SEND
    #: is stepped down"): the passage must still name a notice or direction.
    alone: bool = False

    def forms(self, *forms: Form) -> tuple[str, ...]:
        """The verb's words in the forms asked for, each once ("lifted" is past and participle)."""
        words: list[str] = []
        if Form.PRESENT in forms:
            words += self.present
        if Form.PAST in forms:
            words.append(self.past)
        if Form.PARTICIPLE in forms:
            words.append(self.participle)
        return tuple(dict.fromkeys(words))


#: Every verb the rules know, one a line: (what it does, present, past, participle, flags).
VERBS: tuple[Verb, ...] = (
    Verb(Does.LIFTS, ("lift", "lifts"), "lifted", "lifted"),
    Verb(Does.LIFTS, ("remove", "removes"), "removed", "removed"),
    Verb(Does.LIFTS, ("closes",), "closed", "closed", loose=True),
    Verb(Does.LIFTS, ("withdraw", "withdraws"), "withdrew", "withdrawn"),
    Verb(Does.LIFTS, ("revoke", "revokes"), "revoked", "revoked"),
    Verb(Does.LIFTS, ("ends",), "ended", "ended"),
    Verb(Does.LIFTS, ("step down", "steps down"), "stepped down", "stepped down", alone=True),
    Verb(Does.ISSUES, ("issue", "issues"), "issued", "issued"),
    Verb(Does.ISSUES, ("serve", "serves"), "served", "served"),
    Verb(Does.ISSUES, ("give", "gives"), "gave", "given"),
    Verb(Does.ISSUES, ("hand", "hands"), "handed", "handed"),
    Verb(Does.ISSUES, ("place", "places"), "placed", "placed"),
    Verb(Does.ISSUES, ("hit", "hits"), "hit", "hit"),
    Verb(Does.ISSUES, ("make", "makes"), "made", "made", loose=True),
    Verb(Does.ISSUES, ("date", "dates"), "dated", "dated"),
    Verb(Does.REPLACES, ("replace", "replaces"), "replaced", "replaced"),
    Verb(Does.PUBLISHES, ("publish", "publishes"), "published", "published"),
)


def verbs(*does: Does, loose: bool = True, alone: bool = False) -> tuple[Verb, ...]:
    """The table's verbs that do any of `does`. `loose=False` leaves out the everyday words, for
    rules that only find a verb near a notice; `alone=True` keeps only the verbs that tell a
    lifting by themselves."""
    return tuple(
        verb
        for verb in VERBS
        if verb.does in does and (loose or not verb.loose) and (verb.alone or not alone)
    )


def alternation(chosen: Iterable[Verb], *forms: Form) -> str:
    """A non-capturing regex group matching any of the verbs' words in the forms asked for,
    longest first, a phrasal verb's words apart by spaces or a hyphen ("stepped-down")."""
    words = {word for verb in chosen for word in verb.forms(*forms)}
    if not words:
        raise ValueError("no verb in the table has those forms")
    ordered = sorted(words, key=lambda word: (-len(word), word))
    return "(?:" + "|".join(r"[\s-]+".join(map(re.escape, w.split())) for w in ordered) + ")"


def _folded(words: str) -> str:
    return " ".join(words.replace("-", " ").casefold().split())


_BY_WORD: dict[str, Verb] = {}
for _verb in VERBS:
    for _word in _verb.forms(*ANY):
        _BY_WORD.setdefault(_folded(_word), _verb)


def verb_of(words: str) -> Verb | None:
    """The table's verb a matched word is a form of ("Stepped-down" -> step down), so a rule
    that reads every verb can tell a lifting's date from an issue's."""
    return _BY_WORD.get(_folded(words))
