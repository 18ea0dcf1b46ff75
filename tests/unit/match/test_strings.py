"""taxmatch.match.strings gives DuckDB's own results, to the last bit."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taxmatch.match import strings

# Few letters, so that common characters, transpositions and prefixes are frequent; an
# accented letter, a digit and a space as the data has them.
TEXT = st.text(alphabet="ABCDEÉ1 ", max_size=14)
LONG = st.text(alphabet="ABC", min_size=60, max_size=140)  # DuckDB's multi-word path


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect()
    assert strings.calibrate(c)
    yield c
    c.close()


def _duck(con: duckdb.DuckDBPyConnection, sql: str, a: str, b: str) -> object:
    return con.execute(f"SELECT {sql}", [a, b]).fetchall()[0][0]


@settings(max_examples=400, deadline=None)
@given(a=TEXT, b=TEXT)
def test_jaro_winkler_equals_duckdb(con: duckdb.DuckDBPyConnection, a: str, b: str) -> None:
    assert strings.jaro_winkler_similarity(a, b) == _duck(
        con, "jaro_winkler_similarity(?, ?)", a, b
    )


@settings(max_examples=200, deadline=None)
@given(a=TEXT, b=TEXT)
def test_jaro_winkler_of_a_shared_start_equals_duckdb(
    con: duckdb.DuckDBPyConnection, a: str, b: str
) -> None:
    """Strings that share a prefix reach the Winkler step (similarity above 0.7)."""
    a, b = "MAIN" + a, "MAIN" + b
    assert strings.jaro_winkler_similarity(a, b) == _duck(
        con, "jaro_winkler_similarity(?, ?)", a, b
    )


@settings(max_examples=60, deadline=None)
@given(a=LONG, b=LONG)
def test_jaro_winkler_of_long_strings_equals_duckdb(
    con: duckdb.DuckDBPyConnection, a: str, b: str
) -> None:
    assert strings.jaro_winkler_similarity(a, b) == _duck(
        con, "jaro_winkler_similarity(?, ?)", a, b
    )


@settings(max_examples=300, deadline=None)
@given(a=TEXT, b=TEXT)
def test_levenshtein_equals_duckdb(con: duckdb.DuckDBPyConnection, a: str, b: str) -> None:
    assert strings.levenshtein(a, b) == _duck(con, "levenshtein(?, ?)", a, b)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), n=st.integers(min_value=1, max_value=10))
def test_hamming_equals_duckdb(con: duckdb.DuckDBPyConnection, data: st.DataObject, n: int) -> None:
    text = st.text(alphabet="0123É", min_size=n, max_size=n)
    a, b = data.draw(text), data.draw(text)
    assert strings.hamming(a, b) == _duck(con, "hamming(?, ?)", a, b)


@pytest.mark.parametrize(("a", "b"), [("", ""), ("1", "12")])
def test_hamming_refuses_what_duckdb_refuses(
    con: duckdb.DuckDBPyConnection, a: str, b: str
) -> None:
    with pytest.raises(ValueError, match="hamming"):
        strings.hamming(a, b)
    with pytest.raises(duckdb.Error):
        _duck(con, "hamming(?, ?)", a, b)


def test_calibration_finds_the_rounding_duckdb_uses(con: duckdb.DuckDBPyConnection) -> None:
    """Of the two ways to round the Winkler step, exactly one matches this DuckDB on the
    samples (the samples tell them apart), and calibrate settles on it."""
    assert strings.calibrate(con)
    chosen = strings.FUSED["winkler"]
    rows = con.execute(
        "SELECT a, b, jaro_winkler_similarity(a, b) FROM (SELECT unnest(?) AS a, unnest(?) AS b)",
        [[a for a, _ in strings.SAMPLES], [b for _, b in strings.SAMPLES]],
    ).fetchall()
    assert all(strings.jaro_winkler_similarity(a, b) == d for a, b, d in rows)
    assert any(strings.jaro_winkler_similarity(a, b, fused=not chosen) != d for a, b, d in rows)
