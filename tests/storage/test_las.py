"""The local-authority register and its matcher: the one LA named, or nothing."""

from __future__ import annotations

from collections import Counter

import pytest

from storage.las import Register, register


@pytest.fixture(scope="module")
def las() -> Register:
    return register()


def test_register_has_every_english_la_with_send_duties(las: Register) -> None:
    assert len(las) == 153
    assert len({la.ons_code for la in las}) == 153
    assert len({la.dfe_code for la in las}) == 153
    assert Counter(la.region for la in las) == {
        "London": 33,
        "North West": 24,
        "South East": 19,
        "Yorkshire and the Humber": 15,
        "South West": 15,
        "West Midlands": 14,
        "North East": 12,
        "East of England": 11,
        "East Midlands": 10,
    }
    assert all(la.ons_code[:3] in {"E06", "E08", "E09", "E10"} for la in las)


@pytest.mark.parametrize(
    ("name", "ons_code", "dfe_code", "region"),
    [
        ("Bexley", "E09000004", "303", "London"),
        ("Wirral", "E08000015", "344", "North West"),
        ("Cumberland", "E06000063", "942", "North West"),
        ("Westmorland and Furness", "E06000064", "943", "North West"),
        ("North Yorkshire", "E06000065", "815", "Yorkshire and the Humber"),
        ("Somerset", "E06000066", "933", "South West"),
        ("Isles of Scilly", "E06000053", "420", "South West"),
        ("City of London", "E09000001", "201", "London"),
        ("Kingston upon Hull", "E06000010", "810", "Yorkshire and the Humber"),
        ("Bournemouth, Christchurch and Poole", "E06000058", "839", "South West"),
        ("County Durham", "E06000047", "840", "North East"),
        ("Kent", "E10000016", "886", "South East"),
        ("Birmingham", "E08000025", "330", "West Midlands"),
        ("North Northamptonshire", "E06000061", "940", "East Midlands"),
        ("Bedford", "E06000055", "822", "East of England"),
        ("Gateshead", "E08000037", "390", "North East"),
    ],
)
def test_spot_checks(las: Register, name: str, ons_code: str, dfe_code: str, region: str) -> None:
    la = las.get(ons_code)
    assert la is not None
    assert (la.name, la.dfe_code, la.region) == (name, dfe_code, region)
    assert las.get(dfe_code) == la


def test_abolished_councils_are_gone(las: Register) -> None:
    for gone in ("E10000006", "E10000023", "E10000027", "E10000021", "E06000028", "E06000029"):
        assert las.get(gone) is None  # Cumbria, North Yorkshire CC, Somerset CC, Northants, ...


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("London Borough of Bexley", "Bexley"),
        ("Bexley Council", "Bexley"),
        ("Improvement notice issued to Bexley: March 2024", "Bexley"),
        ("Bexley's SEND services", "Bexley"),
        ("Kingston upon Hull", "Kingston upon Hull"),
        ("Hull City Council", "Kingston upon Hull"),
        ("Kingston-upon-Hull City Council", "Kingston upon Hull"),
        ("Royal Borough of Kingston upon Thames", "Kingston upon Thames"),
        ("Bournemouth, Christchurch and Poole", "Bournemouth, Christchurch and Poole"),
        ("BCP Council issued with improvement notice", "Bournemouth, Christchurch and Poole"),
        ("Solihull", "Solihull"),  # not Hull
        ("Solihull Metropolitan Borough Council", "Solihull"),
        ("North Yorkshire", "North Yorkshire"),  # not York
        ("North Yorkshire Council", "North Yorkshire"),
        ("City of York Council", "York"),
        ("York", "York"),
        ("Durham", "County Durham"),
        ("County Durham", "County Durham"),
        ("Durham County Council was inspected", "County Durham"),
        ("Westminster City Council", "Westminster"),
        ("the City of Westminster", "Westminster"),
        ("Stockton-on-Tees Borough Council", "Stockton-on-Tees"),
        ("Stockton on Tees", "Stockton-on-Tees"),
        ("St. Helens Council", "St Helens"),
        ("Brighton & Hove City Council", "Brighton and Hove"),
        ("Council of the Isles of Scilly", "Isles of Scilly"),
        ("Reading Borough Council", "Reading"),
        ("Cumberland Council", "Cumberland"),
        ("Westmorland and Furness Council", "Westmorland and Furness"),
        ("North East Lincolnshire Council", "North East Lincolnshire"),
        ("Somerset Council", "Somerset"),
        ("North Somerset Council", "North Somerset"),
        ("Bath and North East Somerset Council", "Bath and North East Somerset"),
        ("Newcastle City Council", "Newcastle upon Tyne"),
        ("Kingston Council", "Kingston upon Thames"),
        ("Kingston upon Thames and Kingston", "Kingston upon Thames"),
    ],
)
def test_matcher_finds_the_one_la(las: Register, text: str, expected: str) -> None:
    la = las.match(text)
    assert la is not None, text
    assert la.name == expected


@pytest.mark.parametrize(
    "text",
    [
        "vulnerable children housed by London boroughs",
        "a Westminster debate on SEND funding",
        "Kingston",
        "Cumbria",
        "Northamptonshire",
        "Greater Manchester councils",
        "Newcastle-under-Lyme",
        "reading the report, they decided to bury it",
        "councils in Bexley and Bromley",
        "the Department for Education said",
        "",
    ],
)
def test_matcher_returns_nothing_rather_than_a_guess(las: Register, text: str) -> None:
    la = las.match(text)
    assert la is None, f"{text!r} matched {la}"


def test_count_finds_the_subject_of_a_long_article(las: Register) -> None:
    text = (
        "Wirral Council has been issued an improvement notice. Wirral's SEND services"
        " were inspected in 2023; a neighbouring council, Sefton, was praised."
    )
    counts = las.count(text)
    assert counts.most_common(1)[0][0].name == "Wirral"
    assert las.match(text) is None  # two LAs named: the matcher does not guess


def test_search_and_suggest(las: Register) -> None:
    assert [la.name for la in las.search("bexley")] == ["Bexley"]
    assert [la.name for la in las.search("E08000015")] == ["Wirral"]
    assert [la.name for la in las.search("hull")] == ["Kingston upon Hull"]
    assert len(las.search("London")) == 33
    assert las.search("Bexly") == []
    assert [la.name for la in las.suggest("Bexly")][:1] == ["Bexley"]


def test_slugs(las: Register) -> None:
    la = las.get("E06000058")
    assert la is not None
    assert la.slug == "bournemouth-christchurch-and-poole"
    assert la.region_slug == "south-west"


def test_search_puts_the_council_so_named_first_then_names_that_start_with_it() -> None:
    las = register()
    york = [la.name for la in las.search("york")]
    assert york[0] == "York" and len(york) == 15  # then the region's other councils
    north = [la.name for la in las.search("north")]
    starting = [name for name in north if name.startswith("North")]
    assert north[: len(starting)] == starting  # "North …" before the North East's others
    assert len(north) > len(starting)
    assert next(la.name for la in las.search("Hull")) == "Kingston upon Hull"
