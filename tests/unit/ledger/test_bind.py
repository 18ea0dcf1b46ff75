"""Keyed row digests and the head signature (``taxmatch.ledger.bind``); the witness reader."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taxmatch.errors import LedgerError
from taxmatch.ledger.bind import (
    RowsDigest,
    bound_claim,
    bound_fields,
    bound_line,
    claims_match,
    head_signature,
    signature_holds,
    with_fields,
)
from taxmatch.ledger.digest import head_document, read_head_document

KEY = b"k" * 32
HEAD = "a" * 64


def test_a_line_is_canonical_json_with_utc_times() -> None:
    moment = datetime(2026, 11, 30, 13, 0, 0, 12, tzinfo=timezone(timedelta(hours=1)))
    line = bound_line(["B1", 7, True, None, moment, date(2026, 11, 30), "é"])
    assert line == b'["B1",7,true,null,"2026-11-30T12:00:00.000012Z","2026-11-30","\\u00e9"]\n'
    # a naive time (how SQLite returns one) is read as UTC
    assert bound_line([moment.astimezone(UTC).replace(tzinfo=None)]) == bound_line([moment])
    with pytest.raises(LedgerError, match="unsupported type"):
        bound_line([1.5])  # type: ignore[list-item]


@given(
    st.lists(st.lists(st.text(max_size=8), max_size=3), min_size=1, max_size=4),
    st.integers(0, 3),
    st.text(min_size=1, max_size=3),
)
def test_any_change_to_the_rows_changes_the_digest(
    rows: list[list[str]], pick: int, extra: str
) -> None:
    def digest(data: list[list[str]]) -> RowsDigest:
        d = RowsDigest(KEY)
        for row in data:
            d.add(row)
        return d

    original = digest(rows)
    claim = bound_claim(4, "reviews", bound_fields("reviews", original))
    assert claim is not None
    assert claims_match(claim, digest(rows))
    changed = [list(r) for r in rows]
    changed[pick % len(rows)].append(extra)
    assert not claims_match(claim, digest(changed))
    assert not claims_match(claim, digest(rows[:-1]))
    assert not claims_match(claim, digest([*rows, rows[0]]))


def test_the_digest_is_keyed() -> None:
    one, other = RowsDigest(KEY), RowsDigest(b"q" * 32)
    one.add(["912345678"])
    other.add(["912345678"])
    assert one.hexdigest() != other.hexdigest()
    with pytest.raises(LedgerError, match="key"):
        RowsDigest(b"short")


def test_claims_are_read_from_the_payload() -> None:
    assert bound_claim(3, "reviews", {"batch_id": "B1"}) is None
    with pytest.raises(LedgerError, match="entry 3"):
        bound_claim(3, "reviews", {"bound_reviews_rows": "1", "bound_reviews_sha256": "x"})
    with pytest.raises(LedgerError, match="already has field"):
        with_fields({"bound_reviews_rows": 1}, {"bound_reviews_rows": 2})


def test_the_head_signature_needs_the_key() -> None:
    signature = head_signature(KEY, 12, HEAD)
    assert signature_holds(KEY, 12, HEAD, signature)
    assert not signature_holds(b"q" * 32, 12, HEAD, signature)
    assert not signature_holds(KEY, 13, HEAD, signature)
    assert not signature_holds(KEY, 12, "b" * 64, signature)
    assert not signature_holds(KEY, 12, HEAD, None)
    assert signature_holds(KEY, 0, "0" * 64, None)  # the empty ledger is not signed


def test_the_witness_document_round_trips_and_unknown_versions_are_refused() -> None:
    doc = head_document(12, HEAD, "2026-12-06T00:00:00.000000Z")
    assert read_head_document(doc) == (12, HEAD)
    for bad, field in [
        ({**doc, "schema": "taxmatch/ledger-head/v2"}, "schema"),
        ({k: v for k, v in doc.items() if k != "schema"}, "schema"),
        ({**doc, "seq": "12"}, "seq"),
        ({**doc, "seq": -1}, "seq"),
        ({**doc, "hash": HEAD.upper()}, "hash"),
        ({**doc, "hash": HEAD[:-1]}, "hash"),
    ]:
        with pytest.raises(LedgerError, match=f"field '{field}'"):
            read_head_document(bad)
    with pytest.raises(LedgerError, match="JSON object"):
        read_head_document([12, HEAD])
