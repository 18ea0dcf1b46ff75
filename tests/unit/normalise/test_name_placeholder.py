"""Placeholder words in name fields: every listed word is caught however it is written, and
no name the generator gives anyone (given names and surnames of every group) is one."""

from __future__ import annotations

import csv
from importlib.resources import files

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taxmatch.normalise.name_placeholder import (
    _FIRST,
    _LAST,
    is_placeholder_first,
    is_placeholder_last,
)
from taxmatch.normalise.text import fold


def _names(table: str) -> set[str]:
    text = files("taxmatch.generate").joinpath("data", table).read_text(encoding="utf-8")
    return {fold(row["name"]) for row in csv.DictReader(text.splitlines())}


@pytest.mark.parametrize(
    ("written", "first", "last"),
    [
        ("Respondent", True, True),
        ("male child", True, False),
        ("Mr.", True, False),
        ("LADY-OF-THE-HOUSE", True, True),
        ("of the house", False, True),
        ("Son", False, False),  # a Vietnamese given name; a Korean surname
        ("House", True, False),  # a surname
        ("Householder", True, False),  # a surname
        ("Baby", False, False),  # some are named so
        ("Boy", False, False),  # a Filipino given name
        ("Null", False, False),  # a surname
        ("J", False, False),  # an initial
        ("Maria", False, False),
    ],
)
def test_placeholder_words(written: str, first: bool, last: bool) -> None:
    assert is_placeholder_first(fold(written)) is first
    assert is_placeholder_last(fold(written)) is last


@given(st.sampled_from(sorted(_FIRST | _LAST)), st.sampled_from(["", " ", ".", "  ", "-"]))
def test_caught_however_written(word: str, sep: str) -> None:
    written = word.lower().replace(" ", sep or " ") + sep
    assert fold(written) == word
    assert is_placeholder_first(fold(written)) == (word in _FIRST)
    assert is_placeholder_last(fold(written)) == (word in _LAST)


def test_no_generated_name_is_a_placeholder() -> None:
    given_names, surnames = _names("given.csv"), _names("surnames.csv")
    assert len(given_names) > 100
    assert len(surnames) > 100
    assert not {n for n in given_names if is_placeholder_first(n)}
    assert not {n for n in surnames if is_placeholder_last(n)}


def test_words_are_folded() -> None:
    assert all(fold(w) == w for w in _FIRST | _LAST)
