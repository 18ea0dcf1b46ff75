"""Sealing a batch: its package_delivered entry, its disclosure entries and subject rows and
the batch done commit together; a batch is sealed once; readers count sealed batches only.
SQLite and PostgreSQL (``state_url``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from taxmatch.errors import BatchNotFound, StoreError
from taxmatch.ledger.chain import LedgerDraft
from taxmatch.store.accounting import batch_subjects, disclosures_about
from taxmatch.store.models import disclosure_subjects
from taxmatch.store.seal import seal_batch, subjects_made
from taxmatch.store.state import StateStore, SubjectRow

from .test_state import T0, batch, decision

TIN = "912345678"


def delivered(batch_id: str = "B1") -> LedgerDraft:
    return LedgerDraft(
        "package_delivered", "svc", "cli", True, batch_id, {"manifest_sha256": "m" * 64, "rows": 4}
    )


def chunk(batch_id: str, rows: list[int]) -> tuple[list[LedgerDraft], list[SubjectRow]]:
    drafts = [
        LedgerDraft("disclosure", "svc", "cli", True, f"D-{batch_id}-{n}", {"batch_id": batch_id})
        for n in rows
    ]
    subjects = [
        SubjectRow(f"D-{batch_id}-{n}", batch_id, n, TIN, "8 U.S.C. 1326(a)", f"reason {n}", "zip")
        for n in rows
    ]
    return drafts, subjects


def recorded(store: StateStore, batch_id: str = "B1") -> None:
    store.create_batch(batch(batch_id))
    rows = [decision(n, batch_id) for n in range(1, 5)]
    store.record_decisions(batch_id, rows, chunk=1, actor="svc", origin="cli")


def subject_count(store: StateStore) -> int:
    with store.reading("test") as conn:
        return int(conn.execute(select(func.count()).select_from(disclosure_subjects)).scalar_one())


def test_the_seal_writes_delivery_then_disclosures_and_marks_the_batch_done(
    state_store: StateStore,
) -> None:
    recorded(state_store)
    assert list(batch_subjects(state_store, "B1")) == []
    head = seal_batch(
        state_store,
        "B1",
        delivered=delivered(),
        disclosures=[chunk("B1", [2]), chunk("B1", [4])],
        counts={"DISCLOSED": 2, "REJECTED": 2},
        finished_at=T0,
    )
    kinds = [(e.event_type, e.object_id) for e in state_store.iter_ledger()]
    assert kinds[-4:] == [
        ("package_delivered", "B1"),
        ("disclosure", "D-B1-2"),
        ("disclosure", "D-B1-4"),
        ("disclosures_sealed", "B1"),
    ]
    assert state_store.ledger_head()[1] == head
    found = state_store.find_batch("B1")
    assert found is not None
    assert (found.status, found.counts, found.finished_at) == (
        "done",
        {"DISCLOSED": 2, "REJECTED": 2},
        T0,
    )
    assert list(batch_subjects(state_store, "B1")) == [("D-B1-2", TIN), ("D-B1-4", TIN)]
    assert [r.disclosure_id for r in disclosures_about(state_store, TIN)] == ["D-B1-2", "D-B1-4"]
    assert state_store.verify_ledger().ok


def test_a_batch_is_sealed_once(state_store: StateStore) -> None:
    recorded(state_store)
    seal_batch(
        state_store,
        "B1",
        delivered=delivered(),
        disclosures=[chunk("B1", [2])],
        counts={},
        finished_at=T0,
    )
    before = state_store.ledger_head()
    with pytest.raises(StoreError, match="batch B1 is already sealed"):
        seal_batch(
            state_store,
            "B1",
            delivered=delivered(),
            disclosures=[chunk("B1", [4])],
            counts={},
            finished_at=T0,
        )
    assert state_store.ledger_head() == before
    assert subject_count(state_store) == 1
    with pytest.raises(BatchNotFound):
        seal_batch(
            state_store,
            "NOPE",
            delivered=delivered("NOPE"),
            disclosures=[],
            counts={},
            finished_at=T0,
        )


def test_a_failed_seal_writes_nothing(state_store: StateStore) -> None:
    recorded(state_store)
    before = state_store.ledger_head()
    bad = SubjectRow("D-B1-2", "B1", 2, "12345", "8 U.S.C. 1326(a)", "reason", "zip")

    def chunks() -> list[tuple[list[LedgerDraft], list[SubjectRow]]]:
        return [chunk("B1", [4]), ([], [bad])]

    with pytest.raises(StoreError, match="tin must be 9 digits"):
        seal_batch(
            state_store,
            "B1",
            delivered=delivered(),
            disclosures=chunks(),
            counts={},
            finished_at=T0,
        )
    assert state_store.ledger_head() == before
    assert subject_count(state_store) == 0
    found = state_store.find_batch("B1")
    assert found is not None
    assert found.status == "queued"
    with pytest.raises(StoreError, match="timezone-aware"):
        seal_batch(
            state_store,
            "B1",
            delivered=delivered(),
            disclosures=[],
            counts={},
            finished_at=datetime(2026, 1, 1),
        )


def test_subject_rows_of_a_batch_not_done_are_not_disclosures_made(
    state_store: StateStore,
) -> None:
    """Rows written outside a seal (as earlier versions did, with the decisions) count only
    once their batch is done."""
    state_store.create_batch(batch("B1"))
    drafts, subjects = chunk("B1", [2])
    state_store.record_decisions(
        "B1", [decision(n) for n in range(1, 5)], chunk=1, subjects=subjects, drafts=drafts
    )
    query = subjects_made(select(func.count()))
    for status, made in (("running", 0), ("failed", 0), ("done", 1)):
        state_store.set_batch_status("B1", status, finished_at=datetime.now(UTC))
        with state_store.reading("test") as conn:
            assert conn.execute(query).scalar_one() == made, status
        assert len(disclosures_about(state_store, TIN)) == made
