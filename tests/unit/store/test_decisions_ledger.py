"""Decisions accounted for by the ledger: chunks recorded atomically, re-hashed by verify;
the request and group counts written beside them (and schema 0012, which adds the latter).

Runs on SQLite and PostgreSQL (``state_url``). Tampering goes through raw SQL, as an
attacker with database access would (decisions have no append-only trigger; the ledger
entry that accounts for them is what makes a change evident).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, inspect, text

from taxmatch.errors import BatchNotFound, LedgerError, StoreError
from taxmatch.ledger.chain import LedgerDraft
from taxmatch.ledger.digest import EVENT_DECISIONS, EVENT_DECISIONS_DISCARDED
from taxmatch.store.accounting import group_counts
from taxmatch.store.decision_rows import cells_of, insert_decisions
from taxmatch.store.state import StateStore, SubjectRow

from .test_state import T0, _alembic, batch, decision

TIN = "912345678"


@contextmanager
def raw(url: str) -> Iterator[Connection]:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def subject(row_number: int, batch_id: str = "B1") -> SubjectRow:
    return SubjectRow(
        f"D-{batch_id}-{row_number}",
        batch_id,
        row_number,
        TIN,
        "8 U.S.C. 1326(a)",
        f"reason {row_number}",
        "street_address;zip",
    )


def record(store: StateStore, batch_id: str, first: int, last: int, chunk: int) -> str:
    rows = [decision(n, batch_id) for n in range(first, last + 1)]
    subjects = [subject(n, batch_id) for n in range(first, last + 1) if n % 2 == 0]
    drafts = [
        LedgerDraft("disclosure", "svc", "cli", True, s.disclosure_id, {"batch_id": batch_id})
        for s in subjects
    ]
    return store.record_decisions(
        batch_id,
        [cells_of(r) for r in rows],
        chunk=chunk,
        subjects=subjects,
        drafts=drafts,
        actor="svc",
        origin="cli",
    )


def filled(store: StateStore) -> None:
    store.create_batch(batch("B1"))
    store.create_batch(batch("B2"))
    record(store, "B1", 1, 6, 1)
    record(store, "B1", 7, 10, 2)
    record(store, "B2", 1, 3, 1)


def entries_of(store: StateStore, event_type: str) -> list[Any]:
    return [e for e in store.iter_ledger() if e.event_type == event_type]


def test_a_chunk_is_recorded_with_its_subjects_and_entries(state_store: StateStore) -> None:
    filled(state_store)
    result = state_store.verify_ledger()
    assert result.ok, result.problem
    assert result.decisions == 13
    chunks = entries_of(state_store, EVENT_DECISIONS)
    assert [
        (
            e.object_id,
            e.payload["chunk"],
            e.payload["first_row"],
            e.payload["last_row"],
            e.payload["rows"],
        )
        for e in chunks
    ] == [("B1", 1, 1, 6, 6), ("B1", 2, 7, 10, 4), ("B2", 1, 1, 3, 3)]
    assert chunks[0].payload["count_DISCLOSED"] == 3
    assert chunks[0].payload["count_REJECTED"] == 3
    # the disclosure entries come before the chunk entry that accounts for them
    seqs = [e.seq for e in state_store.iter_ledger() if e.event_type == "disclosure"]
    assert seqs[:3] == [chunks[0].seq - 3, chunks[0].seq - 2, chunks[0].seq - 1]


def test_no_tin_in_the_ledger(state_store: StateStore) -> None:
    filled(state_store)
    for entry in state_store.iter_ledger():
        assert TIN not in repr(entry)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("request_id", "R-X"),
        ("disposition", "unmatched"),
        ("outcome", "NO_MATCH"),
        ("reason_codes", "R01"),
        ("fields", "zip"),
        ("disclosure_id", "D-99"),
        ("score", 0.5),
        ("person_key", "f" * 64),
        ("statute", "8 U.S.C. 1325(a)"),
        ("statute", None),
    ],
)
def test_a_changed_decision_names_its_batch_and_chunk(
    state_store: StateStore, state_url: str, column: str, value: object
) -> None:
    filled(state_store)
    chunk2 = entries_of(state_store, EVENT_DECISIONS)[1]
    with raw(state_url) as conn:
        conn.execute(
            text(f"UPDATE decisions SET {column} = :v WHERE batch_id = 'B1' AND row_number = 8"),
            {"v": value},
        )
    result = state_store.verify_ledger()
    assert not result.ok
    assert result.first_bad_seq == chunk2.seq
    assert result.problem == "decisions of batch B1 chunk 2 (rows 7-10) do not match the ledger"


def test_a_statute_set_on_a_row_recorded_without_one_is_caught(
    state_store: StateStore, state_url: str
) -> None:
    # Row 3 has no statute: its line is the pre-0005 one, and it verifies as such.
    filled(state_store)
    assert state_store.verify_ledger().ok
    first = entries_of(state_store, EVENT_DECISIONS)[0]
    with raw(state_url) as conn:
        conn.execute(
            text(
                "UPDATE decisions SET statute = '8 U.S.C. 1326(a)' "
                "WHERE batch_id = 'B1' AND row_number = 3"
            )
        )
    result = state_store.verify_ledger()
    assert (result.ok, result.first_bad_seq) == (False, first.seq)
    assert "8 U.S.C." not in (result.problem or "")


def test_a_deleted_decision_is_caught(state_store: StateStore, state_url: str) -> None:
    filled(state_store)
    first = entries_of(state_store, EVENT_DECISIONS)[0]
    with raw(state_url) as conn:
        conn.execute(text("DELETE FROM decisions WHERE batch_id = 'B1' AND row_number = 3"))
    result = state_store.verify_ledger()
    assert (result.ok, result.first_bad_seq) == (False, first.seq)
    assert "batch B1 chunk 1" in (result.problem or "")


def test_a_whole_deleted_batch_of_decisions_is_caught(
    state_store: StateStore, state_url: str
) -> None:
    filled(state_store)
    b2 = entries_of(state_store, EVENT_DECISIONS)[2]
    with raw(state_url) as conn:
        conn.execute(text("DELETE FROM decisions WHERE batch_id = 'B2'"))
    result = state_store.verify_ledger()
    assert (result.ok, result.first_bad_seq) == (False, b2.seq)


@pytest.mark.parametrize("row_number", [0, 11, 500])
def test_an_inserted_decision_is_caught(
    state_store: StateStore, state_url: str, row_number: int
) -> None:
    filled(state_store)
    with raw(state_url) as conn:
        conn.execute(
            text(
                "INSERT INTO decisions SELECT batch_id, :n, request_id, disposition, outcome, "
                "reason_codes, fields, disclosure_id, score, person_key, statute FROM decisions "
                "WHERE batch_id = 'B2' AND row_number = 2"
            ),
            {"n": row_number},
        )
    result = state_store.verify_ledger()
    assert (result.ok, result.first_bad_seq) == (False, None)
    assert result.problem == (
        f"decision row {row_number} of batch B2 is not accounted for by any ledger entry"
    )


def test_rows_written_outside_the_ledger_are_not_accounted_for(state_store: StateStore) -> None:
    state_store.create_batch(batch("B1"))
    with state_store.writing("test") as conn:  # not by record_decisions: no ledger entry
        insert_decisions(conn, [cells_of(decision(1))])
    result = state_store.verify_ledger()
    assert not result.ok
    assert "decision row 1 of batch B1 is not accounted for" in (result.problem or "")


def test_discarded_decisions_are_recorded_and_forgotten(state_store: StateStore) -> None:
    filled(state_store)
    state_store.delete_decisions("B1", actor="svc", origin="cli")
    (discard,) = entries_of(state_store, EVENT_DECISIONS_DISCARDED)
    assert (discard.object_id, discard.payload, discard.actor) == ("B1", {"rows": 10}, "svc")
    assert state_store.verify_ledger().ok
    # the batch runs again: the same rows, new claims; no duplicate subjects
    record(state_store, "B1", 1, 10, 1)
    result = state_store.verify_ledger()
    assert (result.ok, result.decisions) == (True, 13)
    with raw_subjects(state_store) as count:
        assert count == 5 + 1
    # deleting nothing writes nothing
    state_store.create_batch(batch("B3"))
    state_store.delete_decisions("B3")
    assert len(entries_of(state_store, EVENT_DECISIONS_DISCARDED)) == 1


@contextmanager
def raw_subjects(store: StateStore) -> Iterator[int]:
    with store.reading("test") as conn:
        yield int(conn.execute(text("SELECT count(*) FROM disclosure_subjects")).scalar_one())


def test_re_recording_a_chunk_keeps_one_row_and_one_subject(state_store: StateStore) -> None:
    filled(state_store)
    record(state_store, "B1", 7, 10, 2)  # a retried chunk: same rows, same claim range
    assert state_store.verify_ledger().ok
    assert len(list(state_store.iter_decisions("B1"))) == 10
    with raw_subjects(state_store) as count:
        assert count == 6


def test_a_chunk_that_differs_from_what_is_stored_is_caught(state_store: StateStore) -> None:
    filled(state_store)
    rows = [replace(decision(n), score=0.1) if n == 8 else decision(n) for n in range(7, 11)]
    state_store.record_decisions(
        "B1", [cells_of(r) for r in rows], chunk=2
    )  # stored rows are kept as they were
    assert not state_store.verify_ledger().ok


def test_a_failed_chunk_writes_nothing(state_store: StateStore) -> None:
    state_store.create_batch(batch("B1"))
    head = state_store.ledger_head()
    bad = replace(subject(2), tin="12-345")
    with pytest.raises(StoreError, match="D-B1-2: tin must be 9 digits"):
        state_store.record_decisions("B1", [cells_of(decision(2))], chunk=1, subjects=[bad])
    assert state_store.ledger_head() == head
    assert len(list(state_store.iter_decisions("B1"))) == 0
    with pytest.raises(BatchNotFound):
        state_store.record_decisions("NOPE", [cells_of(decision(1, "NOPE"))], chunk=1)
    with pytest.raises(StoreError, match="at least one row"):
        state_store.record_decisions("B1", [], chunk=1)
    assert state_store.verify_ledger().ok


def test_malformed_chunk_entry_is_reported(state_store: StateStore) -> None:
    state_store.create_batch(batch("B1"))
    state_store.append_ledger(
        [LedgerDraft(EVENT_DECISIONS, "svc", "cli", True, "B1", {"chunk": 1, "rows": "many"})]
    )
    result = state_store.verify_ledger()
    # entry 1 is the batch's ``batch_received`` (create_batch records it, binding the row)
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 2, "entry is malformed")


def test_decisions_recorded_row_count_is_checked(state_store: StateStore, state_url: str) -> None:
    filled(state_store)
    state_store.append_ledger(
        [LedgerDraft("decisions_recorded", "svc", "cli", True, "B2", {"rows": 4})]
    )
    result = state_store.verify_ledger()
    assert not result.ok
    assert result.problem == "batch B2: the number of decision rows differs from the ledger"


def test_config_changes_are_recorded_once_per_identity(state_store: StateStore) -> None:
    assert state_store.record_config("policy", "p1", actor="ana", origin="cli@h", version="1")
    assert not state_store.record_config("policy", "p1", actor="ana", origin="cli@h", version="1")
    assert state_store.record_config("model", "m1", actor="ana", origin="cli@h")
    assert state_store.record_config("policy", "p2", actor="bo", origin="api", version="2")
    assert state_store.record_config("policy", "p1", actor="bo", origin="api", version="1")
    changes = [
        (e.object_id, e.actor, e.payload["identity"], e.payload["previous_identity"])
        for e in entries_of(state_store, "config_changed")
    ]
    assert changes == [
        ("policy", "ana", "p1", None),
        ("model", "ana", "m1", None),
        ("policy", "bo", "p2", "p1"),
        ("policy", "bo", "p1", "p2"),
    ]
    assert state_store.verify_ledger().ok


def test_request_counts_are_replaced_per_batch(state_store: StateStore) -> None:
    state_store.create_batch(batch("B1"))
    state_store.write_request_counts("B1", {"8 U.S.C. 1326(a)": 3, "": 1})
    state_store.write_request_counts("B1", {"8 U.S.C. 1326(a)": 2})
    with state_store.reading("test") as conn:
        rows = conn.execute(text("SELECT statute, requests FROM request_counts")).all()
    assert [tuple(r) for r in rows] == [("8 U.S.C. 1326(a)", 2)]
    with pytest.raises(LedgerError):
        state_store.append_ledger([LedgerDraft("", "svc", "cli", True, "B1")])


def test_group_counts_are_replaced_per_batch_and_bound(state_store: StateStore) -> None:
    state_store.create_batch(batch("B1"))
    state_store.create_batch(batch("B2", agency="HSI"))
    first = {"itin": {"DISCLOSED": 3, "REJECTED": 1, "flagged": 0}, "mover": {"NO_MATCH": 2}}
    state_store.write_group_counts("B1", first, actor="svc", origin="cli")
    again = {"itin": {"DISCLOSED": 2, "probe_disclosed": 4, "flagged": 1}, "po_box": {}}
    state_store.write_group_counts("B1", again, actor="svc", origin="cli")
    state_store.write_group_counts("B2", {"itin": {"DISCLOSED": 5}}, actor="svc", origin="cli")
    with state_store.reading("test") as conn:
        rows = conn.execute(
            text("SELECT grp, measure, n FROM group_counts WHERE batch_id = 'B1' ORDER BY 1, 2")
        ).all()
    assert [tuple(r) for r in rows] == [
        ("itin", "DISCLOSED", 2),
        ("itin", "flagged", 1),
        ("itin", "probe_disclosed", 4),
    ]
    year = batch().created_at.year
    assert group_counts(state_store, year) == {
        "itin": {"DISCLOSED": 7, "flagged": 1, "probe_disclosed": 4}
    }
    assert group_counts(state_store, year, "HSI") == {"itin": {"DISCLOSED": 5}}
    assert group_counts(state_store, year - 1) == {}
    entries = [
        (e.object_id, e.actor, e.payload) for e in entries_of(state_store, "coverage_counted")
    ]
    assert [(o, a, p["groups"], p["counts"]) for o, a, p in entries] == [
        ("B1", "svc", 2, 3),
        ("B1", "svc", 1, 3),
        ("B2", "svc", 1, 1),
    ]
    assert entries[1][2]["bound_group_counts_rows"] == 3
    assert state_store.verify_ledger().ok
    state_store.delete_decisions("B1")  # a batch that runs again: its counts go too
    assert group_counts(state_store, year) == {"itin": {"DISCLOSED": 5}}
    assert state_store.verify_ledger().ok


@pytest.mark.parametrize(
    "counts",
    [{"nobody": {"DISCLOSED": 1}}, {"itin": {"SECRET": 1}}, {"itin": {"DISCLOSED": -1}}],
)
def test_group_counts_of_unknown_groups_are_refused(
    state_store: StateStore, counts: dict[str, dict[str, int]]
) -> None:
    state_store.create_batch(batch("B1"))
    with pytest.raises(StoreError) as info:
        state_store.write_group_counts("B1", counts, actor="svc", origin="cli")
    assert str(info.value).endswith(": group counts must be non-negative counts of known groups")
    with pytest.raises(BatchNotFound):
        state_store.write_group_counts("B9", {}, actor="svc", origin="cli")
    assert entries_of(state_store, "coverage_counted") == []


def test_0012_upgrades_a_store_at_0011_and_records_counts_a_downgrade_dropped(
    state_url: str,
) -> None:
    with StateStore(state_url) as store:
        for name in ("B1", "B2"):
            store.create_batch(batch(name))
            store.write_request_counts(name, {"": 2})
        store.write_group_counts("B1", {"ssn": {"DISCLOSED": 2}}, actor="svc", origin="cli")
    with raw(state_url) as conn:
        _alembic(conn, "downgrade", "0011")
        assert "group_counts" not in inspect(conn).get_table_names()
    with StateStore(state_url) as store:  # upgrades 0011 -> 0012 on open
        dropped = entries_of(store, "coverage_dropped")
        assert [(e.object_id, e.payload["bound_group_counts_rows"]) for e in dropped] == [("B1", 0)]
        assert group_counts(store, T0.year) == {}
        assert store.verify_ledger().ok
        store.write_group_counts("B2", {"ssn": {"NO_MATCH": 2}}, actor="svc", origin="cli")
        assert group_counts(store, T0.year) == {"ssn": {"NO_MATCH": 2}}
        assert store.verify_ledger().ok
    with raw(state_url) as conn:
        _alembic(conn, "upgrade", "head")  # at head: nothing recorded again
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0013"
    with StateStore(state_url) as store:
        assert len(entries_of(store, "coverage_dropped")) == 1
