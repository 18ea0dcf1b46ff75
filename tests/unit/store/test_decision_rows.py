"""Decision rows in bulk: the one check, digest lines equal to the row-by-row digest, and
a bulk insert that keeps rows already stored (SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from taxmatch.errors import StoreError
from taxmatch.ledger.digest import DecisionsDigest
from taxmatch.store.decision_rows import (
    FIELDS,
    cells_of,
    checked,
    insert_decisions,
    lines_of,
)
from taxmatch.store.ledger_store import DIGESTED
from taxmatch.store.state import StateStore

from .test_state import batch, decision


def test_cells_follow_the_fields() -> None:
    row = decision(2)
    assert cells_of(row) == tuple(getattr(row, name) for name in FIELDS)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"batch_id": "B2"}, "decision row 2 belongs to another batch"),
        ({"disposition": "shredded"}, "decision row 2: unknown disposition"),
        ({"outcome": "MAYBE"}, "decision row 2: unknown outcome"),
    ],
)
def test_checked_refuses_a_row_naming_it(change: dict[str, str], message: str) -> None:
    with pytest.raises(StoreError, match=message):
        checked("B1", cells_of(replace(decision(2), **change)))  # type: ignore[arg-type]


def test_lines_digest_as_the_rows_do() -> None:
    rows = [decision(n) for n in range(1, 6)]
    by_rows, by_lines = DecisionsDigest(), DecisionsDigest()
    for r in rows:  # one row at a time, as ``ledger verify`` adds them
        by_rows.add(tuple(getattr(r, name) for name in DIGESTED), r.statute)
    by_lines.add_lines(lines_of([cells_of(r) for r in rows]))
    assert by_lines.hexdigest() == by_rows.hexdigest()
    assert (by_lines.rows, by_lines.first_row, by_lines.last_row) == (5, 1, 5)


def test_insert_keeps_stored_rows_and_binds_decimal_scores(state_store: StateStore) -> None:
    state_store.create_batch(batch("B1"))
    rows = [cells_of(replace(decision(n), score=Decimal("0.25"))) for n in range(1, 4)]
    with state_store.writing("test") as conn:  # one insert a transaction (PostgreSQL's COPY)
        assert insert_decisions(conn, rows[:2]) == 2
    with state_store.writing("test") as conn:
        assert insert_decisions(conn, rows) == 1
    stored = list(state_store.iter_decisions("B1"))
    assert [r.row_number for r in stored] == [1, 2, 3]
    assert {r.score for r in stored} == {0.25}
