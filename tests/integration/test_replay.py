"""Exact replay of a past batch (``taxmatch batch replay``)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from taxmatch.cli import main
from taxmatch.errors import BatchNotFound, StoreError
from taxmatch.pipeline.batch import BatchRequest, run_batch
from taxmatch.pipeline.replay import compare, replay_batch
from taxmatch.pipeline.retain import inputs_dir
from taxmatch.store.state import DecisionRow, StateStore

from .conftest import AS_OF, request_row, write_envelope, write_requests

ROWS = [
    request_row(1),  # Maria: disclosed
    request_row(2, first_name="John", last_name="Carter", street_address="410 Oak Ave",
                unit="", city="Spokane", zip="99201"),  # Jr/Sr: ambiguous
    request_row(3, first_name="Nobody", last_name="Known"),  # no match
    request_row(4, statute="26 U.S.C. 7201"),  # rejected
]  # fmt: skip


def run(
    store: Path,
    tmp: Path,
    matcher: str = "probabilistic",
    db: str | None = None,
    rows: list[dict[str, str]] = ROWS,
) -> tuple[str, str]:
    db = db or f"sqlite:///{tmp / 'state.sqlite3'}"
    result = run_batch(
        BatchRequest(
            store=store,
            requests=write_requests(tmp / "r.csv", rows),
            envelope=write_envelope(tmp / "e.json"),
            out=tmp / "out",
            as_of=AS_OF,
            matcher=matcher,
            database_url=db,
        )
    )
    return result.batch_id, db


def test_replay_of_an_untouched_batch_is_identical(
    model_store: Path, tmp_path: Path, state_url: str
) -> None:
    batch_id, db = run(model_store, tmp_path, db=state_url)
    result = replay_batch(model_store, batch_id, database_url=db)
    assert result.identical
    assert (result.rows, result.same) == (len(ROWS), len(ROWS))
    with StateStore.open(model_store, db) as state:
        last = list(state.iter_ledger())[-1]
        decisions = list(state.iter_decisions(batch_id))
    assert (last.event_type, last.object_id, last.success) == ("batch_replayed", batch_id, True)
    assert len(decisions) == len(ROWS)  # the replay added no decision to the original
    assert any(d.outcome == "DISCLOSED" for d in decisions)


def test_replay_names_a_changed_decision(model_store: Path, tmp_path: Path, state_url: str) -> None:
    batch_id, db = run(model_store, tmp_path, db=state_url)
    engine = create_engine(state_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE decisions SET outcome = 'NO_MATCH' WHERE batch_id = :b AND row_number = 1"
            ),
            {"b": batch_id},
        )
    engine.dispose()
    result = replay_batch(model_store, batch_id, database_url=db)
    assert not result.identical
    assert result.differences == [(1, "REQ-00001", "outcome")]
    assert result.same == len(ROWS) - 1
    with StateStore.open(model_store, db) as state:
        last = list(state.iter_ledger())[-1]
    assert (last.event_type, last.success) == ("batch_replayed", False)


def test_cli_exits_non_zero_on_a_difference(model_store: Path, tmp_path: Path) -> None:
    batch_id, db = run(model_store, tmp_path, matcher="exact")
    env = {"TAXMATCH_DATABASE_URL": db}
    ok = CliRunner().invoke(
        main, ["batch", "replay", "--store", str(model_store), batch_id], env=env
    )
    assert ok.exit_code == 0, ok.output
    assert "replay identical: 4 of 4" in ok.output
    con = sqlite3.connect(tmp_path / "state.sqlite3")
    with con:
        con.execute("UPDATE decisions SET reason_codes = 'R01' WHERE row_number = 4")
    con.close()
    bad = CliRunner().invoke(
        main, ["batch", "replay", "--store", str(model_store), batch_id, "--json"], env=env
    )
    assert bad.exit_code == 1
    doc = json.loads(bad.output)
    assert set(doc) == {
        *("batch_id", "identical", "rows", "same", "missing", "extra"),
        *("differences", "differences_total"),
    }
    assert doc["identical"] is False
    assert doc["differences"] == [{"row": 4, "request_id": "REQ-00004", "field": "reason_codes"}]


def test_a_changed_kept_input_is_refused(model_store: Path, tmp_path: Path) -> None:
    # its own input (its own batch id): the kept copy it spoils is nobody else's
    batch_id, db = run(model_store, tmp_path, rows=ROWS[:2])
    kept = next(inputs_dir(model_store, batch_id).glob("requests.*"))
    kept.write_text(kept.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    with pytest.raises(StoreError, match="does not match its hash"):
        replay_batch(model_store, batch_id, database_url=db)


def test_unknown_batch(model_store: Path, tmp_path: Path) -> None:
    with pytest.raises(BatchNotFound):
        replay_batch(model_store, "Bnope", database_url=f"sqlite:///{tmp_path / 's.sqlite3'}")


def _row(n: int, outcome: str, score: float | None = 0.5) -> DecisionRow:
    return DecisionRow("B1", n, f"R{n}", "unmatched", outcome, "", "", None, score, None)


def test_compare_counts_missing_extra_and_fields() -> None:
    recorded = {1: _row(1, "NO_MATCH"), 2: _row(2, "NO_MATCH"), 3: _row(3, "NO_MATCH")}
    replayed = {1: _row(1, "NO_MATCH"), 2: _row(2, "NO_MATCH", 0.6), 4: _row(4, "NO_MATCH")}
    result = compare(recorded, replayed)
    assert (result.rows, result.same, result.missing, result.extra) == (2, 1, 1, 1)
    assert result.differences == [(2, "R2", "score")]
    assert not result.identical


def test_compare_checks_the_statute_when_one_was_recorded() -> None:
    cited = replace(_row(1, "NO_MATCH"), statute="8 U.S.C. 1326(a)")
    other = replace(cited, statute="8 U.S.C. 1325(a)")
    legacy = _row(1, "NO_MATCH")  # recorded before schema 0005: no statute
    assert compare({1: cited}, {1: cited}).identical
    assert compare({1: cited}, {1: other}).differences == [(1, "R1", "statute")]
    assert compare({1: cited}, {1: legacy}).differences == [(1, "R1", "statute")]
    assert compare({1: legacy}, {1: cited}).identical
