"""The stored form of ``disclosure_subjects`` rows: ``insert_subjects`` stores exactly what
SQLAlchemy's ``insert()`` of the same parameters stores (the seal's bulk path), on SQLite
and PostgreSQL; and ``stream`` binds a just-sealed row's plaintext only when the stored
value is the one sealed there."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, text

from taxmatch.store.ledger_bound import DISCLOSURES, stream
from taxmatch.store.models import SubjectRow, disclosure_subjects
from taxmatch.store.state import StateStore
from taxmatch.store.subjects import insert_subjects, subject_params

from .test_state import batch

TIN = "912345678"
MOMENTS = (datetime(2026, 12, 1, 8, 30, 5, 123456, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))


def subject(n: int) -> SubjectRow:
    return SubjectRow(
        f"D-{n}", "B1", n, TIN, "8 U.S.C. 1326(a)", f"reason {n}", "zip", "s", "k", "h"
    )


def test_bulk_insert_stores_what_insert_stores(state_store: StateStore) -> None:
    state_store.create_batch(batch("B1"))
    keys = state_store.keys
    with state_store.writing("test") as conn:
        for i, moment in enumerate(MOMENTS):
            one = subject_params("B1", subject(2 * i + 1), moment, keys)
            many = subject_params("B1", subject(2 * i + 2), moment, keys)
            conn.execute(disclosure_subjects.insert(), [one])
            insert_subjects(conn, [many])
        insert_subjects(conn, [])
    c = disclosure_subjects.c
    with state_store.reading("test") as conn:
        read = conn.execute(select(disclosure_subjects).order_by(c.row_number)).all()
        stored = conn.execute(
            text("SELECT CAST(disclosed_at AS TEXT) FROM disclosure_subjects ORDER BY row_number")
        ).scalars()
        as_text = list(stored)
    assert len(read) == 4
    for i in (0, 2):
        ours, theirs = read[i]._asdict(), read[i + 1]._asdict()
        assert ours["disclosed_at"] == theirs["disclosed_at"] == MOMENTS[i // 2]
        assert as_text[i] == as_text[i + 1]  # the same text: the same stored value
        different = {"disclosure_id", "row_number", "tin", "relevance"}
        assert {k: v for k, v in ours.items() if k not in different} == {
            k: v for k, v in theirs.items() if k not in different
        }


def test_stream_takes_the_plaintext_sealed_only_for_the_value_sealed(
    state_store: StateStore,
) -> None:
    state_store.create_batch(batch("B1"))
    keys = state_store.keys
    params = subject_params("B1", subject(1), MOMENTS[0], keys)
    with state_store.writing("test") as conn:
        insert_subjects(conn, [params])
        where = disclosure_subjects.c.batch_id == "B1"
        (opened,) = stream(conn, keys, DISCLOSURES, where)
        assert (opened["tin"], opened["relevance"]) == (TIN, "reason 1")
        known = {
            ("D-1", "tin"): (str(params["tin"]), "as sealed"),
            ("D-1", "relevance"): ("tm1:another:value", "not what is stored"),
        }
        (row,) = stream(conn, keys, DISCLOSURES, where, sealed=known)
        # the stored TIN is the value sealed: its plaintext is taken as given; the stored
        # reason is not the value the map names: it is decrypted
        assert (row["tin"], row["relevance"]) == ("as sealed", "reason 1")
        assert {k: v for k, v in row.items() if k not in ("tin", "relevance")} == {
            k: v for k, v in opened.items() if k not in ("tin", "relevance")
        }
