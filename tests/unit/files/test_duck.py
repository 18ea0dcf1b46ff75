"""DuckDB database files by path: quoting and the read-only attach."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from taxmatch.files.duck import attach, sql_path


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")))
def test_sql_path_reads_back_as_the_path(name: str) -> None:
    path = Path("/tmp") / name
    with duckdb.connect() as con:
        row = con.execute(f"SELECT '{sql_path(path)}'").fetchone()
    assert row == (str(path),)


def test_attach_opens_a_file_read_only_under_its_alias(tmp_path: Path) -> None:
    path = tmp_path / "o'brien's snapshot.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE t AS SELECT 42 AS x")
    with duckdb.connect() as con:
        attach(con, path, "snap")
        assert con.execute("SELECT x FROM snap.t").fetchall() == [(42,)]
        with pytest.raises(duckdb.Error):
            con.execute("INSERT INTO snap.t VALUES (1)")
        attach(con, path)
        assert con.execute("SELECT count(*) FROM ref.t").fetchall() == [(1,)]
