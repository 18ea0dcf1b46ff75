"""Decision digests: canonical lines, running digests, chunk claims and the witness head."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taxmatch.errors import LedgerError
from taxmatch.ledger.chain import LEDGER_SCHEMA, LedgerDraft, canonical_bytes, canonical_payload
from taxmatch.ledger.digest import (
    HEAD_SCHEMA,
    DecisionsDigest,
    DecisionValues,
    KeyedHasher,
    chunk_claim,
    chunk_payload,
    decision_line,
    decision_lines,
    head_document,
    json_line,
    keyed_hash,
)

ROW: DecisionValues = (7, "REQ-7", "disclosed", "DISCLOSED", "", "", "DABC", 0.9993, "ab" * 32)

_text = st.text(max_size=20)
_maybe = st.none() | _text
rows = st.tuples(
    st.integers(1, 10**9), _text, _text, _maybe, _text, _text, _maybe,
    st.none() | st.floats(allow_nan=False, allow_infinity=False), _maybe,
)  # fmt: skip


def test_line_is_a_json_array_with_a_newline() -> None:
    line = decision_line(ROW)
    assert line.endswith(b"\n")
    assert json.loads(line) == list(ROW)


def test_integer_score_reads_back_as_float_and_non_finite_is_null() -> None:
    as_int = (*ROW[:7], 1, ROW[8])
    as_float = (*ROW[:7], 1.0, ROW[8])
    assert decision_line(as_int) == decision_line(as_float)
    nan = (*ROW[:7], float("nan"), ROW[8])
    none = (*ROW[:7], None, ROW[8])
    assert decision_line(nan) == decision_line(none)


def test_statute_is_a_tenth_cell_only_when_set() -> None:
    # rows recorded before schema 0005 (statute NULL) keep the line they were digested with
    assert decision_line(ROW, None) == decision_line(ROW)
    with_statute = decision_line(ROW, "8 U.S.C. 1326(a)")
    assert json.loads(with_statute) == [*ROW, "8 U.S.C. 1326(a)"]
    assert with_statute != decision_line(ROW, "8 U.S.C. 1325(a)")
    assert decision_line(ROW, "") != decision_line(ROW)
    a, b = DecisionsDigest(), DecisionsDigest()
    a.add(ROW)
    b.add(ROW, "8 U.S.C. 1326(a)")
    assert a.hexdigest() != b.hexdigest()


@given(row=rows, other=rows)
def test_different_rows_give_different_lines(row: DecisionValues, other: DecisionValues) -> None:
    # The encoding is unambiguous: equal lines only for equal rows (-0.0 and 0.0 differ).
    assert (decision_line(row) == decision_line(other)) == (repr(row) == repr(other))


@given(row=rows)
def test_line_is_ascii_whatever_the_text(row: DecisionValues) -> None:
    decision_line(row).decode("ascii")


def test_digest_tracks_count_range_and_order() -> None:
    a, b = ROW, (8, *ROW[1:])
    forward, backward = DecisionsDigest(), DecisionsDigest()
    for r in (a, b):
        forward.add(r)
    for r in (b, a):
        backward.add(r)
    assert (forward.rows, forward.first_row, forward.last_row) == (2, 7, 8)
    assert forward.hexdigest() == hashlib.sha256(decision_line(a) + decision_line(b)).hexdigest()
    assert forward.hexdigest() != backward.hexdigest()


def test_chunk_payload_round_trips_into_a_claim() -> None:
    digest = DecisionsDigest()
    digest.add(ROW)
    payload = chunk_payload(3, digest, {"DISCLOSED": 1})
    assert payload["count_DISCLOSED"] == 1
    claim = chunk_claim(41, "B1", payload)
    assert (claim.seq, claim.batch_id, claim.chunk) == (41, "B1", 3)
    assert (claim.first_row, claim.last_row, claim.rows) == (7, 7, 1)
    assert claim.sha256 == digest.hexdigest()


def test_empty_chunk_and_bad_claims_are_refused() -> None:
    with pytest.raises(LedgerError, match="at least one row"):
        chunk_payload(1, DecisionsDigest(), {})
    with pytest.raises(LedgerError, match="entry 9"):
        chunk_claim(
            9,
            "B1",
            {"chunk": 1, "first_row": "1", "last_row": 2, "rows": 2, "decisions_sha256": "x"},
        )
    with pytest.raises(LedgerError, match="entry 9"):
        chunk_claim(9, "B1", {"chunk": 1, "first_row": 1, "last_row": 2, "rows": 2})


def test_head_document_names_its_schema() -> None:
    doc = head_document(12, "f" * 64, "2026-11-30T00:00:00.000000Z")
    assert doc == {
        "schema": HEAD_SCHEMA,
        "seq": 12,
        "hash": "f" * 64,
        "utc": "2026-11-30T00:00:00.000000Z",
        "entries": 12,
    }


_any_text = st.text(max_size=30)
_payload = st.dictionaries(
    _any_text,
    st.none() | st.booleans() | st.integers() | _any_text
    | st.floats(allow_nan=False, allow_infinity=False) | st.lists(_any_text, max_size=3),
    max_size=5,
)  # fmt: skip


@given(
    event_type=_any_text.filter(bool),
    actor=_any_text,
    origin=_any_text,
    object_id=_any_text,
    success=st.booleans(),
    payload=_payload,
    seq=st.integers(1, 10**12),
)
def test_entry_bytes_are_the_sorted_json_document(
    event_type: str, actor: str, origin: str, object_id: str, success: bool,
    payload: dict[str, object], seq: int,
) -> None:  # fmt: skip
    # The fast concatenation must hash exactly what json.dumps of the document would.
    draft = LedgerDraft(event_type, actor, origin, success, object_id, payload)  # type: ignore[arg-type]
    recorded_at, prev = "2026-11-30T00:00:00.000000Z", "0" * 64
    document = {
        "schema": LEDGER_SCHEMA,
        "seq": seq,
        "recorded_at": recorded_at,
        "event_type": event_type,
        "actor": actor,
        "origin": origin,
        "success": success,
        "object_id": object_id,
        "payload": json.loads(canonical_payload(payload)),  # type: ignore[arg-type]
        "prev_hash": prev,
    }
    expected = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    assert canonical_bytes(seq, recorded_at, draft, prev) == expected.encode("ascii")


@given(st.lists(st.tuples(rows, _maybe), max_size=6))
def test_decision_lines_are_the_lines_of_each_row(
    items: list[tuple[DecisionValues, str | None]],
) -> None:
    lines = decision_lines(items)
    assert lines.data == b"".join(decision_line(values, statute) for values, statute in items)
    assert lines.rows == len(items)
    one_by_one, at_once = DecisionsDigest(), DecisionsDigest()
    for values, statute in items:
        one_by_one.add(values, statute)
    at_once.add_lines(lines)
    assert at_once.hexdigest() == one_by_one.hexdigest()
    assert (at_once.rows, at_once.first_row, at_once.last_row) == (
        one_by_one.rows,
        one_by_one.first_row,
        one_by_one.last_row,
    )


_cells = st.lists(st.none() | st.booleans() | st.integers() | st.floats() | st.text(), max_size=12)


@given(_cells)
def test_json_line_is_compact_ascii_json(cells: list[object]) -> None:
    expected = json.dumps(cells, ensure_ascii=True, separators=(",", ":")) + "\n"
    assert json_line(cells) == expected.encode("ascii")


@given(st.binary(min_size=16, max_size=64), st.lists(st.text(), min_size=1, max_size=8))
def test_keyed_hasher_is_the_hmac_of_the_values_as_a_json_array(
    key: bytes, values: list[str]
) -> None:
    message = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
    try:
        data = message.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: neither can hash it
        with pytest.raises(UnicodeEncodeError):
            KeyedHasher(key)(*values)
        return
    expected = hmac.new(key, data, hashlib.sha256).hexdigest()
    hasher = KeyedHasher(key)
    assert hasher(*values) == expected
    assert hasher(*values) == expected  # the keyed state is reused, not consumed
    assert keyed_hash(key, *values) == expected
