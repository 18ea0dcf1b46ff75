"""Disclosures held until the seal: in memory, spilled to the workspace past SPILL_ROWS,
given back in file order as subject rows with their facts, and dropped afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest

from taxmatch.pipeline import stash as stash_module
from taxmatch.pipeline.stash import TABLE, DisclosureStash, Pending
from taxmatch.reference import workspace as workspace_module
from taxmatch.reference.workspace import BatchWorkspace
from taxmatch.store.state import SubjectRow


def pending(n: int) -> Pending:
    return (
        f"D-{n}",
        n,
        f"{n:064x}",
        f"k{n}",
        f"h{n}",
        f"{900000000 + n}",
        "8 U.S.C. 1326(a)",
        f"reason {n}",
    )


def tables(ws: BatchWorkspace) -> set[str]:
    sql = "SELECT table_name FROM information_schema.tables"
    return {r[0] for r in ws.con.execute(sql).fetchall()}


@pytest.mark.parametrize("rows", [0, 2, 3, 7])
def test_held_disclosures_come_back_in_file_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: int
) -> None:
    monkeypatch.setattr(stash_module, "SPILL_ROWS", 3)
    monkeypatch.setattr(workspace_module, "WINDOW_ROWS", 2)  # read back across windows
    with BatchWorkspace(tmp_path / "work.duckdb") as ws:
        stash = DisclosureStash(ws, "B1", ["street_address", "zip"])
        for n in range(1, rows + 1):
            stash.add(pending(n))
        assert len(stash) == rows
        assert (TABLE in tables(ws)) == (rows >= 3)
        chunks = list(stash.chunks())
        assert all(len(subjects) <= 3 for subjects in chunks)
        subjects = [s for c in chunks for s in c]
        assert subjects == [
            SubjectRow(
                f"D-{n}",
                "B1",
                n,
                f"{900000000 + n}",
                "8 U.S.C. 1326(a)",
                f"reason {n}",
                "street_address;zip",
                request_id_sha256=f"{n:064x}",
                person_key=f"k{n}",
                values_hmac=f"h{n}",
            )
            for n in range(1, rows + 1)
        ]
        stash.discard()
        assert len(stash) == 0
        assert TABLE not in tables(ws)
        assert list(stash.chunks()) == []
