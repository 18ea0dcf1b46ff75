"""A misspelt trailing directional, read only when it can be one directional alone."""

from __future__ import annotations

import itertools
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taxmatch.normalise.address import parse_address
from taxmatch.normalise.directional import (
    FULL_DIRECTIONALS,
    edit_kind,
    mend_trailing_directional,
    read_directional,
    shortens,
)
from taxmatch.normalise.usps import DIRECTIONALS, STREET_TYPES, UNIT_DESIGNATORS

GOOD = ("Springfield", "IL", "62701")


def osa(a: str, b: str) -> int:
    """Optimal string alignment distance by dynamic programming: the oracle."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def one_edit_variants(word: str) -> dict[str, str]:
    """Every word one edit from ``word`` (letters A-Z), by the kind of edit."""
    out: dict[str, str] = {}
    letters = string.ascii_uppercase
    for i in range(len(word)):
        out.setdefault(word[:i] + word[i + 1 :], "deletion")
    for i in range(len(word) - 1):
        out.setdefault(word[:i] + word[i + 1] + word[i] + word[i + 2 :], "transposition")
    for i in range(len(word) + 1):
        for c in letters:
            out.setdefault(word[:i] + c + word[i:], "insertion")
    for i in range(len(word)):
        for c in letters:
            out.setdefault(word[:i] + c + word[i + 1 :], "substitution")
    out.pop(word, None)
    return out


ALL_VARIANTS = sorted({(v, full) for full in FULL_DIRECTIONALS for v in one_edit_variants(full)})


# --- examples -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "standard"),
    [
        ("NORHT", "N"),  # two letters swapped
        ("SOTUH", "S"),
        ("NRTH", "N"),  # a letter dropped
        ("NORHEAST", "NE"),
        ("NORTHWST", "NW"),
        ("SOUTHAST", "SE"),
        ("WESTT", "W"),  # a letter too many
        ("NORTHWEAT", "NW"),  # a letter changed, in a nine-letter word
    ],
)
def test_a_typo_of_one_directional_reads_as_it(word: str, standard: str) -> None:
    assert read_directional(word) == standard


@pytest.mark.parametrize(
    ("word", "standard"),
    [
        ("NTHE", "NE"),  # NORTH and EAST cut short, as abbreviations are
        ("NRTHE", "NE"),
        ("STHW", "SW"),
        ("SWST", "SW"),
        ("NTHW", "NW"),
        ("STHE", "SE"),
    ],
)
def test_a_compound_cut_short_reads_as_it(word: str, standard: str) -> None:
    assert read_directional(word) == standard


@pytest.mark.parametrize(
    "word",
    [
        "NOTE",  # words keep their vowels: NORTH + EAST cut short, but a word
        "SEAT",
        "SOWS",
        "NORHE",
        "SOWEST",
        "SWE",  # too short
        "SWEST",  # WEST with a letter added, or SOUTHWEST cut short
        "NTHWE",  # a vowel that does not begin a half
    ],
)
def test_a_shortening_that_keeps_vowels_or_has_two_readings_is_not_read(word: str) -> None:
    assert read_directional(word) is None


@pytest.mark.parametrize(
    "word",
    [
        "EST",  # EAST or WEST, a letter dropped
        "AEST",  # EAST with two letters swapped, WEST with one changed
        "NORTHEST",  # NORTHEAST or NORTHWEST, a letter dropped
        "SOUTHWEAST",  # SOUTHWEST or SOUTHEAST, a letter added
        "SOUTHE",  # SOUTH with a letter added, or SOUTHEAST cut short
        "NORTHW",
        "WORTH",  # a letter changed in a short word: a word of its own
        "NORTE",
        "REST",
        "EASY",
        "NTHS",  # no single edit, and no directional cut short
        "NORTH",  # directionals as written need no reading
        "SW",
        "NO",  # too short
        "ESTS",  # no single edit (two from EAST and WEST)
        "N0RTH",  # not a word
    ],
)
def test_a_word_with_two_readings_or_none_is_not_read(word: str) -> None:
    assert read_directional(word) is None


def test_words_the_tables_know_are_not_read() -> None:
    known = [w for w in (*STREET_TYPES, *UNIT_DESIGNATORS) if w not in DIRECTIONALS]
    assert all(read_directional(w) is None for w in known)


@pytest.mark.parametrize(
    ("line", "street_line"),
    [
        ("325 19th St Nrth", "325 19TH ST N"),
        ("20 17th Avenue Norheast", "20 17TH AVE NE"),
        ("123 Main St Norht Apt 4", "123 MAIN ST N"),
        ("4 Oak Lane Sotuh", "4 OAK LN S"),
        ("7 Lake Shore Dr Northwst", "7 LAKE SHORE DR NW"),
    ],
)
def test_a_line_with_a_misspelt_trailing_directional_is_accepted(
    line: str, street_line: str
) -> None:
    parsed = parse_address(line, "", *GOOD)
    assert parsed.address is not None, parsed.problems
    assert parsed.address.street_line == street_line


@pytest.mark.parametrize(
    "line",
    [
        "123 Main St Southe",  # S or SE
        "123 Main St Aest",  # E or W
        "123 Main St Worth",  # a place, not a typo
        "123 Main St Fort Worth",
    ],
)
def test_a_line_whose_last_word_has_two_readings_stays_refused(line: str) -> None:
    assert parse_address(line, "", *GOOD).address is None


def test_a_short_word_with_two_readings_is_kept_as_written() -> None:
    parsed = parse_address("123 Main St Est", "", *GOOD)  # EAST or WEST; also a type
    assert parsed.address is not None
    assert parsed.address.street_line == "123 MAIN ST EST"


def test_only_the_word_after_name_and_type_is_read() -> None:
    assert mend_trailing_directional(("MAIN", "ST", "NORHT")) == ("MAIN", "ST", "N")
    assert mend_trailing_directional(("ST", "NORHT")) == ("ST", "NORHT")  # no name
    assert mend_trailing_directional(("MAIN", "NORHT")) == ("MAIN", "NORHT")  # no type
    assert mend_trailing_directional(("NORHT", "MAIN", "ST")) == ("NORHT", "MAIN", "ST")


# --- properties -----------------------------------------------------------------------


@settings(max_examples=500, deadline=None)
@given(st.text("NORTHSEAWXU", max_size=10), st.text("NORTHSEAWXU", max_size=10))
def test_edit_kind_agrees_with_the_distance(a: str, b: str) -> None:
    kind = edit_kind(a, b)
    assert (kind is not None) == (osa(a, b) <= 1)
    assert (kind == "same") == (a == b)


def test_every_one_edit_typo_reads_back_only_when_unambiguous() -> None:
    """Each one-edit variant of each full directional is read as that directional exactly
    when no other directional is within one edit of it or could be shortened to it, it is
    a word of three letters or more the tables do not know, and it is not a short
    directional with one letter changed; it is never read as another directional."""
    read = 0
    for variant, full in ALL_VARIANTS:
        got = read_directional(variant)
        assert got in (None, DIRECTIONALS[full]), variant
        others = [
            d
            for d in FULL_DIRECTIONALS
            if d != full and (osa(variant, d) <= 1 or shortens(variant, d))
        ]
        changed_letter = (
            len(variant) == len(full)
            and sum(a != b for a, b in zip(variant, full, strict=True)) == 1
        )
        unambiguous = (
            not others
            and len(variant) >= 3
            and variant not in STREET_TYPES
            and variant not in UNIT_DESIGNATORS
            and not (changed_letter and len(full) < 9)
        )
        assert (got is not None) == unambiguous, variant
        read += got is not None
    assert read > 100  # the rule reads the common typos


def shortenings(full: str) -> set[str]:
    """Every way to cut a full directional short: letters left out of each half, the
    first letter of each kept."""

    def cut(word: str) -> set[str]:
        rest = word[1:]
        return {
            word[0] + "".join(c for c, keep in zip(rest, mask, strict=True) if keep)
            for mask in itertools.product((False, True), repeat=len(rest))
        }

    halves = {
        "NORTHEAST": ("NORTH", "EAST"),
        "NORTHWEST": ("NORTH", "WEST"),
        "SOUTHEAST": ("SOUTH", "EAST"),
        "SOUTHWEST": ("SOUTH", "WEST"),
    }.get(full)
    if halves is None:
        return cut(full)
    return {a + b for a in cut(halves[0]) for b in cut(halves[1])}


ALL_SHORTENINGS = sorted({(w, full) for full in FULL_DIRECTIONALS for w in shortenings(full)})


def test_every_shortening_reads_back_only_when_it_is_one_compound_as_abbreviated() -> None:
    """Each shortening of each full directional is read as that directional exactly when
    it is a one-edit typo read as above, or it is a compound's of four letters or more
    with no vowel but a half's first letter, shortens no other directional and is one
    edit from none; it is never read as another directional."""
    read = 0
    for word, full in ALL_SHORTENINGS:
        got = read_directional(word)
        assert got in (None, DIRECTIONALS[full]), word
        if word == full or any(osa(word, d) <= 1 for d in FULL_DIRECTIONALS):
            continue  # a directional as written, or a typo: the test above
        others = [d for d in FULL_DIRECTIONALS if d != full and word in shortenings(d)]
        # The only vowel that begins a half is EAST's E.
        vowels = [c for c in word if c in "AEIOUY"]
        allowed = ["E"] if full.endswith("EAST") else []
        abbreviated = len(full) == 9 and len(word) >= 4 and vowels in ([], allowed)
        assert (got is not None) == (abbreviated and not others), word
        read += got is not None
    assert read > 50


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ALL_VARIANTS), st.sampled_from(["MAIN ST", "17TH AVENUE", "LAKE SHORE DR"]))
def test_a_typo_never_makes_another_directional(variant_full: tuple[str, str], street: str) -> None:
    variant, full = variant_full
    right = parse_address(f"12 {street} {full}", "", *GOOD).address
    typo = parse_address(f"12 {street} {variant}", "", *GOOD).address
    assert right is not None
    if typo is not None:  # the right street, or the word kept as written
        last = typo.street_line.split()[-1]
        if last in DIRECTIONALS.values():
            assert typo.street_line == right.street_line
        else:
            assert last in (variant, STREET_TYPES.get(variant))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.from_regex(r"[A-Z]{1,9}", fullmatch=True), min_size=1, max_size=5),
)
def test_a_street_without_a_readable_last_word_is_unchanged(street: list[str]) -> None:
    tokens = tuple(street)
    mended = mend_trailing_directional(tokens)
    assert mended[:-1] == tokens[:-1]
    if mended != tokens:
        assert tokens[-2] in STREET_TYPES
        assert mended[-1] == read_directional(tokens[-1])
        assert mended[-1] in DIRECTIONALS.values()


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["MAIN", "OAK", "17TH", "LAKE SHORE", "MARTIN LUTHER KING"]),
    st.sampled_from(["ST", "AVENUE", "DR", "WAY", "BLVD", "CT"]),
    st.sampled_from([*DIRECTIONALS, ""]),
)
def test_correct_addresses_are_unchanged(name: str, street_type: str, directional: str) -> None:
    tokens = (*name.split(), street_type, *([directional] if directional else []))
    assert mend_trailing_directional(tokens) == tokens
