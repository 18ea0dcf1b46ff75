"""Leaf contracts: reason-code masks and dispositions."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from taxmatch.contracts import (
    Disposition,
    Outcome,
    ReasonCode,
    codes_to_mask,
    disposition_of,
    format_codes,
    mask_to_codes,
)


@given(st.sets(st.sampled_from(list(ReasonCode))))
def test_mask_round_trip(codes: set[ReasonCode]) -> None:
    mask = codes_to_mask(codes)
    assert set(mask_to_codes(mask)) == codes
    assert (mask == 0) == (not codes)
    assert format_codes(mask) == ";".join(sorted(c.value for c in codes))


def test_every_outcome_has_one_disposition() -> None:
    assert disposition_of(Outcome.DISCLOSED) is Disposition.DISCLOSED
    assert disposition_of(Outcome.REVIEW) is Disposition.PENDING
    others = set(Outcome) - {Outcome.DISCLOSED, Outcome.REVIEW}
    assert {disposition_of(o) for o in others} == {Disposition.UNMATCHED}
