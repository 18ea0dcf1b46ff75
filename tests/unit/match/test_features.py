"""request_feature_rows (Python, one lookup) gives request_features' (SQL) rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taxmatch.match.features import REQUEST_INPUTS, request_feature_rows, request_features

TYPES = {"row_number": "BIGINT", "date_of_birth": "DATE"}
TEXT = st.one_of(st.none(), st.just(""), st.text(alphabet="AB É", max_size=6))
# Surnames with particles, double spaces, one-letter words.
SURNAME = st.one_of(
    TEXT,
    st.lists(st.sampled_from(["DE", "LA", "VAN", "CRUZ", "O", "GARCIA", "", "Y"]),
             min_size=1, max_size=4).map(" ".join),
)  # fmt: skip
FIRST = st.one_of(TEXT, st.sampled_from(["BOB", "ROBERT", "BILL", "WILLIAM", "A", "MARIA"]))


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect()
    yield c
    c.close()


def _sql_rows(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    cols = ", ".join(f"{c} {TYPES.get(c, 'VARCHAR')}" for c in REQUEST_INPUTS)
    con.execute(f"CREATE OR REPLACE TABLE v_in ({cols})")
    con.executemany(
        f"INSERT INTO v_in VALUES ({', '.join('?' for _ in REQUEST_INPUTS)})",
        [[r[c] for c in REQUEST_INPUTS] for r in rows],
    )
    con.execute("CREATE OR REPLACE VIEW valid AS SELECT * FROM v_in")
    request_features(con, shares={})
    return con.sql("SELECT * FROM req_features ORDER BY unique_id").to_arrow_table().to_pylist()


def _norm(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        r = dict(r)
        if r["last_parts"] is not None:
            r["last_parts"] = sorted(r["last_parts"])  # DuckDB's list_distinct: no order
        out.append(r)
    return sorted(out, key=lambda r: str(r["unique_id"]))


ROW = st.fixed_dictionaries({
    "first_name": FIRST, "middle_name": TEXT, "last_name": SURNAME, "suffix": TEXT,
    "date_of_birth": st.one_of(st.none(), st.dates(dt.date(1940, 1, 1), dt.date(2005, 1, 1))),
    "tin": st.one_of(TEXT, st.just("123456789")), "house_number": TEXT, "street": TEXT,
    "unit": TEXT, "po_box": TEXT, "zip5": st.one_of(TEXT, st.just("12345")), "city": TEXT,
    "state": TEXT,
})  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(ROW, min_size=1, max_size=3))
def test_python_features_equal_the_sql(
    con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]
) -> None:
    rows = [{"row_number": i, **r} for i, r in enumerate(rows, start=1)]
    sql = _norm(_sql_rows(con, rows))
    ours = _norm(request_feature_rows(rows))
    differ = [
        (a["unique_id"], c) for a, b in zip(ours, sql, strict=True) for c in a if a[c] != b[c]
    ]
    assert differ == []
