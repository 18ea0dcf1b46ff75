"""taxmatch.match.oneshot evaluates SQL expressions exactly as DuckDB does.

Each expression below is of a kind Splink's scoring statement uses. On generated rows
(NULLs included) the compiled Python must give DuckDB's value: the same NULL, the same
boolean, the same double to the last bit.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from typing import Any

import duckdb
import pytest
import sqlglot
from hypothesis import given, settings
from hypothesis import strategies as st

from taxmatch.match import strings
from taxmatch.match.oneshot import Compiler, Unsupported

COLUMNS = {
    "a": "VARCHAR", "b": "VARCHAR", "x": "DOUBLE", "y": "DOUBLE", "i": "INTEGER",
    "d1": "DATE", "d2": "DATE", "la": "VARCHAR[]", "lb": "VARCHAR[]",
}  # fmt: skip

EXPRESSIONS = [
    '"a" IS NULL OR "b" IS NULL',
    '"a" = "b"',
    "a = b AND b = a",
    "NOT (a = b)",
    "list_contains(la, a) OR list_contains(lb, b)",
    "(length(a) = 1 OR length(b) = 1) AND a[1] = b[1]",
    'jaro_winkler_similarity("a", "b") >= 0.92',
    "jaro_winkler_similarity(a, b)",
    "array_length(list_intersect(la, lb)) >= 1",
    "list_has_any(la, lb)",
    "levenshtein(a, b) <= 1",
    "CASE WHEN length(a) = length(b) THEN hamming(a, b) = 1 ELSE false END",
    "abs(date_diff('day', d1, d2)) <= 366 OR (month(d1) = day(d2) AND day(d1) = month(d2))",
    "CASE WHEN i = -1 THEN cast(0.0 as float8) WHEN i = 2 THEN cast(7.3430378394893765 as float8)"
    " WHEN i = 1 THEN cast(-0.00013817779303718268 as float8) ELSE x END",
    "CASE WHEN coalesce(x, y) is not null THEN cast(1.0 as float8) * (cast(-7.351779635652804 "
    "as float8) - log2(greatest(coalesce(x, y), coalesce(y, x), cast(0.0 as float8)))) "
    "ELSE cast(0 as float8) END",
    "cast(-20.350020850682395 as float8) + x + y",
    "CASE WHEN (x + y) >= 0 THEN 1.0 / (1.0 + POWER(cast(2 as float8), -(x + y))) "
    "ELSE POWER(cast(2 as float8), (x + y)) / (1.0 + POWER(cast(2 as float8), (x + y))) END",
    "x + y >= -6.6293566200796095",
    "greatest(1, length(a) // 4)",
    "a || ' ' || b",
]

NAME = st.one_of(st.none(), st.text(alphabet="ABÉ1 ", max_size=6))
# Term frequencies and weights: positive and negative doubles, and NULL.
DOUBLE = st.one_of(st.none(), st.floats(min_value=-40, max_value=40, allow_nan=False),
                   st.floats(min_value=1e-7, max_value=1.0))  # fmt: skip
DATE = st.one_of(
    st.none(), st.dates(min_value=dt.date(1930, 1, 1), max_value=dt.date(2010, 12, 31))
)
LIST = st.one_of(st.none(), st.lists(st.one_of(st.none(), st.sampled_from("ABC")), max_size=3))
ROW = st.fixed_dictionaries({
    "a": NAME, "b": NAME, "x": DOUBLE, "y": DOUBLE,
    "i": st.one_of(st.none(), st.integers(min_value=-1, max_value=3)),
    "d1": DATE, "d2": DATE, "la": LIST, "lb": LIST,
})  # fmt: skip


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect()
    assert strings.calibrate(c)
    yield c
    c.close()


def _compile(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    tree = sqlglot.parse_one(sql, read="duckdb")
    compiler = Compiler(con, set(COLUMNS))
    compiler.literal_doubles(tree)
    return compiler.compile(tree)


def _duckdb(con: duckdb.DuckDBPyConnection, sql: str, row: dict[str, Any]) -> Any:
    cols = ", ".join(f"CAST(? AS {t}) AS {c}" for c, t in COLUMNS.items())
    try:
        return ("value", con.execute(f"SELECT {sql} FROM (SELECT {cols})",
                                     [row[c] for c in COLUMNS]).fetchall()[0][0])  # fmt: skip
    except duckdb.Error:
        return ("error", None)


def _python(fn: Any, row: dict[str, Any]) -> Any:
    try:
        return ("value", fn(row))
    except Unsupported:
        return ("error", None)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b and type(a) is type(b)) or (
        isinstance(a, int | float) and isinstance(b, int | float)
        and not isinstance(a, bool) and not isinstance(b, bool) and a == b
    )  # fmt: skip


@pytest.mark.parametrize("sql", EXPRESSIONS)
@settings(max_examples=120, deadline=None)
@given(row=ROW)
def test_expression_evaluates_as_duckdb(
    con: duckdb.DuckDBPyConnection, sql: str, row: dict[str, Any]
) -> None:
    duck = _duckdb(con, sql, row)
    mine = _python(_compile(con, sql), row)
    if duck[0] == "error":
        # DuckDB refused the value (hamming of different lengths): Python must not
        # answer in its place.
        assert mine[0] == "error", sql
        return
    if mine[0] == "error":
        return  # Python stood aside: the warm matcher then asks DuckDB
    assert _same(mine[1], duck[1]), sql


def test_decimal_literals_take_duckdbs_double(con: duckdb.DuckDBPyConnection) -> None:
    """A 17-digit decimal is not what Python's float() of its text gives, on every
    machine: the compiler asks DuckDB."""
    for text in ("7.3430378394893765", "-0.00013817779303718268", "0.92"):
        fn = _compile(con, f"cast({text} as float8)")
        assert fn({}) == con.execute(f"SELECT CAST({text} AS DOUBLE)").fetchall()[0][0]


@pytest.mark.parametrize(
    "sql",
    ["regexp_matches(a, 'A')", "t.a = b", "sum(x)", "log(x)", "a SIMILAR TO b", "cast(a AS INT)"],
)
def test_what_is_not_known_is_refused_at_compile_time(
    con: duckdb.DuckDBPyConnection, sql: str
) -> None:
    with pytest.raises(Unsupported):
        _compile(con, sql)


def test_a_column_not_in_the_row_is_refused(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(Unsupported):
        _compile(con, "zz = a")
