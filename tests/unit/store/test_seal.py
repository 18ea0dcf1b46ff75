"""Sealing a batch: its package_delivered entry, its subject rows (with each disclosure's
facts) bound chunk by chunk by ``disclosures`` entries, and the batch done commit together;
each disclosure is bound exactly once; a batch is sealed once; readers count sealed batches
only. SQLite and PostgreSQL (``state_url``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text

from taxmatch.errors import BatchNotFound, StoreError
from taxmatch.ledger.chain import LedgerDraft
from taxmatch.store import seal as seal_module
from taxmatch.store.accounting import batch_subjects, disclosures_about
from taxmatch.store.decision_rows import cells_of
from taxmatch.store.models import disclosure_subjects
from taxmatch.store.seal import seal_batch, subjects_made
from taxmatch.store.state import StateStore, SubjectRow

from .test_ledger_bound import triggers_off
from .test_state import T0, batch, decision

TIN = "912345678"


def delivered(batch_id: str = "B1") -> LedgerDraft:
    return LedgerDraft(
        "package_delivered", "svc", "cli", True, batch_id, {"manifest_sha256": "m" * 64, "rows": 4}
    )


def subject(batch_id: str, n: int) -> SubjectRow:
    """An accounting row as a batch run seals it: with the disclosure's facts."""
    return SubjectRow(
        f"D-{batch_id}-{n}",
        batch_id,
        n,
        TIN,
        "8 U.S.C. 1326(a)",
        f"reason {n}",
        "zip",
        f"{n:064x}",
        "e" * 64,
        f"h{n}",
    )


def chunk(batch_id: str, rows: list[int]) -> list[SubjectRow]:
    return [subject(batch_id, n) for n in rows]


def recorded(store: StateStore, batch_id: str = "B1") -> None:
    store.create_batch(batch(batch_id))
    rows = [cells_of(decision(n, batch_id)) for n in range(1, 5)]
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
    entries = list(state_store.iter_ledger())
    assert [(e.event_type, e.object_id) for e in entries[-3:]] == [
        ("package_delivered", "B1"),
        ("disclosures", "B1"),  # the two chunks given are one chunk of the seal
        ("disclosures_sealed", "B1"),
    ]
    bound = entries[-2].payload
    assert {k: v for k, v in bound.items() if k != "bound_disclosures_sha256"} == {
        "chunk": 1,
        "first_row": 2,
        "last_row": 4,
        "bound_disclosures_rows": 2,
    }
    assert entries[-1].payload == {"disclosures": 2, "chunks": 1}
    assert all(TIN not in repr(e) and "reason" not in repr(e) for e in entries)
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
    bad = replace(subject("B1", 2), tin="12345")

    def chunks() -> list[list[SubjectRow]]:
        return [chunk("B1", [1]), [bad]]

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
    older = SubjectRow("D-B1-2", "B1", 2, TIN, "8 U.S.C. 1326(a)", "reason 2", "zip")
    subjects = [older]  # no facts: as earlier versions wrote them
    drafts = [LedgerDraft("disclosure", "svc", "cli", True, "D-B1-2", {"batch_id": "B1"})]
    state_store.record_decisions(
        "B1",
        [cells_of(decision(n)) for n in range(1, 5)],
        chunk=1,
        subjects=subjects,
        drafts=drafts,
    )
    query = subjects_made(select(func.count()))
    for status, made in (("running", 0), ("failed", 0), ("done", 1)):
        state_store.set_batch_status("B1", status, finished_at=datetime.now(UTC))
        with state_store.reading("test") as conn:
            assert conn.execute(query).scalar_one() == made, status
        assert len(disclosures_about(state_store, TIN)) == made


@pytest.mark.parametrize("facts", ["request_id_sha256", "person_key", "values_hmac"])
def test_a_disclosure_without_its_facts_or_out_of_order_is_not_sealed(
    state_store: StateStore, facts: str
) -> None:
    recorded(state_store)
    before = state_store.ledger_head()
    for chunks, problem in (
        ([[replace(subject("B1", 2), **{facts: None})]], "D-B1-2 is sealed without its facts"),
        ([chunk("B1", [4]), chunk("B1", [2])], "D-B1-2 is out of file order"),
    ):
        with pytest.raises(StoreError, match=problem):
            seal_batch(
                state_store,
                "B1",
                delivered=delivered(),
                disclosures=chunks,
                counts={},
                finished_at=T0,
            )
        assert state_store.ledger_head() == before
        assert subject_count(state_store) == 0


def test_each_disclosure_is_bound_once_by_its_chunk(
    state_store: StateStore, state_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(seal_module, "DISCLOSURE_CHUNK", 2)
    recorded(state_store)
    rows = [2, 4, 6, 8, 10]
    seal_batch(
        state_store,
        "B1",
        delivered=delivered(),
        disclosures=[chunk("B1", rows[:3]), chunk("B1", rows[3:])],
        counts={},
        finished_at=T0,
    )
    made = [e for e in state_store.iter_ledger() if e.event_type == "disclosures"]
    ranges = [(e.payload["chunk"], e.payload["first_row"], e.payload["last_row"]) for e in made]
    assert ranges == [(1, 2, 4), (2, 6, 8), (3, 10, 10)]
    assert sum(int(e.payload["bound_disclosures_rows"] or 0) for e in made) == len(rows)
    sealed = [e for e in state_store.iter_ledger() if e.event_type == "disclosures_sealed"]
    assert [e.payload for e in sealed] == [{"disclosures": 5, "chunks": 3}]
    result = state_store.verify_ledger()
    assert result.ok, result.problem
    assert result.bound >= len(rows)
    with triggers_off(state_url) as conn:  # a disclosure of the second chunk changed
        conn.execute(text("UPDATE disclosure_subjects SET values_hmac = 'x' WHERE row_number = 8"))
    result = state_store.verify_ledger()
    assert (result.ok, result.first_bad_seq, result.problem) == (
        False,
        made[1].seq,
        "disclosure_subjects rows 6-8 of batch B1 do not match the ledger",
    )
    with triggers_off(state_url) as conn:  # put back; then one of the last chunk deleted
        conn.execute(text("UPDATE disclosure_subjects SET values_hmac = 'h8' WHERE row_number = 8"))
        conn.execute(text("DELETE FROM disclosure_subjects WHERE row_number = 10"))
    result = state_store.verify_ledger()
    assert (result.ok, result.first_bad_seq, result.problem) == (
        False,
        made[2].seq,
        "disclosure_subjects rows 10-10 of batch B1 do not match the ledger",
    )
