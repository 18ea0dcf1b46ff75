"""Training is reproducible: the same snapshot and seed give the same model file."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from taxmatch.errors import BadArgument
from taxmatch.match.model import load_model_info, train_model
from taxmatch.reference.snapshot import current_reference


def test_the_same_snapshot_and_seed_give_the_same_model_file_byte_for_byte(
    model_store: Path, tmp_path: Path
) -> None:
    reference = current_reference(model_store)
    first = load_model_info(model_store, reference.snapshot_id)  # trained with the default seed
    again = train_model(tmp_path, reference.snapshot_id, reference.path)
    assert again.path.read_bytes() == first.path.read_bytes()
    assert again.sha256 == first.sha256


def test_another_seed_is_recorded_in_the_model_file(model_store: Path, tmp_path: Path) -> None:
    reference = current_reference(model_store)
    first = load_model_info(model_store, reference.snapshot_id)
    other = train_model(tmp_path, reference.snapshot_id, reference.path, seed=7)
    assert other.sha256 != first.sha256


def test_a_tight_memory_limit_spills_and_gives_the_same_model(
    model_store: Path, tmp_path: Path
) -> None:
    reference = current_reference(model_store)
    first = load_model_info(model_store, reference.snapshot_id)
    tight = train_model(tmp_path, reference.snapshot_id, reference.path, memory_limit="64MB")
    assert tight.path.read_bytes() == first.path.read_bytes()
    assert not (tmp_path / "work" / "train-spill").exists()  # the spill goes with the run


@pytest.mark.parametrize("limit", ["", "2", "lots", "2GB'; DROP TABLE x; --", "-1GB"])
def test_a_memory_limit_that_is_not_a_size_is_refused(
    model_store: Path, tmp_path: Path, limit: str
) -> None:
    reference = current_reference(model_store)
    with pytest.raises(BadArgument):
        train_model(tmp_path, reference.snapshot_id, reference.path, memory_limit=limit)


def test_the_snapshot_s_matcher_tables_are_written_in_one_order(model_store: Path) -> None:
    """Sorted lists, tables in key order: the same master file makes the same tables row
    for row, whatever order DuckDB's threads finish in (and so the same sampled pairs)."""
    reference = current_reference(model_store)
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{reference.path}' AS ref (READ_ONLY)")
        for table in ("master_records", "training_records"):
            ids = [r[0] for r in con.execute(f"SELECT unique_id FROM ref.{table}").fetchall()]
            assert ids == sorted(ids), f"{table} is not in unique_id order"
            lists = con.execute(
                f"SELECT count(*) FILTER (WHERE first_names <> list_sort(first_names)"
                f" OR last_parts <> list_sort(last_parts)) FROM ref.{table}"
            ).fetchall()[0][0]
            assert lists == 0, f"{table}: {lists} rows with unsorted name lists"
        several = con.execute(
            "SELECT count(*) FROM ref.master_records WHERE len(last_parts) > 1"
        ).fetchall()[0][0]
        assert several > 0, "the cast has no surname of several parts"
    finally:
        con.close()
