"""``persons`` built a part of the persons at a time is the table built in one part."""

from __future__ import annotations

from pathlib import Path

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
