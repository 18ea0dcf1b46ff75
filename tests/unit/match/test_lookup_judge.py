"""The two gatherers of a request's evidence give the same ``outcomes``: the batch's
(``taxmatch.match.collapse``, in DuckDB) and one lookup's (``taxmatch.match.lookup_judge``,
in Python over the lookup index's rows); and the rules they both call mend, flag and
default as they should.

Each test builds one small world — the person tables, the requests, the scored pairs and
the nickname table — runs ``collapse`` on it in an in-memory DuckDB and the lookup's
``best_persons`` and ``outcomes_of``
on the same Python rows, and compares the two answers row by row. The generated worlds
draw every string from a tiny alphabet, so that equal values, one-character typos,
near-identical streets, empty strings and NULLs meet often: the branches that mend a
filed address (a dropped unit, a typo, a one-year slip, an undeliverable line), the
household rule, the slip-support limit, the missing-unit check, the name and address
agreement and the identifier conflicts all come up.

A failure names row numbers and column names, never values.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taxmatch.match import collapse as collapse_module
from taxmatch.match.collapse import OUTCOME_SCHEMA, collapse
from taxmatch.match.lookup_judge import best_persons, outcomes_of

Row = dict[str, Any]

_S, _I, _L, _D = pa.string(), pa.int32(), pa.int64(), pa.date32()
_ADDRESS = [
    ("house_number", _S),
    ("street", _S),
    ("unit", _S),
    ("po_box", _S),
    ("city", _S),
    ("state", _S),
    ("zip5", _S),
    ("line1", _S),
]

# The columns ``collapse`` reads, with the reference snapshot's types.
SCHEMAS: dict[str, pa.Schema] = {
    "r.persons": pa.schema([("person_id", _S), ("tin", _S), ("first_name", _S),
                            ("suffix", _S), ("date_of_birth", _D), ("deceased", pa.bool_())]),
    "r.person_names": pa.schema([("person_id", _S), ("first_name", _S), ("last_key", _S)]),
    "r.filings": pa.schema([("person_id", _S), ("tax_year", _I), *_ADDRESS, ("phone", _S)]),
    "r.person_addresses": pa.schema([("person_id", _S), *_ADDRESS, ("last_year", _I),
                                     ("n_years", _L), ("support", _L), ("n_filings", _L)]),
    "valid": pa.schema([("row_number", _L), ("first_name", _S), ("last_name", _S),
                        ("tax_periods", pa.list_(_I)), ("house_number", _S), ("street", _S),
                        ("zip5", _S), ("po_box", _S), ("suffix", _S), ("date_of_birth", _D),
                        ("unit", _S), ("city", _S), ("state", _S)]),
    "nick": pa.schema([("first_name", _S), ("nicknames", pa.list_(_S)), ("fixes", pa.list_(_S))]),
    "pred": pa.schema([("unique_id_l", _S), ("unique_id_r", _S), ("match_weight", pa.float64()),
                       ("match_probability", pa.float64())]),
}  # fmt: skip


@dataclass
class World:
    valid: list[Row]
    pred: list[Row]
    persons: list[Row]
    person_names: list[Row]
    filings: list[Row]
    person_addresses: list[Row]
    nick: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    """One in-memory DuckDB for the module's examples (each replaces every table)."""
    connection = duckdb.connect()
    try:
        connection.execute("SET threads = 1")  # tiny tables; the cores are shared
        connection.execute("CREATE SCHEMA r")
        yield connection
    finally:
        connection.close()


# --- running both ------------------------------------------------------------------------


def _sql(
    con: duckdb.DuckDBPyConnection, world: World, review_threshold: float, margin: float
) -> list[Row]:
    tables = {
        "r.persons": world.persons,
        "r.person_names": world.person_names,
        "r.filings": world.filings,
        "r.person_addresses": world.person_addresses,
        "valid": world.valid,
        "pred": world.pred,
        "nick": [{"first_name": k, "nicknames": v, "fixes": f} for k, (v, f) in world.nick.items()],
    }
    for name, rows in tables.items():
        con.register("source_rows", pa.Table.from_pylist(rows, schema=SCHEMAS[name]))
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM source_rows")
        con.unregister("source_rows")
    collapse(con, "pred", review_threshold, margin, ref="r")
    out: list[Row] = con.sql("SELECT * FROM outcomes").to_arrow_table().to_pylist()
    return out


def _python(world: World, review_threshold: float, margin: float) -> list[Row]:
    """The lookup's path: best persons from the pairs, then the rules on the world's rows."""
    own = {p["person_id"]: p["first_name"] for p in world.persons}
    best = best_persons(
        world.valid, world.pred, own, review_threshold=review_threshold, margin=margin
    )
    people = {
        "persons": world.persons,
        "person_names": world.person_names,
        "filings": world.filings,
        "person_addresses": world.person_addresses,
    }
    return outcomes_of(world.valid, best, people, world.nick)


def _order(row: Row) -> tuple[Any, str]:
    return (row["row_number"], repr(sorted(row.items())))


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _differences(sql_rows: list[Row], py_rows: list[Row]) -> list[tuple[Any, str]]:
    """(row_number, column) wherever the two answers differ; names only, no values."""
    sql_counts = Counter(r["row_number"] for r in sql_rows)
    py_counts = Counter(r["row_number"] for r in py_rows)
    if sql_counts != py_counts:
        return [
            (rn, "<number of rows>")
            for rn in sorted(set(sql_counts) | set(py_counts))
            if sql_counts[rn] != py_counts[rn]
        ]
    found: list[tuple[Any, str]] = []
    for s, p in zip(sorted(sql_rows, key=_order), sorted(py_rows, key=_order), strict=True):
        if list(s) != list(p):
            found.append((s["row_number"], f"<columns: {sorted(set(s) ^ set(p))} or order>"))
        found.extend((s["row_number"], c) for c in s if c in p and not _same(s[c], p[c]))
    return found


def _compare(
    con: duckdb.DuckDBPyConnection, world: World, review_threshold: float, margin: float
) -> list[Row]:
    """Both answers; asserts they are the same rows (the SQL's are returned)."""
    sql_rows = _sql(con, world, review_threshold, margin)
    py_rows = _python(world, review_threshold, margin)
    differ = _differences(sql_rows, py_rows)
    assert not differ, (
        f"the lookup's outcomes differ from the batch's at (row_number, column): {differ}"
    )
    assert sql_rows, "no outcomes"
    in_order = list(sql_rows[0]) == list(OUTCOME_SCHEMA.names)
    assert in_order, "collapse's outcome columns are not OUTCOME_SCHEMA's"
    return sql_rows


# --- generated worlds -------------------------------------------------------------------

HOUSES = ["", "12", "12", "13", "112", "21"]
STREETS = ["", "MAIN ST", "MAIN ST", "MAIN SR", "MAIN STREET", "OAK AVE"]
UNITS = ["", "", "1", "2", "APT 3"]
BOXES = ["", "", "", "", "PO BOX 5"]
ZIPS = ["", "12345", "12345", "12345", "12345", "12346"]
CITIES = ["", "SPRINGFIELD", "SPRINGFIELD", "SPRINGFIELD", "SPRINGFIELD", "SPRINGFELD"]
STATES = ["", "IL", "IL", "IL", "IL", "IN"]
PHONES = ["", "5550100", "5550101"]
CHOICES = {
    "house_number": HOUSES,
    "street": STREETS,
    "unit": UNITS,
    "po_box": BOXES,
    "city": CITIES,
    "state": STATES,
    "zip5": ZIPS,
}
SPARSE = ("unit", "po_box")  # mostly empty, even on a complete address
FIRSTS = ["", "J", "JOHN", "JON", "JOHNNY", "SMITH", "MARY", "M"]
LAST_NAMES = ["", "SMITH", "SMYTH", "JOHN", "DE LA CRUZ"]
LAST_KEYS = ["", "SMITH", "SMYTH", "JOHN", "DELACRUZ"]
SUFFIXES = ["", "", "JR", "SR"]
TINS = ["", "123456789", "123456780"]
YEARS = list(range(2019, 2026))
SUPPORTS = [1, 1, 2, 2, 3, 3, 4, 5, 50, 50, 51, 60]
DOBS: list[dt.date | None] = [
    None, dt.date(1980, 3, 4), dt.date(1980, 4, 3), dt.date(1983, 4, 3),
    dt.date(1981, 3, 4), dt.date(1982, 3, 4), dt.date(1980, 3, 5),
    dt.date(1981, 3, 5), dt.date(1981, 3, 6),  # 366 and 367 days after 1980-03-04
]  # fmt: skip
WEIGHTS = [-4.0, 0.0, 3.0, 6.0, 9.0, 12.0]
PROBABILITIES = [0.0, 0.5, 0.8, 0.9, 0.95, 0.99, 1.0]
THRESHOLDS = [0.5, 0.8, 0.9, 0.95]
MARGINS = [1.0, 3.0, 6.0]
PIDS = ["P1", "P2", "P3", "P4"]
HOUSEHOLD = ["H1", "H2"]  # filers at the persons' addresses who are not candidates


def _nullable(values: list[Any]) -> st.SearchStrategy[Any]:
    """One of ``values``, or (one time in twenty) NULL."""
    return st.tuples(st.integers(0, 19), st.sampled_from(values)).map(
        lambda t: None if t[0] == 19 else t[1]
    )


def _line1(where: Row) -> str:
    """As the snapshot builds it: house and street, else the PO box."""
    house_street = f"{where['house_number'] or ''} {where['street'] or ''}".strip()
    return house_street or (where["po_box"] or "")


@st.composite
def _address(draw: st.DrawFn, base: Row | None = None) -> Row:
    """An address (four in five complete); or, given ``base``, ``base`` with up to two
    fields redrawn (a typo, a dropped unit, a neighbour's flat, another street)."""
    if base is None:  # complete four times in five
        complete = draw(st.integers(0, 4)) > 0
        out = {
            name: draw(_nullable([v for v in values if v or name in SPARSE or not complete]))
            for name, values in CHOICES.items()
        }
    else:
        changed = draw(st.sets(st.sampled_from(sorted(CHOICES)), max_size=2))
        out = {
            name: draw(_nullable(CHOICES[name])) if name in changed else base[name]
            for name in CHOICES
        }
    out["line1"] = None if draw(st.integers(0, 19)) == 19 else _line1(out)
    return out


@st.composite
def _history(draw: st.DrawFn, pid: str, where: Row, years: list[int | None]) -> Row:
    """A ``person_addresses`` row: half the time as the snapshot derives it from the
    filings (years filed there, the last of them, the filings), else drawn (NULL one time
    in seven); support drawn, across the ``MAX_SLIP_SUPPORT`` limit now and then."""
    filed = sorted({y for y in years if y is not None})
    derived = bool(filed) and draw(st.booleans())
    return {
        "person_id": pid,
        **where,
        "last_year": filed[-1] if derived else draw(st.sampled_from([*YEARS[-6:], None])),
        "n_years": len(filed) if derived else draw(st.sampled_from([1, 1, 2, 3, 4, 5, None])),
        "support": draw(_nullable(SUPPORTS)),
        "n_filings": len([y for y in years if y is not None])
        if derived
        else draw(_nullable(SUPPORTS)),
    }


@st.composite
def _filed(draw: st.DrawFn, home: Row, pool: list[Row]) -> list[tuple[int | None, Row]]:
    """A person's filings (year, address): at home over the years, the latest year or
    two often at a slip of it (the unit dropped, a typo, a neighbour's flat) or another
    address; now and then a NULL year, a second filing in the latest year with another
    unit, or no filing at all."""
    if draw(st.integers(0, 5)) == 0:
        return []
    how = draw(st.integers(0, 9))
    if how < 3:
        latest = home
    elif how < 5:
        latest = {**home, "unit": ""}
    else:
        latest = draw(_address(home if how < 9 else draw(st.sampled_from(pool))))
    last = draw(st.integers(2022, 2025))
    first = max(2019, last - draw(st.sampled_from([0, 1, 2, 3, 3, 4, 4])))
    trailing = draw(st.sampled_from([1, 1, 2]))
    filed: list[tuple[int | None, Row]] = []
    for year in range(first, last + 1):
        if year > last - trailing:
            where = latest
        elif draw(st.integers(0, 5)) < 5:
            where = home
        else:
            where = draw(_address(home))
        filed.append((year, where))
    extra = draw(st.integers(0, 9))
    if extra == 0:
        filed.append((None, draw(st.sampled_from(pool))))
    elif extra == 1:
        filed.append((last, {**latest, "unit": draw(st.sampled_from(UNITS))}))
    return filed


@st.composite
def worlds(draw: st.DrawFn) -> World:
    pids = PIDS[: draw(st.integers(1, 4))]
    base = draw(_address())
    pool = [base] + [draw(_address(base)) for _ in range(draw(st.integers(1, 3)))]
    persons = [
        {
            "person_id": pid,
            "tin": draw(_nullable(TINS)),
            "first_name": draw(_nullable(FIRSTS)),
            "suffix": draw(_nullable(SUFFIXES)),
            "date_of_birth": draw(st.sampled_from(DOBS)),
            "deceased": draw(st.sampled_from([False, False, True, None])),
        }
        for pid in pids
    ]
    person_names = [
        {
            "person_id": pid,
            "first_name": draw(_nullable(FIRSTS)),
            "last_key": draw(_nullable(LAST_KEYS)),
        }
        for pid in pids
        for _ in range(draw(st.integers(0, 3)))
    ]
    filings: list[Row] = []
    addresses: list[Row] = []
    for pid in pids:
        at: list[tuple[Row, list[int | None]]] = []
        for year, where in draw(_filed(draw(st.sampled_from(pool)), pool)):
            filings.append(
                {"person_id": pid, "tax_year": year, **where, "phone": draw(_nullable(PHONES))}
            )
            years = next((ys for w, ys in at if w == where), None)
            if years is None:
                at.append((where, [year]))
            else:
                years.append(year)
        # The person's address history, derived from the filings (not always all of it;
        # a row twice now and then), and a household member on the joint returns: on
        # all of them, or on some.
        household = draw(st.sampled_from([None, None, None, *HOUSEHOLD]))
        everywhere = draw(st.sampled_from([True, True, False]))
        for where, years in at:
            for _ in range(draw(st.sampled_from([1, 1, 1, 1, 1, 1, 1, 1, 0]))):
                addresses.append(draw(_history(pid, where, years)))
            if household is not None and (everywhere or draw(st.booleans())):
                addresses.append(draw(_history(household, where, years)))
    # Others at the pool's addresses or near them (a neighbour in another unit, a slip
    # many file at), and more history of the persons' own.
    for _ in range(draw(st.integers(0, 3))):
        pid = draw(st.sampled_from(pids + HOUSEHOLD))
        where = draw(st.sampled_from(pool))
        if draw(st.booleans()):
            where = {**where, "unit": draw(st.sampled_from(UNITS))}
        else:
            where = draw(_address(where))
        addresses.append(draw(_history(pid, where, [])))
    valid = [draw(_request(rn, pool)) for rn in range(1, draw(st.integers(1, 3)) + 1)]
    pred = [
        {
            "unique_id_l": str(v["row_number"]),
            "unique_id_r": f"{draw(st.sampled_from(pids))}|{draw(st.integers(0, 2))}",
            "match_weight": draw(st.sampled_from(WEIGHTS)),
            "match_probability": draw(
                st.one_of(st.sampled_from(PROBABILITIES), st.floats(0.0, 1.0))
            ),
        }
        for v in valid
        for _ in range(draw(st.sampled_from([0, 1, 1, 2, 2, 3, 4])))
    ]
    named = draw(st.sets(st.sampled_from(FIRSTS), max_size=3))
    nick = {
        name: (
            draw(st.one_of(st.none(), st.lists(_nullable(FIRSTS), max_size=3))),
            draw(st.lists(st.sampled_from(FIRSTS), max_size=2)),
        )
        for name in sorted(named)
    }
    # One row per person and address, as the snapshot derives them.
    seen: set[tuple[Any, ...]] = set()
    unique: list[Row] = []
    for row in addresses:
        key = (
            row["person_id"],
            *(row[c] for c in ("house_number", "street", "unit", "po_box", "zip5")),
        )
        if key not in seen:
            seen.add(key)
            unique.append(row)
    addresses = unique
    # The SQL reads rows in no particular order: neither may the Python depend on it.
    filings, addresses = draw(st.permutations(filings)), draw(st.permutations(addresses))
    return World(valid, pred, persons, person_names, filings, addresses, nick)


@st.composite
def _periods(draw: st.DrawFn) -> list[int | None] | None:
    """Mostly a run of consecutive years; now and then any years, NULLs among them, or
    NULL."""
    kind = draw(st.integers(0, 9))
    if kind < 7:
        last = draw(st.integers(2022, 2025))
        return list(range(max(2019, last - draw(st.integers(0, 3))), last + 1))
    if kind < 9:
        periods: list[int | None] = draw(st.lists(_nullable(YEARS), max_size=3))
        return periods
    return None


@st.composite
def _request(draw: st.DrawFn, row_number: int, pool: list[Row]) -> Row:
    where = draw(_address(draw(st.sampled_from(pool))))
    return {
        "row_number": row_number,
        "first_name": draw(_nullable(FIRSTS)),
        "last_name": draw(_nullable(LAST_NAMES)),
        "tax_periods": draw(_periods()),
        "house_number": where["house_number"],
        "street": where["street"],
        "zip5": where["zip5"],
        "po_box": where["po_box"],
        "suffix": draw(_nullable(SUFFIXES)),
        "date_of_birth": draw(st.sampled_from(DOBS)),
        "unit": where["unit"],
        "city": where["city"],
        "state": where["state"],
    }


@given(
    world=worlds(),
    review_threshold=st.sampled_from(THRESHOLDS),
    margin=st.sampled_from(MARGINS),
)
@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
def test_python_gives_the_sql_rows(
    con: duckdb.DuckDBPyConnection, world: World, review_threshold: float, margin: float
) -> None:
    _compare(con, world, review_threshold, margin)


# --- hand-made cases ---------------------------------------------------------------------


def _where(
    house: str,
    street: str,
    unit: str = "",
    *,
    po_box: str = "",
    zip5: str | None = "12345",
    city: str = "SPRINGFIELD",
) -> Row:
    line1 = f"{house} {street}".strip() or po_box
    return {
        "house_number": house,
        "street": street,
        "unit": unit,
        "po_box": po_box,
        "city": city,
        "state": "IL",
        "zip5": zip5,
        "line1": line1,
    }


def _filing(pid: str, year: int, where: Row) -> Row:
    return {"person_id": pid, "tax_year": year, **where, "phone": "5550100"}


def _history_row(pid: str, where: Row, n_years: int, support: int, last_year: int) -> Row:
    return {
        "person_id": pid,
        **where,
        "last_year": last_year,
        "n_years": n_years,
        "support": support,
        "n_filings": n_years,
    }


def _person(pid: str) -> Row:
    return {
        "person_id": pid,
        "tin": "123456789",
        "first_name": "JOHN",
        "suffix": "",
        "date_of_birth": dt.date(1980, 3, 4),
        "deceased": False,
    }


def _valid(row_number: int, periods: list[int], where: Row) -> Row:
    return {
        "row_number": row_number,
        "first_name": "JOHN",
        "last_name": "SMITH",
        "tax_periods": periods,
        "house_number": where["house_number"],
        "street": where["street"],
        "zip5": where["zip5"],
        "po_box": where["po_box"],
        "suffix": "",
        "date_of_birth": dt.date(1980, 3, 4),
        "unit": where["unit"],
        "city": where["city"],
        "state": where["state"],
    }


def _one_person(filings: list[Row], addresses: list[Row], periods: list[int]) -> World:
    return World(
        valid=[_valid(1, periods, filings[0])],
        pred=[
            {
                "unique_id_l": "1",
                "unique_id_r": "P1|0",
                "match_weight": 12.0,
                "match_probability": 0.99,
            }
        ],
        persons=[_person("P1")],
        person_names=[{"person_id": "P1", "first_name": "JOHN", "last_key": "SMITH"}],
        filings=filings,
        person_addresses=addresses,
        nick={"JOHN": (["JOHNNY"], [])},
    )


def test_unit_dropped_on_the_latest_filing_is_mended_from_history(
    con: duckdb.DuckDBPyConnection,
) -> None:
    with_unit, without = _where("12", "MAIN ST", "APT 3"), _where("12", "MAIN ST")
    world = _one_person(
        [
            _filing("P1", 2021, with_unit),
            _filing("P1", 2022, with_unit),
            _filing("P1", 2023, without),
        ],
        [_history_row("P1", with_unit, 2, 2, 2022), _history_row("P1", without, 1, 1, 2023)],
        [2023],
    )
    (row,) = _compare(con, world, 0.9, 3.0)
    mended = row["unit"] == "APT 3" and row["filing_year"] == 2023 and row["address_usable"]
    assert mended, "row 1: unit (dropped on the latest filing) not mended from history"
    recorded = (row["address_mended"], row["mended_from"]) == (
        "unit",
        "12 MAIN ST SPRINGFIELD IL 12345",
    )
    assert recorded, "row 1: the mending of the unit is not recorded"


def test_one_year_slip_is_mended_to_the_address_filed_in_other_years(
    con: duckdb.DuckDBPyConnection,
) -> None:
    home, slip = _where("12", "MAIN ST"), _where("21", "MAIN ST")
    world = _one_person(
        [_filing("P1", 2020, home), _filing("P1", 2021, home), _filing("P1", 2022, slip)],
        [_history_row("P1", home, 2, 3, 2021), _history_row("P1", slip, 1, 1, 2022)],
        [2021, 2022],
    )
    (row,) = _compare(con, world, 0.9, 3.0)
    mended = row["line1"] == "12 MAIN ST"
    assert mended, "row 1: line1 (a one-year slip) not mended"
    assert row["address_mended"] == "line", "row 1: the mending of the line is not recorded"


def test_missing_unit_where_a_neighbour_files_with_units(con: duckdb.DuckDBPyConnection) -> None:
    home = _where("12", "MAIN ST")
    world = _one_person(
        [_filing("P1", 2023, home)],
        [
            _history_row("P1", home, 1, 2, 2023),
            _history_row("H1", _where("12", "MAIN ST", "2"), 3, 3, 2023),
        ],
        [2023],
    )
    (row,) = _compare(con, world, 0.9, 3.0)
    flagged = row["address_usable"] is False
    assert flagged, "row 1: address_usable (a unit missing) not false"


def _mend_case(slip_years: int, slip_support: int, household: list[Row]) -> World:
    """Home at 12 MAIN ST for three years, then ``slip_years`` at 12 MAIN SR."""
    home, slip = _where("12", "MAIN ST"), _where("12", "MAIN SR")
    years = [2019, 2020, 2021, 2022, 2023][: 3 + slip_years]
    return _one_person(
        [_filing("P1", y, home if i < 3 else slip) for i, y in enumerate(years)],
        [
            _history_row("P1", home, 3, 3, 2021),
            _history_row("P1", slip, slip_years, slip_support, years[-1]),
            *household,
        ],
        [years[-1]],
    )


_AT_SLIP = _where("12", "MAIN SR")
_AT_HOME = _where("12", "MAIN ST")


@pytest.mark.parametrize(
    ("world", "mended"),
    [
        pytest.param(_mend_case(2, 2, []), True, id="typo filed two years"),
        pytest.param(_mend_case(1, 2, []), True, id="typo filed one year"),
        pytest.param(_mend_case(2, 51, []), False, id="typo at an address many file at"),
        pytest.param(_mend_case(2, 50, []), True, id="typo at the support limit"),
        pytest.param(_mend_case(2, 2, [_history_row("H1", _AT_SLIP, 2, 2, 2023)]), False,
                     id="someone who never lived at home files at the typo"),
        pytest.param(_mend_case(2, 2, [_history_row("H1", _AT_SLIP, 2, 2, 2023),
                                       _history_row("H1", _AT_HOME, 3, 3, 2021)]), True,
                     id="the household files at the typo and at home"),
    ],
)  # fmt: skip
def test_typo_mended_unless_the_address_is_real(
    con: duckdb.DuckDBPyConnection, world: World, mended: bool
) -> None:
    (row,) = _compare(con, world, 0.9, 3.0)
    as_expected = (row["line1"] == "12 MAIN ST") is mended
    assert as_expected, "row 1: line1 mended, or kept, against the rule"


def _zip_case(home_years: int, slip_zip: str, others: list[Row]) -> World:
    """12 MAIN ST in ZIP 12345 for ``home_years`` years, then one year in ``slip_zip``."""
    home, slip = _where("12", "MAIN ST"), _where("12", "MAIN ST", zip5=slip_zip)
    years = list(range(2023 - home_years, 2024))
    return _one_person(
        [_filing("P1", y, home if y < 2023 else slip) for y in years],
        [
            _history_row("P1", home, home_years, home_years, 2022),
            _history_row("P1", slip, 1, 1 + len(others) // 2, 2023),
            *others,
        ],
        [2023],
    )


# Someone else filing at the typo's address for two years.
_AT_TYPO = _history_row("H1", _where("12", "MAIN ST", zip5="12346"), 2, 2, 2023)


@pytest.mark.parametrize(
    ("world", "zip5", "usable"),
    [
        pytest.param(_zip_case(3, "12346", []), "12345", True, id="one digit, three years agree"),
        pytest.param(_zip_case(2, "12354", []), "12345", True, id="two digits swapped"),
        pytest.param(_zip_case(1, "12346", []), "12346", False, id="one year against one: review"),
        pytest.param(_zip_case(3, "12399", []), "12345", True, id="two digits apart"),
        pytest.param(_zip_case(3, "12999", []), "12345", True, id="three digits, the same door"),
        pytest.param(_zip_case(3, "98765", []), "12345", True, id="every digit, the same door"),
        pytest.param(_zip_case(1, "98765", []), "98765", False, id="far, one year against one"),
        pytest.param(_zip_case(3, "12346", [_AT_TYPO]), "12346", False, id="another files there"),
        pytest.param(
            _zip_case(3, "12346", [_AT_TYPO, _history_row("H1", _AT_HOME, 3, 3, 2022)]),
            "12345",
            True,
            id="the household files at the typo and at home",
        ),
    ],
)
def test_a_zip_typo_on_the_latest_filing_is_mended_only_from_a_strong_consensus(
    con: duckdb.DuckDBPyConnection, world: World, zip5: str, usable: bool
) -> None:
    (row,) = _compare(con, world, 0.9, 3.0)
    as_expected = (row["zip5"], row["address_usable"]) == (zip5, usable)
    assert as_expected, "row 1: zip5 or address_usable"  # no address value in the message
    kept_line = row["line1"] == "12 MAIN ST"
    assert kept_line, "row 1: line1"
    mended = zip5 == "12345"
    recorded = (row["address_mended"], row["mended_from"]) == (
        ("zip", f"12 MAIN ST SPRINGFIELD IL {world.filings[-1]['zip5']}")
        if mended
        else (None, None)
    )
    assert recorded, "row 1: address_mended or mended_from"


@pytest.mark.parametrize(
    ("slip_city", "zip5", "mended"),
    [
        pytest.param("SPRINGFELD", "12345", True, id="the town mistyped too: one door"),
        pytest.param("SHELBYVILLE", "12999", False, id="another town: a move"),
    ],
)
def test_a_zip_slip_is_the_same_door_in_the_same_town(
    con: duckdb.DuckDBPyConnection, slip_city: str, zip5: str, mended: bool
) -> None:
    home, slip = _where("12", "MAIN ST"), _where("12", "MAIN ST", zip5="12999", city=slip_city)
    world = _one_person(
        [*(_filing("P1", y, home) for y in (2020, 2021, 2022)), _filing("P1", 2023, slip)],
        [_history_row("P1", home, 3, 3, 2022), _history_row("P1", slip, 1, 1, 2023)],
        [2023],
    )
    (row,) = _compare(con, world, 0.9, 3.0)
    town = "SPRINGFIELD" if mended else slip_city
    as_expected = (row["zip5"], row["city"], row["address_usable"]) == (zip5, town, True)
    assert as_expected, "row 1: zip5, city or address_usable"
    assert (row["address_mended"] == "zip") is mended, "row 1: address_mended"


@pytest.mark.parametrize(
    ("home_support", "slip_support", "zip5", "usable"),
    [
        pytest.param(4, 1, "12345", True, id="one year at home, where others file: mended"),
        pytest.param(2, 1, "12346", False, id="one other filing (a joint return): review"),
        pytest.param(1, 1, "12346", False, id="one year against one: review"),
        pytest.param(1, 51, "12346", True, id="a busy slip is a real address"),
    ],
)
def test_a_zip_slip_against_one_year_at_home_is_mended_where_others_file_at_home(
    con: duckdb.DuckDBPyConnection, home_support: int, slip_support: int, zip5: str, usable: bool
) -> None:
    home, slip = _where("12", "MAIN ST"), _where("12", "MAIN ST", zip5="12346")
    world = _one_person(
        [_filing("P1", 2022, home), _filing("P1", 2023, slip)],
        [
            _history_row("P1", home, 1, home_support, 2022),
            _history_row("P1", slip, 1, slip_support, 2023),
        ],
        [2023],
    )
    (row,) = _compare(con, world, 0.9, 3.0)
    as_expected = (row["zip5"], row["address_usable"]) == (zip5, usable)
    assert as_expected, "row 1: zip5 or address_usable"


_MINE = _where("12", "MAIN ST", zip5="12346")


def _at_mine(row: Row) -> int:
    """Filings another filer made at ``_MINE``."""
    return int(row["n_filings"]) if row["zip5"] == "12346" else 0


@pytest.mark.parametrize(
    ("others", "usable"),
    [
        pytest.param([_history_row("H1", _AT_HOME, 5, 5, 2022)], False, id="a housemate: review"),
        pytest.param(
            [
                _history_row("H1", _AT_HOME, 5, 5, 2022),
                _history_row("H1", _MINE, 1, 2, 2023),
            ],
            False,
            id="the housemate carries the slip on a joint return too: review",
        ),
        pytest.param(
            [
                _history_row("H1", _AT_HOME, 5, 5, 2022),
                _history_row("H2", _MINE, 6, 7, 2023),
            ],
            True,
            id="others file at the filed ZIP more often: its ZIP",
        ),
        pytest.param(
            [
                _history_row("H1", _AT_HOME, 5, 5, 2022),
                _history_row("H2", _MINE, 5, 6, 2023),
            ],
            False,
            id="as often at either ZIP: review",
        ),
        pytest.param(
            [_history_row("H1", _where("12", "MAIN ST", zip5=""), 5, 5, 2022)],
            True,
            id="others without a ZIP",
        ),
        pytest.param(
            [_history_row("H1", _where("12", "MAIN ST", city="SHELBYVILLE"), 5, 5, 2022)],
            True,
            id="the same door in another town",
        ),
        pytest.param(
            [_history_row("H1", _where("12", "OAK AVE"), 5, 5, 2022)],
            True,
            id="another street",
        ),
        pytest.param([], True, id="nobody else"),
    ],
)
def test_a_zip_is_never_mended_from_another_persons_filings(
    con: duckdb.DuckDBPyConnection, others: list[Row], usable: bool
) -> None:
    """P1 filed once, in 12346; others filed the same house and street in 12345. Their
    ZIP is never given to P1, but where they file there at least as often as anyone
    else files at P1's ZIP, the row goes to REVIEW: P1's slip or theirs, the file cannot
    say."""
    world = _one_person(
        [_filing("P1", 2023, _MINE)],
        [
            _history_row("P1", _MINE, 1, 1 + sum(_at_mine(o) for o in others), 2023),
            *others,
        ],
        [2023],
    )
    (row,) = _compare(con, world, 0.9, 3.0)
    as_filed = (row["zip5"], row["address_mended"]) == ("12346", None)
    assert as_filed, "row 1: mended across people"
    assert row["address_usable"] is usable, "row 1: address_usable"


@pytest.mark.parametrize(
    ("request_at", "corroborated"),
    [
        pytest.param(_where("12", "MAIN ST", zip5="12346"), True, id="a ZIP typo"),
        pytest.param(_where("12", "MAIN ST", zip5="12399"), True, id="two ZIP digits"),
        pytest.param(_where("12", "MAIN ST", zip5="12999"), True, id="three digits, one town"),
        pytest.param(
            _where("12", "MAIN ST", zip5="12999", city="SPRINGFELD"),
            False,
            id="town a typo away: maybe another town",
        ),
        pytest.param(
            _where("12", "MAIN ST", zip5="12999", city="DECATUR"), False, id="another town"
        ),
        pytest.param(_where("12", "MAIN ST", zip5="12999", city=""), False, id="no town"),
        pytest.param(_where("13", "MAIN ST", zip5="12999"), False, id="one town, a house typo"),
        pytest.param(_where("12", "MAIN SR", zip5="12999"), False, id="one town, a street typo"),
        pytest.param(_where("21", "MAIN ST"), True, id="house digits swapped"),
        pytest.param(_where("21", "MAIN SR"), False, id="house digits swapped, another street"),
        pytest.param(_where("1", "MAIN ST"), True, id="a house digit dropped"),
        pytest.param(_where("211", "MAIN ST"), False, id="two house edits"),
        pytest.param(_where("13", "MAIN ST", zip5="12346"), False, id="and a house typo"),
        pytest.param(_where("12", "MAIN SR", zip5="12346"), False, id="and a street typo"),
    ],
)
def test_a_requesters_other_zip_corroborates_only_the_same_house_and_street(
    con: duckdb.DuckDBPyConnection, request_at: Row, corroborated: bool
) -> None:
    # In a ZIP a typo away, or in any other ZIP of the same town: the same door.
    home = _where("12", "MAIN ST")
    world = _one_person([_filing("P1", 2023, home)], [_history_row("P1", home, 1, 1, 2023)], [2023])
    world.valid = [_valid(1, [2023], request_at)]
    (row,) = _compare(con, world, 0.9, 3.0)
    assert row["address_corroborated"] is corroborated, "row 1: address_corroborated"


@pytest.mark.parametrize(
    ("filed", "corroborated"),
    [
        pytest.param(_where("12", "MAIN ST", zip5=""), True, id="no ZIP on file, one town"),
        pytest.param(_where("12", "MAIN ST", zip5=None), True, id="NULL ZIP on file"),
        pytest.param(_where("12", "MAIN ST", zip5="", city=""), False, id="no ZIP nor town"),
        pytest.param(
            _where("12", "MAIN ST", zip5="", city="DECATUR"), False, id="no ZIP, another town"
        ),
        pytest.param(_where("", "MAIN ST", zip5=""), False, id="no house number on file"),
    ],
)
def test_a_door_filed_without_a_zip_corroborates_in_its_town(
    con: duckdb.DuckDBPyConnection, filed: Row, corroborated: bool
) -> None:
    # The master's ZIP was refused: the door is still the filer's (docs/matching.md).
    world = _one_person(
        [_filing("P1", 2023, filed)], [_history_row("P1", filed, 1, 1, 2023)], [2023]
    )
    world.valid = [_valid(1, [2023], _where("12", "MAIN ST"))]
    (row,) = _compare(con, world, 0.9, 3.0)
    assert row["address_corroborated"] is corroborated, "row 1: address_corroborated"


def test_undeliverable_filing_takes_the_complete_address(con: duckdb.DuckDBPyConnection) -> None:
    home, no_zip = _where("12", "MAIN ST"), _where("12", "MAIN ST", zip5="")
    world = _one_person(
        [_filing("P1", 2021, home), _filing("P1", 2022, home), _filing("P1", 2023, no_zip)],
        [_history_row("P1", home, 2, 2, 2022), _history_row("P1", no_zip, 1, 1, 2023)],
        [2023],
    )
    (row,) = _compare(con, world, 0.9, 3.0)
    completed = row["zip5"] == "12345" and row["address_usable"] is True
    assert completed, "row 1: zip5 (missing on the filing) not taken from the history"
    assert row["address_mended"] == "complete", "row 1: the completion is not recorded"


def _part_case(slip: Row, *homes: Row) -> World:
    """Years at ``homes``, then a latest filing that kept only part of the line."""
    filings = [_filing("P1", 2020 + i, home) for i, home in enumerate(homes)]
    history = [_history_row("P1", home, 1, 1, 2020 + i) for i, home in enumerate(homes)]
    return _one_person(
        [*filings, _filing("P1", 2024, slip)],
        [*history, _history_row("P1", slip, 1, 1, 2024)],
        [2024],
    )


@pytest.mark.parametrize(
    ("world", "line1"),
    [
        pytest.param(_part_case(_where("", "MAIN ST"), _AT_HOME), "12 MAIN ST", id="no number"),
        pytest.param(_part_case(_where("", "12"), _AT_HOME), "12 MAIN ST", id="number only"),
        pytest.param(
            _part_case(_where("", "MAIN ST"), _AT_HOME, _where("14", "MAIN ST")),
            None,
            id="two numbers on the street: not said",
        ),
        pytest.param(
            _part_case(_where("", "MAIN ST", zip5="54321"), _AT_HOME), None, id="another ZIP"
        ),
    ],
)
def test_a_latest_line_that_kept_part_of_an_address_is_completed_only_when_one_fits(
    con: duckdb.DuckDBPyConnection, world: World, line1: str | None
) -> None:
    (row,) = _compare(con, world, 0.9, 3.0)
    completed = (row["line1"], row["address_usable"]) == (line1, line1 is not None)
    assert completed, "row 1: line1 or address_usable"


@pytest.mark.parametrize(
    ("typo_years", "line1"),
    [
        pytest.param(1, "12 MAIN ST", id="the street mistyped once: one door"),
        pytest.param(4, None, id="two spellings as often: not said"),
    ],
)
def test_a_house_number_alone_completes_to_one_door_written_two_ways(
    con: duckdb.DuckDBPyConnection, typo_years: int, line1: str | None
) -> None:
    home, typo, slip = _where("12", "MAIN ST"), _where("12", "MAIN SR"), _where("", "12")
    world = _one_person(
        [
            _filing("P1", 2019, typo),
            *(_filing("P1", y, home) for y in range(2020, 2024)),
            _filing("P1", 2024, slip),
        ],
        [
            _history_row("P1", home, 4, 4, 2023),
            _history_row("P1", typo, typo_years, typo_years, 2019),
            _history_row("P1", slip, 1, 1, 2024),
        ],
        [2024],
    )
    (row,) = _compare(con, world, 0.9, 3.0)
    completed = (row["line1"], row["address_usable"]) == (line1, line1 is not None)
    assert completed, "row 1: line1 or address_usable"


@pytest.mark.parametrize(
    ("request_at", "home_years", "usable"),
    [
        pytest.param(_where("12", "MAIN ST"), 1, True, id="the door as filed"),
        pytest.param(_where("12", "MAIN ST", "APT 4"), 3, False, id="a unit the file lacks"),
        pytest.param(_where("21", "MAIN ST"), 1, False, id="house digits swapped, filed once"),
        pytest.param(_where("21", "MAIN ST"), 3, True, id="house digits swapped, filed 3 years"),
    ],
)
def test_a_door_the_requester_names_otherwise_goes_to_review(
    con: duckdb.DuckDBPyConnection, request_at: Row, home_years: int, usable: bool
) -> None:
    home = _where("12", "MAIN ST")
    filings = [_filing("P1", 2023 - y, home) for y in range(home_years)]
    world = _one_person(filings, [_history_row("P1", home, home_years, home_years, 2023)], [2023])
    world.valid = [_valid(1, [2023], request_at)]
    (row,) = _compare(con, world, 0.9, 3.0)
    as_expected = (row["address_corroborated"], row["address_usable"]) == (True, usable)
    assert as_expected, "row 1: address_corroborated or address_usable"


def test_no_candidates_gives_the_defaults(con: duckdb.DuckDBPyConnection) -> None:
    home = _where("12", "MAIN ST")
    world = _one_person([_filing("P1", 2023, home)], [_history_row("P1", home, 1, 1, 2023)], [2023])
    world.pred = []
    world.valid.append(_valid(2, [2023], home))
    rows = _compare(con, world, 0.9, 3.0)
    defaults = {
        "candidates": 0,
        "score": 0.0,
        "margin_log2": 0.0,
        "first_name_agrees": False,
        "address_corroborated": False,
        "ineligible": False,
        "identifier_conflict": False,
        "suffix_unconfirmed": False,
        "address_usable": True,
    }
    wrong = [
        (r["row_number"], c)
        for r in rows
        for c in OUTCOME_SCHEMA.names
        if c != "row_number" and not _same(r[c], defaults.get(c))
    ]
    assert not wrong, f"not the defaults at (row_number, column): {wrong}"


def test_a_second_process_judges_every_other_batch_to_the_same_rows(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above two batches of ``JUDGE_ROWS`` rows, a helper process judges every other
    batch: the outcomes are the ones one process gives."""
    home, slip = _where("12", "MAIN ST"), _where("21", "MAIN ST")
    world = _one_person(
        [_filing("P1", 2020, home), _filing("P1", 2021, home), _filing("P1", 2022, slip)],
        [_history_row("P1", home, 2, 3, 2021), _history_row("P1", slip, 1, 1, 2022)],
        [2021, 2022],
    )
    world.valid = [_valid(rn, [2022] if rn % 3 else [2019], home) for rn in range(1, 8)]
    world.pred = [
        {
            "unique_id_l": str(rn),
            "unique_id_r": "P1|0",
            "match_weight": 12.0,
            "match_probability": 0.99,
        }
        for rn in range(1, 8)
        if rn != 4
    ]
    alone = _sql(con, world, 0.9, 3.0)
    monkeypatch.setattr(collapse_module, "JUDGE_ROWS", 2)
    shared = _sql(con, world, 0.9, 3.0)
    assert len(alone) == 7
    assert _differences(alone, shared) == []


def test_a_filing_without_a_year_is_in_no_period_on_both_paths(
    con: duckdb.DuckDBPyConnection,
) -> None:
    # Found by the generated worlds: a NULL year "in" a period list holding NULL was a
    # filing in Python and none in SQL (NULL is in no list).
    home = _where("12", "MAIN ST")
    world = _one_person(
        [_filing("P1", 2022, home), {**_filing("P1", 2022, home), "tax_year": None}],
        [_history_row("P1", home, 1, 1, 2022)],
        [2023],
    )
    world.valid[0]["tax_periods"] = [None]
    (row,) = _compare(con, world, 0.9, 3.0)
    assert row["filing_year"] is None, "row 1: a filing without a year was taken as the latest"


def _house_tie(slip_house: str, others: list[Row]) -> World:
    """12 MAIN ST filed in 2022, then ``slip_house`` MAIN ST in 2023, one year each."""
    home, slip = _where("12", "MAIN ST"), _where(slip_house, "MAIN ST")
    return _one_person(
        [_filing("P1", 2022, home), _filing("P1", 2023, slip)],
        [_history_row("P1", home, 1, 1, 2022), _history_row("P1", slip, 1, 1, 2023), *others],
        [2023],
    )


@pytest.mark.parametrize(
    ("world", "usable"),
    [
        pytest.param(_house_tie("17", []), False, id="one house character, one year each"),
        pytest.param(_house_tie("45", []), False, id="two house characters, one year each"),
        pytest.param(_house_tie("345", []), True, id="another house: a move"),
        pytest.param(
            _house_tie("17", [_history_row("H1", _where("17", "MAIN ST"), 3, 3, 2023)]),
            True,
            id="others file at the new door: a move",
        ),
    ],
)
def test_a_house_typo_the_history_cannot_tell_from_a_move_goes_to_review(
    con: duckdb.DuckDBPyConnection, world: World, usable: bool
) -> None:
    (row,) = _compare(con, world, 0.9, 3.0)
    as_expected = row["address_usable"] is usable and row["address_mended"] is None
    assert as_expected, "row 1: address_usable or address_mended"


def _line_zip_case(slip: Row, home_years: int) -> World:
    """12 MAIN ST in ZIP 12345 for ``home_years`` years, then ``slip`` for one year."""
    years = list(range(2023 - home_years, 2024))
    return _one_person(
        [_filing("P1", y, _AT_HOME if y < 2023 else slip) for y in years],
        [
            _history_row("P1", _AT_HOME, home_years, home_years, 2022),
            _history_row("P1", slip, 1, 1, 2023),
        ],
        [2023],
    )


@pytest.mark.parametrize(
    ("world", "mended", "usable"),
    [
        pytest.param(
            _line_zip_case(_where("12", "MAIN SR", zip5="12999"), 3),
            True,
            True,
            id="street and ZIP slipped, three years agree",
        ),
        pytest.param(
            _line_zip_case(_where("13", "MAIN ST", zip5="12999"), 2),
            True,
            True,
            id="house and ZIP slipped, two years agree",
        ),
        pytest.param(
            _line_zip_case(_where("12", "MAIN SR", zip5="12999"), 1),
            False,
            False,
            id="one year against one: review",
        ),
        pytest.param(
            _line_zip_case(_where("12", "MAIN SR", zip5="12999", city="SHELBYVILLE"), 3),
            False,
            True,
            id="another town: a move",
        ),
        pytest.param(
            _line_zip_case(_where("47", "MAIN ST", zip5="12999"), 3),
            False,
            False,
            id="two house characters and the ZIP: review",
        ),
    ],
)
def test_a_line_and_zip_slip_is_mended_from_a_strong_history_else_review(
    con: duckdb.DuckDBPyConnection, world: World, mended: bool, usable: bool
) -> None:
    """The latest filing, made one year, mistypes the street or house number and the ZIP
    of a door the person filed in other years (``variant.line_and_zip_slip``)."""
    (row,) = _compare(con, world, 0.9, 3.0)
    home = (row["line1"], row["zip5"]) == ("12 MAIN ST", "12345")
    as_expected = home is mended and row["address_usable"] is usable
    assert as_expected, "row 1: line1, zip5 or address_usable"
    assert (row["address_mended"] == "line+zip") is mended, "row 1: address_mended"


@pytest.mark.parametrize(
    ("other", "usable"),
    [
        pytest.param(_where("12", "MAIN SR"), False, id="the street written two ways: review"),
        pytest.param(_where("13", "MAIN ST"), False, id="the house written two ways: review"),
        pytest.param(_where("12", "OAK AVE"), True, id="two doors: as filed"),
    ],
)
def test_two_filings_of_the_latest_year_at_one_door_written_two_ways_go_to_review(
    con: duckdb.DuckDBPyConnection, other: Row, usable: bool
) -> None:
    """Which of the year's two spellings is the door, nothing in the file says."""
    world = _one_person(
        [_filing("P1", 2023, _AT_HOME), _filing("P1", 2023, other)],
        [_history_row("P1", _AT_HOME, 1, 1, 2023), _history_row("P1", other, 1, 1, 2023)],
        [2023],
    )
    (row,) = _compare(con, world, 0.9, 3.0)
    assert row["address_usable"] is usable, "row 1: address_usable"


def test_the_lookup_reads_the_filings_of_the_requested_periods_only(
    con: duckdb.DuckDBPyConnection,
) -> None:
    """The batch gathers a person's filings in the requested periods only; so must the
    lookup. A 2025 filing with a blank ZIP is filled from the door (12 MAIN ST 12345,
    where another filer files), which the person filed in 2021, outside the periods; the
    person filed 12 OAK AVE in 2022. Reading the 2021 filing, the lookup found a neighbour
    at the filled door the batch does not look for, and disclosed where the batch went to
    REVIEW."""
    door, oak = _where("12", "MAIN ST"), _where("12", "OAK AVE")
    blank = _where("12", "MAIN ST", zip5="")
    world = _one_person(
        [_filing("P1", 2025, blank), _filing("P1", 2021, door), _filing("P1", 2022, oak)],
        [
            _history_row("P1", oak, 1, 1, 2022),
            _history_row("P1", blank, 1, 1, 2025),
            _history_row("H1", door, 3, 3, 2024),
        ],
        [2025],
    )
    (row,) = _compare(con, world, 0.9, 3.0)
    assert row["address_usable"] is False, "row 1: address_usable"


def test_a_street_spelt_two_ways_is_one_door(con: duckdb.DuckDBPyConnection) -> None:
    """SAINT and ST: one street (``usps.street_spelling``), no slip to look at."""
    before, latest = _where("12", "SAINT PAUL ST"), _where("12", "ST PAUL ST")
    world = _one_person(
        [_filing("P1", 2022, before), _filing("P1", 2023, latest)],
        [_history_row("P1", before, 1, 1, 2022), _history_row("P1", latest, 1, 1, 2023)],
        [2023],
    )
    (row,) = _compare(con, world, 0.9, 3.0)
    as_filed = (row["line1"], row["address_usable"]) == ("12 ST PAUL ST", True)
    assert as_filed, "row 1: line1 or address_usable"


def test_a_po_box_zip_slip_is_mended_from_the_persons_years(
    con: duckdb.DuckDBPyConnection,
) -> None:
    box, slip = _where("", "", po_box="PO BOX 5"), _where("", "", po_box="PO BOX 5", zip5="12999")
    world = _one_person(
        [*(_filing("P1", y, box) for y in (2020, 2021, 2022)), _filing("P1", 2023, slip)],
        [_history_row("P1", box, 3, 3, 2022), _history_row("P1", slip, 1, 1, 2023)],
        [2023],
    )
    (row,) = _compare(con, world, 0.9, 3.0)
    mended = (row["zip5"], row["address_usable"], row["address_mended"]) == ("12345", True, "zip")
    assert mended, "row 1: zip5, address_usable or address_mended"


def test_a_completed_line_takes_the_street_as_the_person_files_it(
    con: duckdb.DuckDBPyConnection,
) -> None:
    """The latest filing kept only the house number, in a mistyped ZIP; the one address
    whose line is nearly it is a one-year misspelling of the street the person filed
    for years: the door is completed as the person files it."""
    home, typo = _where("1200", "OAK MEADOWS DR"), _where("1200", "OAK MEADWS")
    slip = _where("", "1200", zip5="12999")
    world = _one_person(
        [
            _filing("P1", 2019, typo),
            *(_filing("P1", y, home) for y in range(2020, 2024)),
            _filing("P1", 2024, slip),
        ],
        [
            _history_row("P1", home, 4, 4, 2023),
            _history_row("P1", typo, 1, 1, 2019),
            _history_row("P1", slip, 1, 1, 2024),
        ],
        [2024],
    )
    (row,) = _compare(con, world, 0.9, 3.0)
    completed = (row["line1"], row["zip5"], row["address_mended"]) == (
        "1200 OAK MEADOWS DR",
        "12345",
        "complete",
    )
    assert completed, "row 1: line1, zip5 or address_mended"


def _household(housemate_before: bool) -> World:
    """P1 files alone one year at a door its housemate P2 files written otherwise; P2
    filed at P1's earlier address too (a housemate) or never (a stranger)."""
    before, slip, theirs = (
        _where("77", "ELM ST"),
        _where("412", "MAIN ST"),
        _where("413", "MAIN ST"),
    )
    world = _one_person(
        [_filing("P1", 2021, before), _filing("P1", 2022, before), _filing("P1", 2023, slip)],
        [_history_row("P1", before, 2, 4, 2022), _history_row("P1", slip, 1, 1, 2023)],
        [2023],
    )
    world.persons.append(_person("P2"))
    world.filings += [_filing("P2", 2023, theirs)]
    world.person_addresses += [_history_row("P2", theirs, 1, 1, 2023)]
    if housemate_before:
        world.filings += [_filing("P2", 2021, before), _filing("P2", 2022, before)]
        world.person_addresses += [_history_row("P2", before, 2, 4, 2022)]
    return world


def test_a_door_the_household_files_written_otherwise_goes_to_review(
    con: duckdb.DuckDBPyConnection,
) -> None:
    (row,) = _compare(con, _household(True), 0.9, 3.0)
    assert row["line1"] == "412 MAIN ST", "row 1: the filed door is not the one judged"
    assert not row["address_usable"], "row 1: the household's door written otherwise disclosed"
    (row,) = _compare(con, _household(False), 0.9, 3.0)
    assert row["address_usable"], "row 1: a stranger at a nearby door held the address back"


@pytest.mark.parametrize(
    ("request_at", "conflict", "candidates"),
    [
        pytest.param(_where("12", "MAIN ST"), False, 1, id="corroborated: the name decides"),
        pytest.param(_where("40", "OAK AVE"), False, 2, id="not corroborated: both stand"),
        pytest.param(_where("12", "MAIN ST"), True, 2, id="a date of birth conflicts"),
    ],
)
def test_the_first_name_sets_a_rival_aside_only_for_a_person_the_request_identifies(
    con: duckdb.DuckDBPyConnection, request_at: Row, conflict: bool, candidates: int
) -> None:
    # JOHN files under JOHN; a housemate who files under JON once filed as JOHN and
    # scores 2 bits behind. The request names JOHN: the housemate is no rival, unless
    # the requester's address does not corroborate JOHN (or his date of birth conflicts),
    # when the name settles nothing and the two stand as they scored (AMBIGUOUS, as
    # without the name), not a NO_MATCH.
    home = _where("12", "MAIN ST")
    world = _one_person([_filing("P1", 2023, home)], [_history_row("P1", home, 1, 2, 2023)], [2023])
    world.persons.append({**_person("P2"), "first_name": "JON", "tin": "123456780"})
    world.person_names.append({"person_id": "P2", "first_name": "JOHN", "last_key": "SMITH"})
    world.filings.append(_filing("P2", 2023, home))
    world.person_addresses.append(_history_row("P2", home, 1, 2, 2023))
    world.pred = [
        {"unique_id_l": "1", "unique_id_r": f"{pid}|0", "match_weight": w, "match_probability": 1.0}
        for pid, w in (("P1", 12.0), ("P2", 10.0))
    ]
    world.valid = [_valid(1, [2023], request_at)]
    if conflict:
        world.valid[0]["date_of_birth"] = dt.date(1990, 1, 1)
    (row,) = _compare(con, world, 0.9, 3.0)
    assert row["candidates"] == candidates, "row 1: candidates"
    assert row["margin_log2"] == (float("inf") if candidates == 1 else 2.0), "row 1: margin"
    assert row["address_corroborated"] is (request_at == home), "row 1: address_corroborated"
