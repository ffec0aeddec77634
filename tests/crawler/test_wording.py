"""The verb table: every verb in it is known to every rule that reads its kind of wording."""

from __future__ import annotations

import datetime as dt

import pytest

from crawler.extract import Document, extract, lifted_on, note_lifts, note_replaces_with_notice
from crawler.wording import ANY, DONE, VERBS, Does, Form, Verb, alternation, verb_of, verbs
from sendwatch.vocab import Kind

LIFTINGS = verbs(Does.LIFTS)
ISSUINGS = verbs(Does.ISSUES)
PUBLISHED = dt.date(2025, 3, 10)
MARCH_3 = dt.date(2025, 3, 3)
KENT = "E10000016"
HULL_NOTE = (
    "The direction issued to Kingston upon Hull City Council has been revoked and replaced with"
    " an improvement notice"
)


def _id(verb: Verb) -> str:
    return verb.participle


def _read(title: str, text: str = "SEND services") -> tuple[Kind | None, dt.date | None]:
    result = extract(Document(title=title, text=text, published_on=PUBLISHED))
    return result.kind, result.happened_on


def test_the_table_knows_the_lifting_verbs() -> None:
    assert [verb.participle for verb in LIFTINGS] == [
        "lifted",
        "removed",
        "closed",
        "withdrawn",
        "revoked",
        "ended",
        "stepped down",
    ]


def test_every_word_is_one_verbs() -> None:
    words = [word for verb in VERBS for word in set(verb.forms(*ANY))]
    assert len(words) == len(set(words))
    for verb in VERBS:
        for word in verb.forms(*ANY):
            assert verb_of(word.upper()) is verb
    assert verb_of("Stepped-down") is verb_of("stepped  down") is LIFTINGS[-1]
    assert verb_of("progressed") is None


def test_an_alternation_is_longest_first_and_reads_a_phrasal_verb_hyphenated() -> None:
    withdraw, step_down = LIFTINGS[3], LIFTINGS[6]
    assert alternation([withdraw, step_down], *DONE) == (
        r"(?:stepped[\s-]+down|withdrawn|withdrew)"
    )
    assert alternation([withdraw], Form.PRESENT) == "(?:withdraws|withdraw)"


@pytest.mark.parametrize("verb", LIFTINGS, ids=_id)
def test_a_title_telling_a_lifting_is_a_notice_lifted(verb: Verb) -> None:
    assert _read(f"Council's SEND improvement notice {verb.participle}") == (
        Kind.NOTICE_LIFTED,
        PUBLISHED,
    )


@pytest.mark.parametrize("verb", verbs(Does.LIFTS, loose=False), ids=_id)
def test_a_headline_in_the_present_is_a_notice_lifted(verb: Verb) -> None:
    third_person = verb.present[-1]  # "lifts", "steps down"
    title = f"DfE {third_person} Kent's SEND improvement notice"
    assert _read(title) == (Kind.NOTICE_LIFTED, PUBLISHED)


@pytest.mark.parametrize("verb", LIFTINGS, ids=_id)
def test_a_lede_telling_a_lifting_is_a_notice_lifted(verb: Verb) -> None:
    text = f"Kent County Council's SEND improvement notice has been {verb.participle}."
    result = extract(Document(title="Kent update", text=text, published_on=PUBLISHED))
    assert result.kind is Kind.NOTICE_LIFTED
    assert result.local_authority is not None and result.local_authority.ons_code == KENT
    assert result.happened_on == PUBLISHED


@pytest.mark.parametrize("verb", LIFTINGS, ids=_id)
def test_a_lifting_on_a_date_is_dated_by_it_not_by_publication(verb: Verb) -> None:
    text = f"Kent County Council's SEND improvement notice was {verb.participle} on 3 March 2025."
    assert _read("Kent update", text) == (Kind.NOTICE_LIFTED, MARCH_3)


@pytest.mark.parametrize("verb", LIFTINGS, ids=_id)
def test_a_lifting_with_effect_from_a_date_is_dated_by_it(verb: Verb) -> None:
    text = f"The SEND improvement notice was {verb.participle} with effect from 1 April 2025."
    assert _read("Kent update", text) == (Kind.NOTICE_LIFTED, dt.date(2025, 4, 1))


@pytest.mark.parametrize("verb", LIFTINGS, ids=_id)
def test_a_change_note_dates_its_lifting(verb: Verb) -> None:
    note = f"The notice was {verb.participle} on 3 March 2025."
    assert note_lifts(note) is True
    assert note_replaces_with_notice(note) is False
    assert lifted_on(note, PUBLISHED) == MARCH_3


@pytest.mark.parametrize("verb", LIFTINGS, ids=_id)
def test_a_conditional_is_not_a_lifting(verb: Verb) -> None:
    condition = f"The notice will be {verb.participle} when the council shows progress on SEND."
    title = "Improvement notice issued to Kent County Council: March 2023"
    assert _read(title, condition) == (Kind.IMPROVEMENT_NOTICE, dt.date(2023, 3, 1))
    assert note_lifts(condition) is False


@pytest.mark.parametrize("verb", ISSUINGS, ids=_id)
def test_an_issue_on_a_date_dates_the_notice(verb: Verb) -> None:
    text = f"Kent County Council's SEND improvement notice was {verb.participle} on 3 March 2025."
    assert _read("Council hit with improvement notice over SEND", text) == (
        Kind.IMPROVEMENT_NOTICE,
        MARCH_3,
    )


def test_a_notices_issue_date_does_not_date_its_lifting() -> None:
    text = "Kent's SEND improvement notice, issued on 3 March 2023, has been lifted."
    assert _read("Kent update", text) == (Kind.NOTICE_LIFTED, PUBLISHED)


def test_a_lifting_date_does_not_date_a_notice() -> None:
    text = "A previous SEND improvement notice was lifted on 3 March 2020."
    assert _read("Council hit with improvement notice over SEND", text) == (
        Kind.IMPROVEMENT_NOTICE,
        PUBLISHED,
    )


def test_a_note_dates_the_lifting_after_a_dated_issue() -> None:
    note = "The notice issued on 3 March 2023 was lifted from Kent County Council on 4 June 2025."
    assert lifted_on(note, PUBLISHED) == dt.date(2025, 6, 4)


def test_a_note_without_a_year_is_read_against_when_it_was_written() -> None:
    assert lifted_on("The notice was lifted on 21 December.", dt.date(2025, 1, 9)) == (
        dt.date(2024, 12, 21)
    )
    assert lifted_on("The notice was lifted.", dt.date(2025, 1, 9)) == dt.date(2025, 1, 9)


def test_a_direction_revoked_and_replaced_with_a_notice() -> None:
    assert note_lifts(HULL_NOTE) is True
    assert note_replaces_with_notice(HULL_NOTE) is True
    dated = HULL_NOTE.replace("revoked", "revoked on 1 February 2024")
    assert lifted_on(dated, PUBLISHED) == dt.date(2024, 2, 1)
    assert note_replaces_with_notice("The direction has been replaced with new guidance") is False


@pytest.mark.parametrize("word", ["issued", "served", "gave", "handed"])
def test_a_direction_issued_in_the_tables_words_is_a_statutory_direction(word: str) -> None:
    verb = verb_of(word)
    assert verb is not None and verb.does is Does.ISSUES
    assert _read(f"Minister {word} a direction to Hull over SEND") == (
        Kind.STATUTORY_DIRECTION,
        PUBLISHED,
    )


def test_news_of_a_direction_revoked_is_its_lifting_dated_by_the_news() -> None:
    """A direction is lifted as a notice is, and never called one: the lede's date dates it."""
    lede = (
        "The direction issued to Kingston upon Hull City Council over its SEND services has been"
        " revoked on 1 February 2024 and replaced with an improvement notice."
    )
    assert _read("SEND news", lede) == (Kind.NOTICE_LIFTED, dt.date(2024, 2, 1))


def test_a_direction_of_travel_is_not_a_statutory_direction() -> None:
    lede = "The council was given a direction of travel for its SEND reforms."
    assert _read("SEND update", lede)[0] is Kind.NEWS
