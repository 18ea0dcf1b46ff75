"""A batch's record in the state database: chunks accounted for, a re-run leaves no
duplicate disclosure subjects, a run stopped after its decisions discloses nothing, the
policy in force is recorded once. SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import threading
from collections import Counter
from pathlib import Path

import duckdb
import pytest
from sqlalchemy import text

from taxmatch.errors import StoreError
from taxmatch.pipeline.batch import BatchRequest, run_batch
from taxmatch.store.state import StateStore
from taxmatch.store.subjects import open_subject

from .conftest import (
    AS_OF,
    accounted,
    batch_tins,
    bound_disclosures,
    request_row,
    write_envelope,
    write_requests,
)


def request(store: Path, tmp: Path, url: str, rows: int, letter: str = "LTR-1") -> BatchRequest:
    return BatchRequest(
        store=store,
        requests=write_requests(
            tmp / f"requests-{rows}.csv", [request_row(n) for n in range(1, rows + 1)]
        ),
        envelope=write_envelope(tmp / f"envelope-{letter}.json", request_letter_id=letter),
        out=tmp / "out",
        as_of=AS_OF,
        database_url=url,
        matcher="exact",
    )


def subjects(state: StateStore) -> list[tuple[str, str]]:
    with state.reading("test") as conn:
        rows = conn.execute(text("SELECT disclosure_id, tin FROM disclosure_subjects")).all()
    # the TIN is stored encrypted (schema 0008): compared as the accounting reads it
    return sorted((r[0], open_subject(state.keys, r[0], "tin", r[1])) for r in rows)


def test_a_sealed_batch_stays_done_and_is_not_disclosed_again(
    reference_store: Path, tmp_path: Path, state_url: str
) -> None:
    """Its disclosures are made: the store refuses to set it back (a trigger), and running
    the same batch again returns its package and writes no subject or entry."""
    req = request(reference_store, tmp_path, state_url, 3)
    first = run_batch(req)
    with StateStore(state_url) as state:
        before = subjects(state)
        entries = len(list(state.iter_ledger()))
        with pytest.raises(StoreError):
            state.set_batch_status(first.batch_id, "failed", error_code="TM999")
    assert len(before) == first.counts["DISCLOSED"] == 3  # three cases about Maria
    assert {tin for _, tin in before} == {"123456789"}
    again = run_batch(req)
    assert again.reused
    with StateStore(state_url) as state:
        assert subjects(state) == before
        assert len(list(state.iter_ledger())) == entries
        result = state.verify_ledger()
    assert (result.ok, result.decisions) == (True, 3)


class Stopped(BaseException):
    """What stops the run: a kill switch, a crash."""


class StopsAfterDecisions:
    """Progress that stops the run once a chunk of decisions has been recorded."""

    def __init__(self) -> None:
        self.stage_name = ""

    def stage(self, name: str, total: int | None) -> None:
        self.stage_name = name

    def advance(self, n: int) -> None:
        if self.stage_name == "writing package":
            raise Stopped


def test_a_run_stopped_after_its_decisions_discloses_nothing_until_a_rerun_seals_it(
    reference_store: Path, tmp_path: Path, state_url: str
) -> None:
    req = request(reference_store, tmp_path, state_url, 3)
    with pytest.raises(Stopped):
        run_batch(req, StopsAfterDecisions())
    with StateStore(state_url) as state:
        (batch,) = state.list_batches()
        assert (batch.status, len(list(state.iter_decisions(batch.batch_id)))) == ("failed", 3)
        assert state.verify_ledger().ok
    assert not (req.out / batch.batch_id).exists()
    shown = accounted(reference_store, state_url, batch.batch_id, ["123456789"], tmp_path)
    assert shown == dict.fromkeys(shown, 0)

    again = run_batch(req)
    with (again.package / "disclosed.csv").open(newline="", encoding="utf-8") as fh:
        disclosed = [row["disclosure_id"] for row in csv.DictReader(fh)]
    assert len(disclosed) == again.counts["DISCLOSED"] == 3
    tins = batch_tins(reference_store, state_url, again.batch_id, tmp_path)
    assert sorted(tins) == sorted(disclosed)
    shown = accounted(reference_store, state_url, again.batch_id, tins.values(), tmp_path)
    assert shown == dict.fromkeys(shown, 3)
    with StateStore(state_url) as state:
        entries = bound_disclosures(state)
        assert state.verify_ledger().ok
    assert entries == Counter(disclosed)


class StopsWhileMatching:
    """Progress that stops the run (a kill switch) once the matcher has started."""

    def __init__(self) -> None:
        self.thrown = threading.Event()

    def stage(self, name: str, total: int | None) -> None: ...

    def advance(self, n: int) -> None:
        if self.thrown.is_set():
            raise Stopped


def test_a_run_stopped_while_its_writer_waits_stops_the_matcher_and_resumes(
    reference_store: Path, tmp_path: Path, state_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped while the package writer waits for a matcher that would go on for a
    minute: the matcher is interrupted, the batch fails with no decision, no package and
    nothing disclosed, and a re-run seals it."""
    from taxmatch.match.exact import match_exact as original
    from taxmatch.pipeline import matching

    req, stop, matched = request(reference_store, tmp_path, state_url, 3), StopsWhileMatching(), []

    def slow_match(con: duckdb.DuckDBPyConnection, reference: Path) -> None:
        if threading.current_thread().name == "taxmatch-match":  # not the shadow probes
            stop.thrown.set()
            for _ in range(10):  # a minute of matching, query after query
                con.execute("SELECT sum(range % 7) FROM range(1_000_000_000)").fetchall()
            matched.append(True)
        original(con, reference)

    monkeypatch.setattr(matching, "match_exact", slow_match)
    with pytest.raises(Stopped):
        run_batch(req, stop)
    assert matched == []
    with StateStore(state_url) as state:
        (batch,) = state.list_batches()
        assert (batch.status, len(list(state.iter_decisions(batch.batch_id)))) == ("failed", 0)
        assert state.verify_ledger().ok
    assert not (req.out / batch.batch_id).exists()
    shown = accounted(reference_store, state_url, batch.batch_id, ["123456789"], tmp_path)
    assert shown == dict.fromkeys(shown, 0)

    monkeypatch.setattr(matching, "match_exact", original)
    again = run_batch(req)
    assert again.counts["DISCLOSED"] == 3
    with StateStore(state_url) as state:
        assert state.verify_ledger().ok
        assert sum(bound_disclosures(state).values()) == 3


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


def test_disclosures_held_in_the_workspace_are_sealed_and_then_dropped(
    reference_store: Path, tmp_path: Path, state_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ``SPILL_ROWS`` the held disclosures go to the batch workspace; the seal reads
    them back in file order and the workspace keeps no copy."""
    from taxmatch.pipeline import stash as stash_module

    monkeypatch.setattr(stash_module, "SPILL_ROWS", 2)
    req = request(reference_store, tmp_path, state_url, 3)
    result = run_batch(req)
    with (result.package / "disclosed.csv").open(newline="", encoding="utf-8") as fh:
        disclosed = [row["disclosure_id"] for row in csv.DictReader(fh)]
    assert len(disclosed) == 3
    tins = batch_tins(reference_store, state_url, result.batch_id, tmp_path)
    assert list(tins) == disclosed
    shown = accounted(reference_store, state_url, result.batch_id, tins.values(), tmp_path)
    assert shown == dict.fromkeys(shown, 3)
    with StateStore(state_url) as state:
        chunks = [e for e in state.iter_ledger() if e.event_type == "disclosures"]
        entries = list(bound_disclosures(state))
        assert state.verify_ledger().ok
    assert entries == disclosed  # in file order, each once
    assert [e.payload["bound_disclosures_rows"] for e in chunks] == [3]
    work = reference_store / "work" / result.batch_id / "work.duckdb"
    with duckdb.connect(str(work), read_only=True) as con:
        names = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
    assert stash_module.TABLE not in names
    assert "outcomes" in names
