"""A small generated master file (2 000 people, 2019-2025) and a snapshot's tables."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from taxmatch.generate import generate_population


@pytest.fixture(scope="module")
def master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pop")
    return generate_population(people=2000, years=(2019, 2025), seed=17, out=out).master_path


def snapshot_tables(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every table of a snapshot, its rows sorted (the row order of a table written
    without ORDER BY is DuckDB's threads')."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        return {
            name: sorted(con.execute(f"SELECT * FROM {name}").fetchall(), key=repr)
            for name in sorted(names)
        }
    finally:
        con.close()
