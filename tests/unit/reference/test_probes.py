"""``probe_people``: the first ``n`` qualifying persons in the sample's md5 order, found a
window at a time — the same persons as ordering the whole snapshot would give."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

from taxmatch.reference.probes import probe_people

PERSONS = 400
YEARS = (2023, 2024)


def _qualifies(i: int) -> bool:
    """Every 9th person filed in the years, at a deliverable address; person 18 is dead."""
    return i % 9 == 0 and i != 18


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("probes") / "ref.duckdb"
    con = duckdb.connect(str(path))
    con.execute(
        """CREATE TABLE persons AS SELECT
             'P' || lpad(i::VARCHAR, 4, '0') AS person_id, 'T' || i AS tin,
             'ANN' AS first_name, '' AS middle_name, 'LEE' || i AS last_name, '' AS suffix,
             DATE '1980-01-01' AS date_of_birth, i = 18 AS deceased, ['T' || i] AS tins
           FROM range(?) t(i)""",
        [PERSONS],
    )
    # Persons that do not qualify filed before the years, or with no ZIP in them.
    con.execute(
        """CREATE TABLE filings AS SELECT
             'P' || lpad(i::VARCHAR, 4, '0') AS person_id,
             CASE WHEN i % 9 = 0 OR i % 9 = 4 THEN 2024 ELSE 2020 END AS tax_year,
             (10 + i)::VARCHAR AS house_number, 'MAIN ST' AS street, '' AS unit, '' AS po_box,
             'TOWN' AS city, 'WA' AS state, CASE WHEN i % 9 = 4 THEN '' ELSE '98101' END AS zip5,
             (10 + i)::VARCHAR || ' MAIN ST' AS line1
           FROM range(?) t(i)""",
        [PERSONS],
    )
    con.execute(
        """CREATE TABLE person_addresses AS
           SELECT person_id, house_number, street, unit, po_box, city, state, zip5, line1,
                  tax_year AS last_year FROM filings"""
    )
    con.close()
    return path


def _expected(seed: str, n: int) -> list[str]:
    def order(i: int) -> tuple[str, str]:
        pid = f"P{i:04d}"
        return hashlib.md5(f"{pid}{seed}".encode()).hexdigest(), pid

    ranked = sorted(order(i) for i in range(PERSONS) if _qualifies(i))
    return [pid for _, pid in ranked[:n]]


@pytest.mark.parametrize("n", [1, 5, 30, 43, 100])
def test_the_sample_is_the_first_qualifying_persons_in_md5_order(snapshot: Path, n: int) -> None:
    # 43 persons qualify of 400: n = 30 needs more than the first window of 100 persons,
    # and n = 100 exhausts the snapshot.
    people = probe_people(snapshot, n, "s1", YEARS)
    assert [p.person_id for p in people] == _expected("s1", n)
    assert all(p.addresses and p.latest_addresses for p in people)


def test_a_smaller_sample_is_a_prefix_of_a_larger_one(snapshot: Path) -> None:
    small = probe_people(snapshot, 7, "s2", YEARS)
    large = probe_people(snapshot, 40, "s2", YEARS)
    assert small == large[:7]
    assert [p.person_id for p in large] != [
        p.person_id for p in probe_people(snapshot, 40, "s3", YEARS)
    ]
