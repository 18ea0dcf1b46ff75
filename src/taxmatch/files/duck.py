"""DuckDB database files by path: the path as an SQL string literal (quotes doubled), and
a file attached read-only under an alias."""

from __future__ import annotations

from pathlib import Path

import duckdb


def sql_path(path: Path) -> str:
    """``path`` for inside an SQL string literal: its single quotes doubled."""
    return str(path).replace("'", "''")


def attach(con: duckdb.DuckDBPyConnection, path: Path, alias: str = "ref") -> None:
    """Attach the database file ``path`` to ``con`` read-only, as ``alias``."""
    con.execute(f"ATTACH '{sql_path(path)}' AS {alias} (READ_ONLY)")
