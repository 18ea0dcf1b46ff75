"""``persons`` built a part of the persons at a time is the table built in one part; the
person tables are stored in person id order."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from taxmatch.reference import person_tables
from taxmatch.reference.snapshot import load_reference
from tests.unit.reference.conftest import snapshot_tables


def test_persons_built_in_parts_are_the_persons_built_at_once(
    master: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = load_reference(tmp_path / "whole", [master])
    monkeypatch.setattr(person_tables, "_PART_ROWS", 300)  # about ten parts
    parts = load_reference(tmp_path / "parts", [master])
    assert snapshot_tables(parts.path) == snapshot_tables(whole.path)


def test_the_person_tables_are_stored_in_person_id_order(master: Path, tmp_path: Path) -> None:
    # A range of person ids is then a few row groups (``reference.probes`` reads them so).
    snapshot = load_reference(tmp_path / "store", [master]).path
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        for table in ("filings", "persons", "person_addresses"):
            query = f"SELECT person_id FROM {table} ORDER BY rowid"
            stored = [r[0] for r in con.execute(query).fetchall()]
            assert stored == sorted(stored), table
    finally:
        con.close()
