"""Statute citations normalise to one spelling."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taxmatch.normalise.statutes import normalise_statute, statute_title


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("8 U.S.C. 1253(a)(1)", "8 U.S.C. 1253(a)(1)"),
        ("8 USC § 1253(a)(1)", "8 U.S.C. 1253(a)(1)"),
        ("8 u.s.c. §1253 (a) (1)", "8 U.S.C. 1253(a)(1)"),
        ("8 U.S. Code § 1326(a)", "8 U.S.C. 1326(a)"),
        ("18 USC 1546(A)", "18 U.S.C. 1546(a)"),
        ("26 U.S.C. 7201", "26 U.S.C. 7201"),
    ],
)
def test_spellings(raw: str, canonical: str) -> None:
    assert normalise_statute(raw) == canonical


@pytest.mark.parametrize("raw", ["", "civil penalty", "8 U.S.C.", "U.S.C. 1253", "section 8"])
def test_not_citations(raw: str) -> None:
    assert normalise_statute(raw) is None


@given(st.text(max_size=30))
def test_total_and_idempotent(raw: str) -> None:
    once = normalise_statute(raw)
    if once is not None:
        assert normalise_statute(once) == once
        assert statute_title(once) >= 0
