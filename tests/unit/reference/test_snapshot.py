"""The reference load's memory: DuckDB runs under ``memory_limit`` and spills to a directory
of the store that goes with the load; a limit it cannot work in is TM900, not DuckDB's
message; the limit changes nothing in the snapshot. All data here is generated."""

from __future__ import annotations

from pathlib import Path

import pytest

from taxmatch.errors import BadArgument, OutOfMemory
from taxmatch.reference.snapshot import load_reference, reference_dir
from tests.unit.reference.conftest import snapshot_tables


def test_a_tight_memory_limit_spills_and_makes_the_same_snapshot(
    master: Path, tmp_path: Path
) -> None:
    free = load_reference(tmp_path / "free", [master])
    tight = load_reference(tmp_path / "tight", [master], memory_limit="96MB")
    assert tight.snapshot_id == free.snapshot_id
    assert (tight.filings, tight.tins) == (free.filings, free.tins)
    assert snapshot_tables(tight.path) == snapshot_tables(free.path)
    assert list((tmp_path / "tight" / "work").iterdir()) == []  # the spill goes with the load


def test_a_limit_the_load_cannot_work_in_is_tm900_with_advice(master: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    with pytest.raises(OutOfMemory) as caught:
        load_reference(store, [master], memory_limit="4MB")
    message = str(caught.value)
    assert caught.value.code == "TM900"
    assert "reference load" in message
    assert "4MB" in message
    assert "--memory-limit" in message
    assert "Out of Memory" not in message  # not DuckDB's own words
    assert list((store / "work").iterdir()) == []
    assert not (reference_dir(store) / "CURRENT").exists()


@pytest.mark.parametrize("limit", ["", "2", "lots", "2GB'; DROP TABLE x; --", "-1GB"])
def test_a_memory_limit_that_is_not_a_size_is_refused(
    master: Path, tmp_path: Path, limit: str
) -> None:
    with pytest.raises(BadArgument):
        load_reference(tmp_path / "store", [master], memory_limit=limit)
    assert not (tmp_path / "store").exists()  # refused before anything is made
