"""A batch's record in the state database: chunks accounted for, a re-run leaves no
duplicate disclosure subjects, the policy in force is recorded once. SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from taxmatch.pipeline.batch import BatchRequest, run_batch
from taxmatch.store.state import StateStore
from taxmatch.store.subjects import open_subject

from .conftest import AS_OF, request_row, write_envelope, write_requests


def request(store: Path, tmp: Path, url: str, rows: int, letter: str = "LTR-1") -> BatchRequest:
    return BatchRequest(
        store=store,
        requests=write_requests(tmp / f"requests-{rows}.csv",
                                [request_row(n) for n in range(1, rows + 1)]),
        envelope=write_envelope(tmp / f"envelope-{letter}.json", request_letter_id=letter),
        out=tmp / "out",
        as_of=AS_OF,
        database_url=url,
        matcher="exact",
    )  # fmt: skip


def subjects(state: StateStore) -> list[tuple[str, str]]:
    with state.reading("test") as conn:
        rows = conn.execute(text("SELECT disclosure_id, tin FROM disclosure_subjects")).all()
    # the TIN is stored encrypted (schema 0008): compared as the accounting reads it
    return sorted((r[0], open_subject(state.keys, r[0], "tin", r[1])) for r in rows)


def test_a_rerun_batch_keeps_one_subject_per_disclosure(
    reference_store: Path, tmp_path: Path, state_url: str
) -> None:
    req = request(reference_store, tmp_path, state_url, 3)
    first = run_batch(req)
    with StateStore(state_url) as state:
        before = subjects(state)
        state.set_batch_status(first.batch_id, "failed", error_code="TM999")
    assert len(before) == first.counts["DISCLOSED"] == 3  # three cases about Maria
    assert {tin for _, tin in before} == {"123456789"}
    again = run_batch(req)
    assert not again.reused
    with StateStore(state_url) as state:
        assert subjects(state) == before
        result = state.verify_ledger()
        kinds = [e.event_type for e in state.iter_ledger()]
    assert (result.ok, result.decisions) == (True, 3)
    assert kinds.count("decisions_discarded") == 1
    assert kinds.count("decisions") == 2  # one per run; the first run's was discarded


def test_the_policy_in_force_is_recorded_once(
    reference_store: Path, tmp_path: Path, state_url: str
) -> None:
    run_batch(request(reference_store, tmp_path, state_url, 2, "LTR-A"))
    run_batch(request(reference_store, tmp_path, state_url, 2, "LTR-B"))
    with StateStore(state_url) as state:
        changes = [e for e in state.iter_ledger() if e.event_type == "config_changed"]
        received = [e for e in state.iter_ledger() if e.event_type == "batch_received"]
    assert [(e.object_id, e.payload["previous_identity"]) for e in changes] == [("policy", None)]
    assert changes[0].seq < received[0].seq
    assert len(received) == 2
