"""The people shadow probes are built from: a seeded sample of the snapshot's persons.

``probe_people`` draws persons who are alive, named, and filed a deliverable address in
the requested years, with what a known-answer request needs: their name, date of birth,
TINs, the address(es) of their latest filing in those years and every address of theirs.
``names_on_file`` tells which (first, last) names some person filed under, so a made-up
probe names nobody.

The sample is the first qualifying persons in person id order from a point the seed
gives (a sha256 of it), going round past the last id to the first. A person id is 16 hex
digits of a sha256 (``person_tables``), as good as random, so every person is as likely
to be drawn as any other; the sample is a pure function of the snapshot and the seed, so
a replayed batch draws the same probes. The persons are read a range of ids at a time,
and the person tables are stored in person id order (``person_tables``), so a range
reads only the few row groups that hold it: the cost follows the sample, not the size
of the snapshot.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import NamedTuple

import duckdb
import pyarrow as pa

from taxmatch.files.duck import attach

_ADDRESS = "house_number, street, unit, po_box, city, state, zip5, line1"
_DELIVERABLE = "zip5 <> '' AND (po_box <> '' OR (house_number <> '' AND street <> ''))"
RING = 1 << 64  # person ids are "P" and 16 hex digits: points on a ring of 2**64

_AS_STRUCT = "{" + ", ".join(f"'{c}': {c}" for c in _ADDRESS.split(", ")) + "}"


def _people_sql(ids: str) -> str:
    """SQL: the qualifying persons whose ``person_id`` meets ``ids`` (a condition: a range
    of ids), in id order. Each table is filtered by the condition itself, so DuckDB skips
    the row groups outside the range rather than joining the whole table."""
    return f"""
WITH people AS (
  SELECT person_id, first_name, middle_name, last_name, suffix, date_of_birth, tins, tin
  FROM ref.persons
  WHERE {ids} AND NOT deceased AND first_name <> '' AND last_name <> ''),
filed AS (
  SELECT person_id, tax_year, {_ADDRESS},
         max(tax_year) OVER (PARTITION BY person_id) AS latest_year
  FROM ref.filings WHERE {ids} AND tax_year BETWEEN $lo AND $hi),
latest AS (
  -- in a set order: the first is the probe's address, whatever order the rows come in
  SELECT person_id, list(DISTINCT {_AS_STRUCT} ORDER BY {_AS_STRUCT}) AS latest_addresses,
         bool_and({_DELIVERABLE}) AS deliverable
  FROM filed WHERE tax_year = latest_year GROUP BY person_id),
addrs AS (
  SELECT person_id,
         list({_AS_STRUCT} ORDER BY last_year DESC, line1, unit, zip5) AS addresses
  FROM ref.person_addresses WHERE {ids} GROUP BY person_id)
SELECT p.person_id, p.first_name, p.middle_name, p.last_name, p.suffix, p.date_of_birth,
       p.tins, l.latest_addresses, a.addresses, p.tin
FROM people p JOIN latest l USING (person_id) LEFT JOIN addrs a USING (person_id)
WHERE l.deliverable
ORDER BY p.person_id
"""


class ProbePerson(NamedTuple):
    person_id: str
    first_name: str
    middle_name: str
    last_name: str
    suffix: str
    date_of_birth: date | None
    tins: list[str]
    latest_addresses: list[dict[str, str]]  # the addresses of the latest filing year
    addresses: list[dict[str, str]]  # every address they filed at, the latest first
    tin: str = ""  # the canonical TIN (``persons.tin``): who the person is to coverage

    @property
    def older_address(self) -> dict[str, str] | None:
        """The latest address of theirs that is not one of their latest year's."""
        latest = {(a["line1"], a["zip5"]) for a in self.latest_addresses}
        return next((a for a in self.addresses if (a["line1"], a["zip5"]) not in latest), None)


def _connect(snapshot: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    attach(con, snapshot)
    return con


def _bound(point: int) -> str | None:
    """The person id at ``point`` of the ring, as a range's bound; None at the seam
    between the last id and the first (no bound)."""
    return f"P{point % RING:016x}" if point % RING else None


def _ranges(seed: str, first: int) -> Iterator[tuple[str | None, str | None]]:
    """The ring of person ids from the seed's point on, once round, as [lo, hi) ranges of
    ids (None: no bound), the first ``first`` points wide and each next four times the
    last. A range across the seam is two."""
    start = int(hashlib.sha256(seed.encode()).hexdigest()[:16], 16)
    done, width = 0, first
    while done < RING:
        width = min(width, RING - done)
        lo, hi = start + done, start + done + width
        seam = (lo // RING + 1) * RING
        if hi > seam:
            yield _bound(lo), None
            yield None, _bound(hi)
        else:
            yield _bound(lo), _bound(hi)
        done, width = done + width, 4 * width


def _in_range(lo: str | None, hi: str | None) -> tuple[str, dict[str, object]]:
    """SQL: ``person_id`` is in [lo, hi) (None: no bound); and its parameters."""
    where, params = ["true"], dict[str, object]()
    if lo is not None:
        where.append("person_id >= $first")
        params["first"] = lo
    if hi is not None:
        where.append("person_id < $below")
        params["below"] = hi
    return " AND ".join(where), params


def probe_people(snapshot: Path, n: int, seed: str, years: tuple[int, int]) -> list[ProbePerson]:
    """Up to ``n`` persons (fewer when fewer qualify) who filed in ``years`` (first, last):
    the first ``n`` who qualify going round the ring of person ids from the seed's point.
    Read a range at a time: at first one holding about twice ``n`` persons, then four
    times the last."""
    found: list[ProbePerson] = []
    with _connect(snapshot) as con:
        row = con.execute("SELECT count(*) FROM ref.persons").fetchone()
        persons = max(int(row[0]) if row else 0, 1)
        for lo, hi in _ranges(seed, -(-RING * max(2 * n, 100) // persons)):
            ids, params = _in_range(lo, hi)
            params |= {"lo": years[0], "hi": years[1]}
            rows = con.execute(_people_sql(ids), params).fetchall()
            found += [ProbePerson(*row) for row in rows]
            if len(found) >= n:
                break
    return found[:n]


def names_on_file(snapshot: Path, names: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of ``names`` (first, last) some person of the snapshot filed under."""
    if not names:
        return set()
    asked = pa.table({"first_name": [f for f, _ in names], "last_name": [s for _, s in names]})
    with _connect(snapshot) as con:
        con.register("asked", asked)
        found = con.execute(
            """SELECT DISTINCT a.first_name, a.last_name FROM asked a
               JOIN ref.person_names p USING (first_name, last_name)"""
        ).fetchall()
    return {(f, s) for f, s in found}


def first_name_shares(snapshot: Path) -> dict[str, float]:
    """Each first name's share of the snapshot's persons (``tf_first_name``): what the
    matcher reads to take a misspelt first name for a filed one (``normalise.typos``)."""
    with _connect(snapshot) as con:
        found = con.execute("SELECT first_name, tf FROM ref.tf_first_name").fetchall()
    return {str(name): float(tf) for name, tf in found}
