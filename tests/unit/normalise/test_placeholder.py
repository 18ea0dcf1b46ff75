"""Placeholder text in an address field (taxmatch.normalise.placeholder)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taxmatch.normalise.placeholder import is_placeholder
from taxmatch.normalise.text import fold


def _check(raw: str, *, repeated: bool = True) -> bool:
    return is_placeholder(raw, fold(raw), repeated=repeated)


@pytest.mark.parametrize(
    "raw",
    ["UNKNOWN", "n/a", "123 N/A", "Dont care 12345", "not provided", "XXXX", "X", "0000", "--"],
)
def test_placeholder_text_is_recognised(raw: str) -> None:
    assert _check(raw)


@pytest.mark.parametrize("raw", ["123 Main St", "Springfield", "APT 4", "IL", "NAX"])
def test_real_values_are_not_placeholders(raw: str) -> None:
    assert not _check(raw)


def test_a_repeated_character_counts_only_where_asked() -> None:
    assert _check("0000")
    assert not _check("0000", repeated=False)  # a ZIP or unit of one repeated digit


@given(st.text(max_size=30), st.text(max_size=30))
def test_a_question_mark_anywhere_is_a_placeholder(before: str, after: str) -> None:
    raw = f"{before}?{after}"
    assert _check(raw)
    assert _check(raw, repeated=False)


@given(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWYZ0123456789"), st.integers(3, 12))
def test_one_character_repeated_is_a_placeholder(char: str, times: int) -> None:
    assert _check(char * times)
