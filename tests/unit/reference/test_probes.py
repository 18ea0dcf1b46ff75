"""``probe_people``: the first ``n`` qualifying persons going round the ring of person ids
from the seed's point, read a range of ids at a time — the same persons as ordering the
whole snapshot would give."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from taxmatch.reference.probes import RING, _ranges, probe_people

PERSONS = 400
YEARS = (2023, 2025)


def _pid(i: int) -> str:
    """Person ``i``'s id, made as ``person_tables`` makes one: 16 hex of a sha256."""
    return "P" + hashlib.sha256(str(i).encode()).hexdigest()[:16]


def _qualifies(i: int) -> bool:
    """Every 9th person filed in the years, at a deliverable address; person 18 is dead."""
    return i % 9 == 0 and i != 18


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("probes") / "ref.duckdb"
    con = duckdb.connect(str(path))
    con.create_function("pid", _pid, [int], str)  # type: ignore[list-item]
    con.execute(
        """CREATE TABLE persons AS SELECT
             pid(i) AS person_id, 'T' || i AS tin,
             'ANN' AS first_name, '' AS middle_name, 'LEE' || i AS last_name, '' AS suffix,
             DATE '1980-01-01' AS date_of_birth, i = 18 AS deceased, ['T' || i] AS tins
           FROM range(?) t(i)""",
        [PERSONS],
    )
    # Persons that do not qualify filed before the years, or with no ZIP in them; each
    # filed twice, a year apart: only the later filing's address is the latest. Person
    # 9 also filed in 2024 at another address (stored first): two latest addresses.
    con.execute(
        """CREATE TABLE filings AS
           SELECT pid(9) AS person_id, 2024 AS tax_year, '9' AS house_number,
                  'ELM ST' AS street, '' AS unit, '' AS po_box, 'TOWN' AS city, 'WA' AS state,
                  '98101' AS zip5, '9 ELM ST' AS line1
           UNION ALL SELECT
             pid(i) AS person_id,
             CASE WHEN i % 9 = 0 OR i % 9 = 4 THEN 2024 ELSE 2020 END - y AS tax_year,
             (10 + i + 1000 * y)::VARCHAR AS house_number, 'MAIN ST' AS street, '' AS unit,
             '' AS po_box, 'TOWN' AS city, 'WA' AS state,
             CASE WHEN i % 9 = 4 THEN '' ELSE '98101' END AS zip5,
             (10 + i + 1000 * y)::VARCHAR || ' MAIN ST' AS line1
           FROM range(?) t(i), range(2) s(y)""",
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
    """The first ``n`` qualifying ids clockwise from the seed's point, ordering them all."""
    start = int(hashlib.sha256(seed.encode()).hexdigest()[:16], 16)
    qualifying = [_pid(i) for i in range(PERSONS) if _qualifies(i)]
    return sorted(qualifying, key=lambda pid: (int(pid[1:], 16) - start) % RING)[:n]


@pytest.mark.parametrize("n", [1, 5, 30, 43, 100])
def test_the_sample_is_the_first_qualifying_persons_round_the_ring(snapshot: Path, n: int) -> None:
    # 43 persons qualify of 400: n = 30 needs more than the first range (about 100
    # persons), and n = 100 goes once round the ring.
    people = probe_people(snapshot, n, "s1", YEARS)
    assert [p.person_id for p in people] == _expected("s1", n)
    for p in people:
        if p.person_id == _pid(9):
            continue  # two latest addresses: below
        latest = int(p.latest_addresses[0]["house_number"])
        assert [a["line1"] for a in p.latest_addresses] == [f"{latest} MAIN ST"]
        assert latest < 1000  # the 2024 filing's, not the 2023 one's
        assert [a["line1"] for a in p.addresses] == [
            f"{latest} MAIN ST",
            f"{latest + 1000} MAIN ST",
        ]


def test_two_latest_addresses_come_in_a_set_order_whatever_the_rows_order(
    snapshot: Path,
) -> None:
    # The first is the probe's address: it must not depend on how the rows are stored.
    (nine,) = [p for p in probe_people(snapshot, 100, "s1", YEARS) if p.person_id == _pid(9)]
    assert [a["line1"] for a in nine.latest_addresses] == ["19 MAIN ST", "9 ELM ST"]
    assert [a["line1"] for a in nine.addresses] == ["19 MAIN ST", "9 ELM ST", "1019 MAIN ST"]


def test_the_sample_is_reproducible_for_a_seed_and_differs_across_seeds(snapshot: Path) -> None:
    seeds = [f"B{i}" for i in range(10)]
    drawn = {seed: probe_people(snapshot, 20, seed, YEARS) for seed in seeds}
    assert probe_people(snapshot, 20, "B1", YEARS) == drawn["B1"]
    ids = [tuple(p.person_id for p in people) for people in drawn.values()]
    assert all(len(set(i)) == 20 for i in ids)
    # Two seeds whose points fall between the same two qualifying persons draw the same
    # sample: of 43 here, so the ten seeds' 7 samples; of millions in a real snapshot.
    assert len(set(ids)) == 7
    assert ids == [tuple(_expected(seed, 20)) for seed in seeds]


def test_a_smaller_sample_is_a_prefix_of_a_larger_one(snapshot: Path) -> None:
    small = probe_people(snapshot, 7, "s2", YEARS)
    large = probe_people(snapshot, 40, "s2", YEARS)
    assert small == large[:7]


def _holds(bounds: tuple[str | None, str | None], pid: str) -> bool:
    lo, hi = bounds
    return (lo is None or pid >= lo) and (hi is None or pid < hi)


_POINT = st.integers(0, RING - 1)


@given(st.text(max_size=8), st.integers(1, 2 * RING), st.lists(_POINT, max_size=20))
def test_the_ranges_go_once_round_the_ring_from_the_seeds_point(
    seed: str, first: int, points: list[int]
) -> None:
    ranges = list(_ranges(seed, first))
    start = int(hashlib.sha256(seed.encode()).hexdigest()[:16], 16)
    ids = [f"P{p:016x}" for p in points] + ["P", "P0001", "P0000000000000000", "Q", "O"]
    ids += [f"P{start:016x}", f"P{(start - 1) % RING:016x}", "Pffffffffffffffff"]
    for pid in ids:  # every id, of any shape, is in exactly one range
        assert sum(_holds(r, pid) for r in ranges) == 1
    # In order round the ring: the seed's point first, the point just before it last.
    assert _holds(ranges[0], f"P{start:016x}")
    assert _holds(ranges[-1], f"P{(start - 1) % RING:016x}")
