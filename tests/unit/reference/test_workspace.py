"""A borrowed (in-memory) batch workspace written to the file a cold run leaves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from taxmatch.reference.workspace import IN_WINDOW, PERSISTED, RECORD_SCHEMA, BatchWorkspace

ROWS = 500


@pytest.fixture
def workspace() -> Iterator[BatchWorkspace]:
    con = duckdb.connect()
    ws = BatchWorkspace.borrow(con)
    ws.reset()
    columns: dict[str, list[object]] = {f.name: [None] * ROWS for f in RECORD_SCHEMA}
    columns["row_number"] = list(range(1, ROWS + 1))
    columns["request_id"] = [f"R{i}" for i in range(1, ROWS + 1)]
    columns["mask"] = [0 if i % 3 else 4 for i in range(1, ROWS + 1)]
    columns["fields"] = [""] * ROWS
    ws.append_records(pa.table(columns, schema=RECORD_SCHEMA))
    list(ws.iter_counts(cap=10**6))  # makes ``final``
    con.execute("CREATE TABLE outcomes AS SELECT row_number, 0.5 AS score FROM records")
    con.execute(
        "CREATE TABLE req_features AS SELECT CAST(row_number AS VARCHAR) AS unique_id FROM records"
    )
    ws.valid_requests_view()
    yield ws
    con.close()


def _saved(path: Path) -> dict[str, int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        counts = {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
            for t in (*PERSISTED, "valid")
        }
    finally:
        con.close()
    return counts


def test_persist_writes_every_table_and_the_valid_view(
    workspace: BatchWorkspace, tmp_path: Path
) -> None:
    path = tmp_path / "work" / "work.duckdb"
    workspace.persist(path)
    valid = workspace.con.execute("SELECT count(*) FROM valid").fetchall()[0][0]
    assert _saved(path) == {
        "records": ROWS,
        "final": ROWS,
        "outcomes": ROWS,
        "req_features": ROWS,
        "valid": valid,
    }
    assert not path.with_name(path.name + ".partial").exists()


def test_persist_in_background_writes_the_same_file_while_the_workspace_is_read(
    workspace: BatchWorkspace, tmp_path: Path
) -> None:
    path = tmp_path / "work.duckdb"
    saving = workspace.persist_in_background(path)
    # the caller goes on reading the workspace on its own connection meanwhile
    for _ in range(20):
        assert workspace.con.execute("SELECT count(*) FROM final").fetchall() == [(ROWS,)]
    saving.wait()
    assert _saved(path)["records"] == ROWS
    # the workspace is whole and usable after
    assert workspace.con.execute("SELECT count(*) FROM outcomes").fetchall() == [(ROWS,)]


def test_a_failed_background_persist_raises_at_wait_and_leaves_no_file(
    workspace: BatchWorkspace, tmp_path: Path
) -> None:
    workspace.con.execute("DROP TABLE outcomes")
    path = tmp_path / "work.duckdb"
    saving = workspace.persist_in_background(path)
    with pytest.raises(duckdb.CatalogException):
        saving.wait()
    assert not path.exists()
    # nothing half-attached is left behind on the workspace's database
    attached = {
        r[0]
        for r in workspace.con.execute("SELECT database_name FROM duckdb_databases()").fetchall()
    }
    assert not {a for a in attached if a.startswith("saved")}


def test_a_persisted_workspace_is_small(workspace: BatchWorkspace, tmp_path: Path) -> None:
    """Every lookup leaves one: small blocks keep it near its data's size (the default
    256 KB blocks made a one-row lookup's file 1.3 MB)."""
    workspace.con.execute("DELETE FROM outcomes WHERE row_number > 1")
    path = tmp_path / "work.duckdb"
    workspace.persist(path)
    assert path.stat().st_size < 400_000


@pytest.mark.parametrize(("window", "chunk"), [(1, 7), (64, 7), (100, 100), (1000, 33), (7, 64)])
def test_stream_windows_gives_every_row_once_in_order_in_whole_chunks(
    workspace: BatchWorkspace, window: int, chunk: int
) -> None:
    # every third row number missing: windows hold fewer rows than row numbers
    workspace.con.execute("CREATE TABLE sparse AS SELECT * FROM final WHERE row_number % 3 <> 0")
    sql = f"SELECT row_number, request_id FROM sparse {IN_WINDOW} ORDER BY row_number"
    batches = list(workspace.stream_windows(sql, "sparse", chunk, window))
    numbers = [n for b in batches for n in b.column("row_number").to_pylist()]
    assert numbers == [n for n in range(1, ROWS + 1) if n % 3]
    assert [b.num_rows for b in batches[:-1]] == [chunk] * (len(batches) - 1)
    assert 0 < batches[-1].num_rows <= chunk


def test_stream_windows_of_an_empty_table_gives_nothing(workspace: BatchWorkspace) -> None:
    workspace.con.execute("CREATE TABLE empty AS SELECT * FROM final LIMIT 0")
    sql = f"SELECT * FROM empty {IN_WINDOW} ORDER BY row_number"
    assert list(workspace.stream_windows(sql, "empty", 10, 5)) == []
