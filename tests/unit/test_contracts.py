"""Leaf contracts: reason-code masks, dispositions and the envelope's bounds."""

from __future__ import annotations

import json
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from taxmatch.contracts import (
    ENVELOPE_MAX_BYTES,
    MAX_RECIPIENT_OFFICERS,
    Disposition,
    Envelope,
    Official,
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


def _envelope(officers: int) -> Envelope:
    return Envelope(
        requesting_agency="ICE",
        requesting_official=Official(name="Synthetic Official", title="Director"),
        request_letter_id="ICE-LTR-1",
        signed_on=date(2026, 11, 30),
        recipient_officers=tuple(f"OFC-{i:07d}" for i in range(officers)),
        attestation="attested",
    )


def test_an_envelope_names_officers_enough_for_a_national_batch() -> None:
    # 7.3 M rows at the default policy's 50 records per officer need 146 000 officers.
    biggest = _envelope(MAX_RECIPIENT_OFFICERS)
    assert MAX_RECIPIENT_OFFICERS >= 7_300_000 // 50
    assert len(biggest.model_dump_json()) < ENVELOPE_MAX_BYTES
    assert len(json.dumps(biggest.model_dump(mode="json"), indent=2)) < ENVELOPE_MAX_BYTES
    with pytest.raises(ValidationError):
        _envelope(MAX_RECIPIENT_OFFICERS + 1)
