"""Each row's coverage groups from the snapshot's person tables: one crafted case per group.

The snapshot here is built by hand with the columns ``row_groups`` reads, its
``person_addresses`` and ``tf_last_name`` derived from ``filings`` and ``persons`` the way
``reference.person_tables`` derives them. All names, TINs and addresses are synthetic.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from taxmatch.policy.coverage import BY_NAME, mask_of, names_of
from taxmatch.reference.coverage import (
    COMMON_MIN,
    COMMON_SHARE,
    RARE_MAX,
    RARE_SHARE,
    row_groups,
)
from taxmatch.reference.workspace import RECORD_SCHEMA

YEARS = (2020, 2025)  # the lookback
Addr = tuple[str, str, str, str, str]  # house_number, street, unit, po_box, zip5
OAK: Addr = ("12", "OAK ST", "", "", "62701")
ELM: Addr = ("40", "ELM AVE", "", "", "62701")
PINE: Addr = ("5", "PINE ST", "", "", "62702")  # a building where others give units
PINE_2: Addr = ("5", "PINE ST", "APT 2", "", "62702")
BOX: Addr = ("", "", "", "77", "62703")
ELSEWHERE: Addr = ("9", "FAR RD", "", "", "62709")
ITIN, SSN, SSN_2 = "912701234", "123456789", "234567890"
KEY = ("house_number", "street", "unit", "po_box", "zip5")


def snapshot(
    path: Path,
    persons: Sequence[tuple[str, str, str]],
    filings: Sequence[tuple[str, int, Addr]] = (),
    filler: int = 0,
) -> Path:
    """A snapshot file: ``persons`` (person_id, tin, last_name), ``filler`` more persons
    named FILLER, and ``filings`` (person_id, tax_year, address)."""
    con = duckdb.connect(str(path))
    try:
        con.execute(
            "CREATE TABLE persons (person_id VARCHAR, tin VARCHAR, last_name VARCHAR, "
            "n_filings BIGINT DEFAULT 0)"
        )
        con.executemany("INSERT INTO persons VALUES (?, ?, ?, 0)", list(persons))
        con.execute(
            "INSERT INTO persons SELECT 'F' || i, '', 'FILLER', 0 FROM range(?) t(i)", [filler]
        )
        cols = ", ".join(f"{c} VARCHAR" for c in KEY)
        con.execute(f"CREATE TABLE filings (person_id VARCHAR, tax_year INTEGER, {cols})")
        for pid, year, address in filings:
            con.execute("INSERT INTO filings VALUES (?, ?, ?, ?, ?, ?, ?)", [pid, year, *address])
        con.execute(
            """UPDATE persons SET n_filings = f.n
               FROM (SELECT person_id, count(*) AS n FROM filings GROUP BY person_id) f
               WHERE f.person_id = persons.person_id"""
        )
        con.execute(
            f"""CREATE TABLE person_addresses AS
                SELECT person_id, {", ".join(KEY)}, min(tax_year) AS first_year,
                       max(tax_year) AS last_year, count(*) AS n_filings
                FROM filings GROUP BY person_id, {", ".join(KEY)}"""
        )
        con.execute(
            """CREATE TABLE tf_last_name AS
               SELECT last_name, CAST(count(*) AS DOUBLE) / sum(count(*)) OVER () AS tf
               FROM persons WHERE last_name <> '' GROUP BY last_name"""
        )
    finally:
        con.close()
    return path


def request(
    n: int, last: str = "LEE", address: Addr = ELSEWHERE, shape: int = 0, tin: str = ""
) -> dict[str, object]:
    """A valid row of ``records``."""
    return {
        "row_number": n,
        "mask": 0,
        "shape": shape,
        "first_name": "ANN",
        "middle_name": "",
        "last_name": last,
        **dict(zip(KEY, address, strict=True)),
        "tin": tin,
    }


def rejected(n: int, shape: int = 0) -> dict[str, object]:
    return {"row_number": n, "mask": 1, "shape": shape}


def groups_of(
    con: duckdb.DuckDBPyConnection,
    snap: Path,
    records: Sequence[dict[str, object]],
    subjects: dict[int, str] | None = None,
    windows: Sequence[tuple[int | None, int | None]] = ((None, None),),
) -> dict[int, list[str]]:
    """Run ``row_groups`` over ``records`` with ``subjects`` (row -> person_tin), a window
    of ``windows`` at a time."""
    con.register("_records", pa.Table.from_pylist(list(records), schema=RECORD_SCHEMA))
    con.execute("CREATE OR REPLACE TABLE records AS SELECT * FROM _records")
    con.unregister("_records")
    subjects = subjects or {}
    table = pa.table(
        {"row_number": pa.array(list(subjects), pa.int64()), "person_tin": list(subjects.values())}
    )
    con.register("subjects", table)
    for window in windows:
        row_groups(con, snap, "subjects", YEARS, window)
    con.unregister("subjects")
    rows = con.execute("SELECT row_number, groups FROM row_groups ORDER BY row_number").fetchall()
    return {n: names_of(mask) for n, mask in rows}


def kind(groups: list[str]) -> list[str]:
    return [g for g in groups if g in ("itin", "ssn")]


def attached(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return con.execute(
        "SELECT database_name, path FROM duckdb_databases() WHERE path IS NOT NULL"
    ).fetchall()


# --- the TIN kind -----------------------------------------------------------------------


def test_the_subjects_tin_kind(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    persons = [("P1", ITIN, "LEE"), ("P2", SSN, "LEE"), ("P3", "000000000", "LEE")]
    snap = snapshot(tmp_path / "s.duckdb", persons)
    records = [request(n) for n in range(1, 5)]
    got = groups_of(con, snap, records, {1: ITIN, 2: SSN, 3: "000000000"})
    assert [kind(got[n]) for n in (1, 2, 3)] == [["itin"], ["ssn"], []]  # 3: not issued
    # a request's TIN does not override the subject's
    records[3] = request(4, tin=SSN)
    assert groups_of(con, snap, records, {4: ITIN})[4] == ["itin"]


def test_without_a_subject_the_requests_tin_kind(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    snap = snapshot(tmp_path / "s.duckdb", [("P1", SSN, "LEE")])
    records = [request(1, tin=ITIN), request(2, tin=SSN_2), request(3), request(4, tin=ITIN)]
    # row 4's subject is no one the snapshot knows: the request's TIN tells
    got = groups_of(con, snap, records, {3: "", 4: "999999999"})
    assert [kind(got[n]) for n in (1, 2, 3, 4)] == [["itin"], ["ssn"], [], ["itin"]]


# --- movers and households ----------------------------------------------------------------


def test_a_mover_filed_at_two_addresses_in_the_lookback(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    persons = [("P1", SSN, "LEE"), ("P2", SSN_2, "LEE"), ("P3", "345678901", "LEE")]
    filings = [
        ("P1", 2022, ELM),
        ("P1", 2024, OAK),  # moved in the lookback
        ("P2", 2022, OAK),
        ("P2", 2023, OAK),
        ("P2", 2024, OAK),  # stayed
        ("P3", 2015, ELM),  # before the lookback
        ("P3", 2019, ELSEWHERE),  # the year before it
        ("P3", 2024, PINE),
    ]
    snap = snapshot(tmp_path / "s.duckdb", persons, filings)
    got = groups_of(con, snap, [request(n) for n in (1, 2, 3)], {1: SSN, 2: SSN_2, 3: "345678901"})
    assert "mover" in got[1]
    assert "mover" not in got[2]
    assert "mover" not in got[3]


def test_a_household_is_two_persons_at_the_subjects_home(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    tins = {"P1": SSN, "P2": SSN_2, "P3": "345678901", "P4": "456789012", "P5": "567890123"}
    persons = [(pid, tin, "LEE") for pid, tin in tins.items()]
    filings = [
        ("P1", 2024, OAK),
        ("P2", 2023, OAK),  # P1's housemate in the lookback
        ("P3", 2024, ELM),
        ("P4", 2016, ELM),  # at P3's home only before the lookback
        ("P5", 2022, PINE_2),  # P5 lived with P1 once, then alone
        ("P1", 2022, PINE_2),
        ("P5", 2024, BOX),
    ]
    snap = snapshot(tmp_path / "s.duckdb", persons, filings)
    subjects = {n: tin for n, tin in enumerate(tins.values(), start=1)}
    got = groups_of(con, snap, [request(n) for n in subjects], subjects)
    assert "household" in got[1]
    assert "household" in got[2]  # P2's latest address in the lookback is OAK too
    assert "household" not in got[3]
    assert "household" not in got[5]  # the old shared address is not the home


def test_a_requested_address_where_two_persons_filed_is_a_household(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    persons = [("P1", SSN, "LEE"), ("P2", SSN_2, "LEE")]
    filings = [("P1", 2024, OAK), ("P2", 2024, OAK), ("P2", 2021, ELM)]
    snap = snapshot(tmp_path / "s.duckdb", persons, filings)
    got = groups_of(con, snap, [request(1, address=OAK), request(2, address=ELM)])
    assert "household" in got[1]
    assert "household" not in got[2]


# --- the address: units and PO boxes --------------------------------------------------------


def test_multi_unit_from_the_subjects_home_its_building_or_the_request(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    tins = {"P1": SSN, "P2": SSN_2, "P3": "345678901", "P4": "456789012"}
    persons = [(pid, tin, "LEE") for pid, tin in tins.items()]
    filings = [
        ("P1", 2024, PINE_2),  # gives a unit
        ("P2", 2024, PINE),  # no unit, in a building where P1 gives one
        ("P3", 2024, OAK),
        ("P4", 2021, PINE_2),  # a unit once, no longer
        ("P4", 2024, ELM),
    ]
    snap = snapshot(tmp_path / "s.duckdb", persons, filings)
    subjects = {n: tin for n, tin in enumerate(tins.values(), start=1)}
    unit = BY_NAME["multi_unit"].bit
    records = [request(n) for n in subjects]
    records += [request(5, address=PINE), request(6, shape=unit), request(7, address=OAK)]
    got = groups_of(con, snap, records, subjects)
    assert ["multi_unit" in got[n] for n in range(1, 8)] == [1, 1, 0, 0, 1, 1, 0]


def test_po_box_from_the_subjects_home_or_the_request(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    persons = [("P1", SSN, "LEE"), ("P2", SSN_2, "LEE")]
    filings = [("P1", 2021, OAK), ("P1", 2024, BOX), ("P2", 2021, BOX), ("P2", 2024, OAK)]
    snap = snapshot(tmp_path / "s.duckdb", persons, filings)
    box = BY_NAME["po_box"].bit
    records = [request(1), request(2), request(3, shape=box), request(4, address=BOX)]
    got = groups_of(con, snap, records, {1: SSN, 2: SSN_2})
    assert "po_box" in got[1]
    assert "po_box" not in got[2]  # a box once, a street address now
    assert "po_box" in got[3]
    assert "po_box" not in got[4]  # the request's shape, not its columns, says box


# --- surname frequency --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("carriers", "persons", "common", "rare"),
    [
        (COMMON_MIN, round(COMMON_MIN / COMMON_SHARE), True, False),  # both bounds exactly
        (COMMON_MIN - 1, round((COMMON_MIN - 1) / COMMON_SHARE), False, False),  # too few
        (COMMON_MIN, round(COMMON_MIN / COMMON_SHARE) + 1, False, False),  # share too small
        (COMMON_MIN, 2 * COMMON_MIN, True, False),
        (COMMON_MIN, 77, True, False),  # 10 / 77 * 77 is 9.999999999999998 in floating point
        (COMMON_MIN + 1, 69, True, False),
        (RARE_MAX, 20, False, True),
        (RARE_MAX + 1, 20, False, False),
        (RARE_MAX + 1, round((RARE_MAX + 1) / RARE_SHARE) + 1, False, True),  # share tiny
        (RARE_MAX + 1, round((RARE_MAX + 1) / RARE_SHARE), False, False),  # share at the bound
    ],
)
def test_common_and_rare_surnames(
    tmp_path: Path,
    con: duckdb.DuckDBPyConnection,
    carriers: int,
    persons: int,
    common: bool,
    rare: bool,
) -> None:
    named = [(f"P{i}", "", "LEE") for i in range(carriers)]
    snap = snapshot(tmp_path / "s.duckdb", named, filler=persons - carriers)
    got = groups_of(con, snap, [request(1), request(2, last="ZZYZX"), request(3, last="")])
    assert ("common_surname" in got[1], "rare_surname" in got[1]) == (common, rare)
    assert "rare_surname" in got[2]  # no one carries it
    assert "common_surname" not in got[3]
    assert "rare_surname" not in got[3]  # no surname requested


# --- rows, subjects and the snapshot's attachment -------------------------------------------


def test_every_row_of_records_gets_exactly_one_row(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    # P1b: a return filed under P1's TIN that joined no one keeps the TIN as its own
    persons = [("P1", ITIN, "LEE"), ("P1b", ITIN, "LEE"), ("P2", SSN, "NG")]
    filings = [("P1", 2022, OAK), ("P1", 2024, OAK), ("P1b", 2023, OAK), ("P2", 2024, PINE_2)]
    snap = snapshot(tmp_path / "s.duckdb", persons, filings)
    records = [request(1), rejected(2), request(3), rejected(4), request(5, address=PINE_2)]
    got = groups_of(con, snap, records, {1: ITIN, 3: SSN, 5: "111223333"})
    assert sorted(got) == [1, 2, 3, 4, 5]
    assert con.execute("SELECT count(*) FROM row_groups").fetchone() == (5,)
    assert kind(got[1]) == ["itin"]
    assert kind(got[3]) == ["ssn"]


def test_rows_grouped_a_window_at_a_time_are_grouped_as_all_at_once(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    # a household at OAK (rows 1, 3 in two windows), a mover, rejected rows between them,
    # and a stale table from an earlier run, which the first window replaces
    persons = [("P1", ITIN, "LEE"), ("P2", SSN, "NG"), ("P3", SSN_2, "NG")]
    filings = [("P1", 2022, ELM), ("P1", 2024, OAK), ("P2", 2024, OAK), ("P3", 2024, PINE_2)]
    snap = snapshot(tmp_path / "s.duckdb", persons, filings)
    records = [request(1), rejected(2), request(3), rejected(4), request(5, address=PINE)]
    subjects = {1: ITIN, 3: SSN, 5: SSN_2}
    whole = groups_of(con, snap, records, subjects)
    con.execute("CREATE OR REPLACE TABLE row_groups AS SELECT 9 AS row_number, 1 AS groups")
    windows = ((None, 2), (2, 4), (4, 5), (5, None))
    assert groups_of(con, snap, records, subjects, windows) == whole
    assert con.execute("SELECT count(*) FROM row_groups").fetchone() == (5,)
    assert "household" in whole[1]
    assert "household" in whole[3]
    assert "mover" in whole[1]


def test_a_row_without_a_subject_shows_only_what_the_request_shows(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    # P1 is an ITIN filer who moved to a PO box; LEE is a rare surname here
    persons = [("P1", ITIN, "LEE"), ("P2", SSN, "NG"), ("P3", SSN_2, "NG")]
    filings = [("P1", 2022, ELM), ("P1", 2024, BOX), ("P2", 2024, OAK), ("P3", 2024, PINE_2)]
    snap = snapshot(tmp_path / "s.duckdb", persons, filings)
    compound = mask_of(["compound_surname"])
    records = [request(n, address=ELM, shape=compound) for n in (1, 2, 3)]
    records.append(rejected(4, mask_of(["single_name", "multi_unit"])))
    got = groups_of(con, snap, records, {1: ITIN, 2: "", 3: "111223333"})
    assert got[1] == ["itin", "compound_surname", "rare_surname", "mover", "po_box"]
    assert got[2] == got[3] == ["compound_surname", "rare_surname"]
    assert got[4] == ["single_name", "multi_unit"]  # a rejected row: its raw shape


@pytest.mark.parametrize("order", [1, -1])
def test_a_tin_two_persons_share_is_its_owners(
    tmp_path: Path, con: duckdb.DuckDBPyConnection, order: int
) -> None:
    # P1 files under her TIN every year; P9's returns under it joined no one, and a
    # fragment person keeps the TIN: a row about the TIN is about P1, in any storage order
    persons = [("P1", SSN, "LEE"), ("P9", SSN, "KOWALSKI")][::order]
    filings = [("P1", y, OAK) for y in (2021, 2022, 2023)] + [("P9", 2022, ELM), ("P9", 2024, BOX)]
    snap = snapshot(tmp_path / "s.duckdb", persons, filings[::order])
    assert groups_of(con, snap, [request(1)], {1: SSN})[1] == ["ssn", "rare_surname"]


def test_the_snapshot_is_attached_for_the_query_and_detached_after(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    snap = snapshot(tmp_path / "s.duckdb", [("P1", ITIN, "LEE")], [("P1", 2024, PINE_2)])
    got = groups_of(con, snap, [request(1)], {1: ITIN})
    assert {"itin", "multi_unit"} <= set(got[1])
    assert attached(con) == []
    with pytest.raises(duckdb.CatalogException):
        row_groups(con, snap, "no_such_relation", YEARS)
    assert attached(con) == []  # detached on failure too


def test_a_snapshot_already_attached_is_used_where_it_is_and_left_attached(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    snap = snapshot(tmp_path / "s.duckdb", [("P1", ITIN, "LEE")], [("P1", 2024, PINE_2)])
    cold = groups_of(con, snap, [request(1), rejected(2)], {1: ITIN})
    con.execute(f"ATTACH '{snap}' AS warm_ref (READ_ONLY)")
    warm = groups_of(con, snap, [request(1), rejected(2)], {1: ITIN})
    assert warm == cold
    assert attached(con) == [("warm_ref", str(snap))]
