"""TIN kinds and the TINs a keying slip away (``tin_neighbours``)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from taxmatch.normalise.tin import TIN_DIGITS, tin_neighbours

tins = st.from_regex(r"[0-9]{9}", fullmatch=True)


@given(tins)
def test_a_nine_digit_tin_has_only_nine_digit_neighbours(tin: str) -> None:
    assert all(len(n) == TIN_DIGITS and n.isdigit() for n in tin_neighbours(tin))
    assert tin not in tin_neighbours(tin)


@given(tins, st.integers(min_value=0, max_value=8), st.sampled_from("OoZ|lSG"))
def test_a_tin_keyed_with_a_character_that_is_no_digit_reaches_its_tin(
    tin: str, at: int, char: str
) -> None:
    # The file keeps a TIN's digits only: "3594O6614" is read "35946614".
    keyed = tin[:at] + char + tin[at + 1 :]
    read = "".join(c for c in keyed if c.isdigit())
    assert tin in tin_neighbours(read)


@given(tins, st.integers(min_value=0, max_value=9), st.sampled_from("0123456789"))
def test_a_tin_keyed_with_a_digit_too_many_reaches_its_tin(tin: str, at: int, d: str) -> None:
    assert tin in tin_neighbours(tin[:at] + d + tin[at:])


@given(tins)
def test_a_short_tin_reaches_only_tins_it_is_one_digit_short_of(tin: str) -> None:
    short = tin[:4] + tin[5:]
    nine = {n for n in tin_neighbours(short) if len(n) == TIN_DIGITS}
    assert tin in nine
    assert all(any(n[:i] + n[i + 1 :] == short for i in range(TIN_DIGITS)) for n in nine)


def test_seven_digits_are_too_far_from_any_tin() -> None:
    assert all(len(n) == TIN_DIGITS - 2 for n in tin_neighbours("1234567"))
