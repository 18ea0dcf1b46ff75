"""Folding text to comparable ASCII."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taxmatch.normalise.text import fold, fold_keeping, relevance_key, word_count


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("", ""),
        ("   ", ""),
        ("O'Brien", "OBRIEN"),
        ("O\u2019Brien", "OBRIEN"),
        ("García-López", "GARCIA LOPEZ"),
        ("Müller", "MULLER"),
        ("Øvergård", "OVERGARD"),
        ("Straße", "STRASSE"),
        ("N/A", "N A"),
        ("  123   Main\tSt.\n", "123 MAIN ST"),
        ("Ｆｕｌｌｗｉｄｔｈ １２", "FULLWIDTH 12"),
        ("Don't Care 12345", "DONT CARE 12345"),
        ("--?--", ""),
        ("北京", ""),
    ],
)
def test_fold_examples(raw: str, folded: str) -> None:
    assert fold(raw) == folded


def test_fold_keeping_keeps_only_the_given_punctuation() -> None:
    assert fold_keeping("123 1/2 Main St #4", "#/") == "123 1/2 MAIN ST #4"
    assert fold_keeping("a-b.c", "-") == "A-B C"


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("", 0),
        ("a b c", 0),
        ("Subject is a target of case 12", 6),
        ("Re-entry after removal; 8 U.S.C. 1326", 5),
    ],
)
def test_word_count(text: str, count: int) -> None:
    assert word_count(text) == count


def test_relevance_key_ignores_case_space_and_punctuation() -> None:
    a = "Subject re-entered after removal, see case 12."
    b = "SUBJECT  REENTERED after Removal -- see case12"
    assert relevance_key(a) == relevance_key(b)
    assert relevance_key(a) != relevance_key("Subject re-entered after removal, see case 13")


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_fold_is_idempotent_and_ascii(text: str) -> None:
    folded = fold(text)
    assert fold(folded) == folded
    assert all(c.isascii() and (c.isupper() or c.isdigit() or c == " ") for c in folded)
    assert folded == folded.strip()
    assert "  " not in folded


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_text_functions_are_total(text: str) -> None:
    assert word_count(text) >= 0
    assert relevance_key(relevance_key(text)) == relevance_key(text)
    assert fold_keeping(fold_keeping(text, "#/-"), "#/-") == fold_keeping(text, "#/-")
