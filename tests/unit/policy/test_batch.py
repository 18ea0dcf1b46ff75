"""Whole-batch rules: duplicates (R10), boilerplate relevance (R06), officer cap (R08)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from taxmatch.contracts import ReasonCode
from taxmatch.policy.batch import (
    BatchCounts,
    batch_codes,
    person_case_key,
    relevance_digest,
)

R = ReasonCode


def judge(
    id_rank: int = 1,
    pc: int = 1,
    rel: int = 1,
    officer: int = 1,
    rows: int = 100,
    share: float = 0.05,
    cap: int = 50,
) -> set[ReasonCode]:
    codes, _ = batch_codes(
        BatchCounts(id_rank, pc, rel, officer),
        input_rows=rows,
        max_identical_share=share,
        cap=cap,
    )
    return set(codes)


def test_first_of_duplicates_stays_valid() -> None:
    assert judge(id_rank=1) == set()
    assert judge(id_rank=2) == {R.R10}
    assert judge(pc=3) == {R.R10}
    assert judge(id_rank=0, pc=0) == set()


def test_boilerplate_relevance() -> None:
    assert judge(rel=6, rows=100) == {R.R06}  # 6 % > 5 %
    assert judge(rel=5, rows=100) == set()  # exactly 5 % is allowed
    assert judge(rel=1, rows=1) == set()  # a lone record is never boilerplate
    assert judge(rel=2, rows=10) == {R.R06}


def test_officer_cap_rejects_rows_past_the_cap() -> None:
    """Anti-pattern 3: one attesting officer for more than a million investigations."""
    assert judge(officer=50) == set()
    assert judge(officer=51) == {R.R08}
    assert judge(officer=1_000_000) == {R.R08}


def test_keys_fold_case_space_and_punctuation() -> None:
    a = {"first_name": "Maria", "last_name": "Garcia", "case_number": "C-1", "date_of_birth": ""}
    b = {"first_name": " MARIA ", "last_name": "garcia", "case_number": "c 1", "date_of_birth": ""}
    assert person_case_key(a) == person_case_key(b)
    assert person_case_key({**a, "case_number": "C-2"}) != person_case_key(a)
    assert person_case_key({**a, "first_name": ""}) is None
    r1 = {"relevance": "Needed for  the case."}
    r2 = {"relevance": "needed FOR the case"}
    assert relevance_digest(r1) == relevance_digest(r2)
    assert relevance_digest({"relevance": ""}) is None


@given(
    st.integers(0, 10),
    st.integers(0, 10),
    st.integers(0, 200),
    st.integers(1, 200),
    st.integers(1, 200),
)
def test_codes_are_monotone_in_counts(i: int, p: int, rel: int, off: int, rows: int) -> None:
    before = judge(i, p, rel, off, rows)
    after = judge(i + 1, p + 1, rel + 1, off + 1, rows)
    assert before <= after
