"""Folding text to comparable ASCII."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taxmatch.normalise import text as text_module
from taxmatch.normalise.text import fold, fold_keeping, fold_rare, relevance_key, word_count


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


def reference_fold(text: str, keep: str = "") -> str:
    """``fold_keeping`` written character by character over the whole text: the definition
    the module's run-by-run, byte-table form must equal."""
    table = {
        ord(ch): ch.upper() if ch.upper() in text_module._KEEP or ch in keep else " "
        for ch in map(chr, range(128))
    } | dict.fromkeys(map(ord, text_module._APOSTROPHES))
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text.translate(text_module._TRANSLIT_TABLE))
        text = text_module._COMBINING.sub("", text)
        text = "".join(c for c in text if c.isascii() or not unicodedata.combining(c))
        text = text.encode("ascii", "replace").decode("ascii").replace("?", " ")
    return " ".join(text.translate(table).split())


_MIXED = st.text(
    st.sampled_from("aZ09 -#/.?'’‘ʼʻ`´ØøÆæßıéüÅ\u0301\u0308\u034f§½ﬁＦ北\udc80\x00\t\n\x85\u00a0")
    | st.characters(codec="utf-8"),
    max_size=30,
)


@settings(max_examples=500, deadline=None)
@given(_MIXED, st.sampled_from(["", "#/-.", "#/"]))
def test_fold_keeping_equals_its_character_by_character_definition(text: str, keep: str) -> None:
    assert fold_keeping(text, keep) == reference_fold(text, keep)
    if not keep:
        assert fold(text) == reference_fold(text)


@settings(max_examples=300, deadline=None)
@given(_MIXED)
def test_word_count_and_relevance_key_follow_fold(text: str) -> None:
    folded = reference_fold(text)
    assert word_count(text) == sum(1 for word in folded.split() if len(word) >= 2)
    assert relevance_key(text) == folded.replace(" ", "")


@settings(max_examples=200, deadline=None)
@given(_MIXED)
def test_fold_rare_is_fold(text: str) -> None:
    assert fold_rare(text) == fold(text)
