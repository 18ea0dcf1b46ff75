"""``usps.street_spelling``: one spelling of a street name's words, applied word by word."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from taxmatch.normalise.usps import STREET_SAME_WORDS, street_spelling

_WORDS = st.lists(
    st.sampled_from(["12", "SAINT", "ST", "FORT", "FT", "FOURTH", "4TH", "MAIN", "MOUNT"])
)


@given(_WORDS)
def test_street_spelling_is_idempotent(words: list[str]) -> None:
    once = street_spelling(" ".join(words))
    assert street_spelling(once) == once


@given(_WORDS)
def test_each_word_is_spelt_one_way(words: list[str]) -> None:
    spelt = street_spelling(" ".join(words)).split()
    assert len(spelt) == len(words)
    assert spelt == [STREET_SAME_WORDS.get(w, w) for w in words]


def test_saint_and_st_are_one_street() -> None:
    assert street_spelling("SAINT PAUL ST") == street_spelling("ST PAUL ST")
    assert street_spelling("FOURTH AVE") == street_spelling("4TH AVE")
