"""A reference loaded with ``--engine spark`` is the one DuckDB loads
(``taxmatch.match.spark_reference``, ``pipeline.reference.load_reference_snapshot``).

A generated master file (2,000 people, 2019-2025) is loaded into one store on DuckDB and
into another with the filings built on Spark (the test run's ``local[2]`` session). The
two snapshots must have the same id, the same counts and every table the same row by
row (person ids included), and the Spark load must leave the Spark engine's Parquet
export of that snapshot (so a Spark batch makes none), its tables those of the snapshot,
and nothing of its staging behind. A failure on Spark says only its type. Needs Java;
skipped only where there is none.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from taxmatch.errors import EngineUnavailable, ReferenceSnapshotError
from taxmatch.generate import generate_population
from taxmatch.match import spark_reference
from taxmatch.match.spark_engine import EXPORT_TABLES, EXPORTED, exported
from taxmatch.pipeline.reference import load_reference_snapshot
from taxmatch.reference.snapshot import ReferenceInfo

from ..reference.conftest import snapshot_tables

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("java") is None, reason="the Spark engine needs Java"),
]


@pytest.fixture(scope="module")
def master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pop")
    return generate_population(people=2000, years=(2019, 2025), seed=17, out=out).master_path


def _columns(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(
            "SELECT table_name, column_name, data_type FROM duckdb_columns() "
            "ORDER BY table_name, column_index"
        ).fetchall()
    finally:
        con.close()
    out: dict[str, list[tuple[Any, ...]]] = {}
    for table, column, kind in rows:
        out.setdefault(table, []).append((column, kind))
    return out


def _parquet_rows(directory: Path) -> list[tuple[object, ...]]:
    con = duckdb.connect()
    try:
        rows = con.execute(f"SELECT * FROM read_parquet('{directory}/*.parquet')").fetchall()
    finally:
        con.close()
    return sorted(rows, key=repr)


def test_spark_load_is_the_duckdb_load(master: Path, spark: Any, tmp_path: Path) -> None:
    duck = load_reference_snapshot(tmp_path / "duck", [master])
    read: list[int] = []
    root = tmp_path / "parquet"
    ours = load_reference_snapshot(
        tmp_path / "spark", [master], progress=read.append, engine="spark", spark_dir=root
    )
    assert sum(read) == pq.ParquetFile(master).metadata.num_rows  # progress as DuckDB's
    assert (ours.snapshot_id, ours.filings, ours.tins) == (
        duck.snapshot_id,
        duck.filings,
        duck.tins,
    )
    assert ours.path.name == duck.path.name
    assert _columns(ours.path) == _columns(duck.path)
    theirs, mine = snapshot_tables(duck.path), snapshot_tables(ours.path)
    assert mine.keys() == theirs.keys()
    assert {"filings", "persons", *EXPORT_TABLES} <= mine.keys()
    for table, rows in theirs.items():
        assert mine[table] == rows, f"{table} differs"
    assert len({r[-1] for r in mine["filings"]}) < len(mine["filings"])  # persons resolved
    _the_export_is_made(ours, root, mine)


def _the_export_is_made(
    info: ReferenceInfo, root: Path, tables: dict[str, list[tuple[object, ...]]]
) -> None:
    """The Spark engine's export of the snapshot, made whole, private, and nothing else."""
    target = root / info.snapshot_id
    assert exported(target, info.snapshot_id)
    assert {p.name for p in target.iterdir()} == {EXPORTED, *EXPORT_TABLES}
    assert [p.name for p in root.iterdir()] == [info.snapshot_id]  # no staging left
    assert all(p.stat().st_mode & 0o077 == 0 for p in (root, *root.rglob("*")))
    for table in EXPORT_TABLES:
        assert _parquet_rows(target / table) == tables[table], f"{table} exported differs"


def test_executors_running_other_code_stop_the_load(
    master: Path, spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spark_reference, "code_digest", lambda: "not the service's")
    with pytest.raises(EngineUnavailable, match="executors' taxmatch is not the service's"):
        load_reference_snapshot(
            tmp_path / "store", [master], engine="spark", spark_dir=tmp_path / "parquet"
        )
    assert not list((tmp_path / "parquet").iterdir())  # the staged rows are removed
    assert not list((tmp_path / "store" / "reference").glob("*.duckdb"))


def test_a_failure_on_spark_names_only_its_type(spark: Any, tmp_path: Path) -> None:
    """TM200, the error's type and nothing of Spark's message (which can quote a value)."""
    raw = tmp_path / "raw"
    raw.mkdir()
    pq.write_table(pa.table({"tin": ["123456789"]}), raw / "master.parquet")
    with pytest.raises(ReferenceSnapshotError) as caught:
        spark_reference.build_filings(
            raw, [], "SELECT CAST(tin AS DATE) FROM raw", tmp_path / "out"
        )
    assert caught.value.code == "TM200"
    assert re.search(r"reference load on Spark failed \(\w+\)$", str(caught.value))
    assert "123456789" not in str(caught.value)
    assert caught.value.__cause__ is None
