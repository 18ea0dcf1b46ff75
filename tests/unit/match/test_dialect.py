"""``dialect.query_in_dialect``: collapse's DuckDB queries rendered for Spark from the one
definition (the Spark engine's parity test, tests/unit/match/test_spark_engine.py, holds
the decisions they give to DuckDB's)."""

from __future__ import annotations

import re

from taxmatch.match.collapse import gather_sql, ranking_sql
from taxmatch.match.dialect import query_in_dialect, staged_query_in_dialect

SCHEMAS = {"ref": "tm_ref_"}


def test_duckdb_is_the_definition_itself() -> None:
    assert query_in_dialect(gather_sql("ref"), "duckdb", SCHEMAS) == gather_sql("ref")


def test_spark_reads_the_snapshot_from_views_without_duckdb_hints() -> None:
    for sql in (gather_sql("ref"), ranking_sql("tm_pairs", "ref", "collapse_part")):
        spark = query_in_dialect(sql, "spark", SCHEMAS)
        assert "MATERIALIZED" not in spark.upper()
        assert not re.search(r"\bref\.", spark)
    spark = query_in_dialect(gather_sql("ref"), "spark", SCHEMAS)
    for table in ("persons", "person_names", "filings", "person_addresses"):
        assert f"tm_ref_{table}" in spark
    assert "ARRAY_CONTAINS" in spark
    assert "COLLECT_LIST" in spark


def test_staged_each_expression_once_in_order() -> None:
    stages, query = staged_query_in_dialect(gather_sql("ref"), "spark", SCHEMAS)
    names = [name for name, _ in stages]
    assert names[:6] == ["jb", "filed_rows", "own", "slips", "near", "neighbours"]
    assert len(names) == len(set(names)) == 19
    assert not query.upper().startswith("WITH")
    assert all(not sql.upper().startswith("WITH") for _, sql in stages)
    # Unstaged, the same expressions stay in one query.
    assert staged_query_in_dialect(gather_sql("ref"), "spark", SCHEMAS, stage=False)[0] == []
