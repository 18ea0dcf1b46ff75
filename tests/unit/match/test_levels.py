"""``taxmatch.match.levels``: one declaration, two renderings that agree.

The Splink rendering is today's model exactly (the settings Splink produces, as JSON);
each level's Python predicate gives DuckDB's verdict on the level's own SQL condition
(hypothesis, on small alphabets where equalities, near misses, NULLs and empty strings
are common), except where it says it cannot be sure; and the first level that holds
follows the level order (exact before swapped before similar).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taxmatch.match import levels as lv
from taxmatch.match import similarity, thresholds
from taxmatch.match.features import FEATURE_COLUMNS
from taxmatch.match.model import COMPARISONS, settings_dict

Row = dict[str, Any]

LISTS = {"first_names", "nicknames", "last_parts", "tins"}
TEXT = st.one_of(st.none(), st.just(""), st.text(alphabet="AB É1", max_size=5))
NAME = st.one_of(TEXT, st.sampled_from(["ANN", "ANNA", "A", "BOB", "ROBERT", "MARTHA", "MARHTA"]))
DATE = st.one_of(st.none(), st.dates(dt.date(1970, 1, 1), dt.date(1972, 12, 31)))
LIST = st.one_of(st.none(), st.lists(st.one_of(st.none(), NAME), max_size=3))


def _value(column: str) -> Any:
    if column in LISTS:
        return LIST
    if column == "date_of_birth":
        return DATE
    if column == "tin":
        return st.one_of(TEXT, st.sampled_from(["123456789", "123456780", "12345678"]))
    return NAME


SIDE = st.fixed_dictionaries({c: _value(c) for c in FEATURE_COLUMNS})


def _type(column: str) -> str:
    return "VARCHAR[]" if column in LISTS else "DATE" if column == "date_of_birth" else "VARCHAR"


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect()
    c.execute("SET threads = 1")
    yield c
    c.close()


def _conditions() -> list[tuple[int, int, str]]:
    """(comparison, level, SQL condition) of every level but the else levels."""
    comparisons = settings_dict("link_only", 0.5)["comparisons"]
    return [
        (i, j, level["sql_condition"])
        for i, c in enumerate(comparisons)
        for j, level in enumerate(c["comparison_levels"])
        if level["sql_condition"] != "ELSE"
    ]


CONDITIONS = _conditions()


def _duckdb(con: duckdb.DuckDBPyConnection, condition: str, req: Row, rec: Row) -> bool | None:
    """DuckDB's verdict (None: an error, as hamming of empty strings raises)."""
    cols = [(f"{c}_{s}", _type(c)) for c in FEATURE_COLUMNS for s in ("l", "r")]
    values = [(req if name.endswith("_l") else rec)[name[:-2]] for name, _ in cols]
    select = ", ".join(f"?::{t} AS {name}" for name, t in cols)
    try:
        got = con.execute(
            f"SELECT coalesce({condition}, false) FROM (SELECT {select})", values
        ).fetchall()
    except duckdb.Error:
        return None
    return bool(got[0][0])


def test_splink_settings_are_the_model_before_the_declarations() -> None:
    """The settings the declarations render, to the byte, as before they were declared
    (trained models and batch results are unchanged)."""
    expected = json.loads((Path(__file__).parent / "settings_before_levels.json").read_text())
    for link_type in ("link_only", "dedupe_only"):
        expected["link_type"] = link_type
        ours = settings_dict(link_type, 1e-4)  # type: ignore[arg-type]
        assert json.dumps(ours, sort_keys=True) == json.dumps(expected, sort_keys=True)


@settings(max_examples=1500, deadline=None)
@given(req=SIDE, rec=SIDE, which=st.sampled_from(CONDITIONS))
def test_python_predicate_gives_duckdbs_verdict(
    con: duckdb.DuckDBPyConnection, req: Row, rec: Row, which: tuple[int, int, str]
) -> None:
    i, j, condition = which
    level = COMPARISONS[i].levels[j]
    try:
        ours = level.holds(req, rec) is True
    except lv.Unsure:
        return  # such a pair goes to the SQL
    assert ours == _duckdb(con, condition, req, rec)


@settings(max_examples=300, deadline=None)
@given(a=TEXT.filter(lambda v: v is not None), b=TEXT.filter(lambda v: v is not None))
def test_string_functions_are_duckdbs(con: duckdb.DuckDBPyConnection, a: str, b: str) -> None:
    jw, lev = con.execute(
        "SELECT jaro_winkler_similarity(?, ?), levenshtein(?, ?)", [a, b, a, b]
    ).fetchall()[0]
    assert abs(similarity.jaro_winkler(a, b) - jw) <= thresholds.SIMILARITY_EPSILON
    assert similarity.levenshtein(a, b) == lev


def _first_level(comparison: lv.Comparison, req: Row, rec: Row) -> Any:
    return next(level for level in comparison.levels if level.holds(req, rec) is True)


@settings(max_examples=200, deadline=None)
@given(
    side=SIDE,
    text=st.text(alphabet="ABC", min_size=1, max_size=6),
    day=st.dates(dt.date(1940, 1, 1), dt.date(2005, 1, 1)),
)
def test_equal_values_take_the_exact_level(side: Row, text: str, day: dt.date) -> None:
    checked = 0
    for comparison in COMPARISONS:
        exact = [lvl for lvl in comparison.levels if isinstance(lvl, lv.Exact)][:1]
        if not exact:
            continue  # the TIN: a filed TIN is a list, its level "TIN filed"
        value = day if exact[0].column == "date_of_birth" else text
        req = {**side, exact[0].column: value}
        rec = {**side, exact[0].column: value}
        assert _first_level(comparison, req, rec) is exact[0]
        checked += 1
    assert checked == len(COMPARISONS) - 1


@settings(max_examples=200, deadline=None)
@given(req=SIDE, rec=SIDE)
def test_a_null_side_takes_the_null_level_only(req: Row, rec: Row) -> None:
    for comparison in COMPARISONS:
        null = comparison.levels[0]
        assert isinstance(null, lv.Null)
        either = req[null.column] is None or rec[null.column] is None
        assert (null.holds(req, rec) is True) == either
        if either:
            assert _first_level(comparison, req, rec) is null


@settings(max_examples=200, deadline=None)
@given(
    side=SIDE,
    first=st.text(alphabet="ABC", min_size=2, max_size=6),
    last=st.text(alphabet="XYZ", min_size=2, max_size=6),
)
def test_swapped_names_take_the_swapped_level(side: Row, first: str, last: str) -> None:
    req = {**side, "first_name": last, "last_key": first}
    rec = {
        **side,
        "first_name": first,
        "last_key": last,
        "first_names": None,
        "nicknames": None,
        "last_parts": None,
    }
    for name in ("first_name", "last_name"):
        comparison = next(c for c in COMPARISONS if c.name == name)
        assert isinstance(_first_level(comparison, req, rec), lv.Swapped)


def test_similarity_at_a_threshold_is_unsure() -> None:
    level = lv.JaroWinklerAtLeast("street", 1.0, lv.Prior(0.5))
    with pytest.raises(lv.Unsure):
        level.holds({"street": "ELM"}, {"street": "ELM"})
    assert level.holds({"street": "ELM"}, {"street": "OAK"}) is False


def test_thresholds_are_the_named_constants() -> None:
    sql = json.dumps(settings_dict("link_only", 0.5)["comparisons"])
    levels = (
        ("first_name", thresholds.FIRST_NAME_JW),
        ("last_key", thresholds.LAST_NAME_JW),
        ("street", thresholds.STREET_JW),
        ("city", thresholds.CITY_JW),
    )
    for name, value in levels:
        assert f'jaro_winkler_similarity(\\"{name}_l\\", \\"{name}_r\\") >= {value}' in sql
    assert (
        f'levenshtein(\\"house_number_l\\", \\"house_number_r\\") <= '
        f"{thresholds.HOUSE_NUMBER_LEVENSHTEIN}" in sql
    )
    assert f"<= {thresholds.DOB_WINDOW_DAYS} " in sql
    assert f"hamming(tin_l, tin_r) = {thresholds.TIN_HAMMING}" in sql
