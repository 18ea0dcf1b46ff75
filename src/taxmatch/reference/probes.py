"""The people shadow probes are built from: a seeded sample of the snapshot's persons.

``probe_people`` draws persons who are alive, named, and filed a deliverable address in
the requested years, with what a known-answer request needs: their name, date of birth,
TINs, the address(es) of their latest filing in those years and every address of theirs.
``names_on_file`` tells which (first, last) names some person filed under, so a made-up
probe names nobody. The sample is a pure function of the snapshot and the seed
(an md5 order), so a replayed batch draws the same probes.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import NamedTuple

import duckdb
import pyarrow as pa

from taxmatch.files.duck import attach

_ADDRESS = "house_number, street, unit, po_box, city, state, zip5, line1"
_DELIVERABLE = "zip5 <> '' AND (po_box <> '' OR (house_number <> '' AND street <> ''))"

# Persons in the sample's order (an md5 of the person id and the seed), a window at a
# time: the sample touches the filings of the persons it looks at, not the whole master.
_ORDER_SQL = """
SELECT person_id FROM ref.persons
WHERE NOT deceased AND first_name <> '' AND last_name <> ''
ORDER BY md5(person_id || $seed), person_id LIMIT $k OFFSET $skip
"""
_PEOPLE_SQL = f"""
WITH filed AS (
  SELECT f.person_id, f.tax_year, {", ".join(f"f.{c}" for c in _ADDRESS.split(", "))},
         max(f.tax_year) OVER (PARTITION BY f.person_id) AS latest_year
  FROM window_people w JOIN ref.filings f USING (person_id)
  WHERE f.tax_year BETWEEN $lo AND $hi),
latest AS (
  SELECT person_id, list(DISTINCT {{{", ".join(f"'{c}': {c}" for c in _ADDRESS.split(", "))}}})
           AS latest_addresses,
         bool_and({_DELIVERABLE}) AS deliverable
  FROM filed WHERE tax_year = latest_year GROUP BY person_id),
pool AS (
  SELECT p.person_id, p.first_name, p.middle_name, p.last_name, p.suffix, p.date_of_birth,
         p.tins, l.latest_addresses, p.tin
  FROM window_people w JOIN ref.persons p USING (person_id) JOIN latest l USING (person_id)
  WHERE l.deliverable),
addrs AS (
  SELECT a.person_id,
         list({{{", ".join(f"'{c}': a.{c}" for c in _ADDRESS.split(", "))}}}
              ORDER BY a.last_year DESC, a.line1, a.unit, a.zip5) AS addresses
  FROM pool JOIN ref.person_addresses a USING (person_id) GROUP BY a.person_id)
SELECT pool.* EXCLUDE (tin), addrs.addresses, pool.tin
FROM pool LEFT JOIN addrs USING (person_id)
ORDER BY md5(person_id || $seed), person_id
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


def probe_people(snapshot: Path, n: int, seed: str, years: tuple[int, int]) -> list[ProbePerson]:
    """Up to ``n`` persons (fewer when fewer qualify) who filed in ``years`` (first, last):
    the first ``n`` who qualify in the sample's order. Persons are looked at a window at a
    time (twice ``n`` at first, then four times the last window), so the cost follows the
    sample, not the size of the snapshot."""
    found: list[ProbePerson] = []
    skip, k = 0, max(2 * n, 100)
    with _connect(snapshot) as con:
        while len(found) < n:
            window = con.sql(
                _ORDER_SQL, params={"seed": seed, "k": k, "skip": skip}
            ).to_arrow_table()
            if window.num_rows == 0:
                break
            con.register("window_people", window)
            params = {"lo": years[0], "hi": years[1], "seed": seed}
            found += [ProbePerson(*row) for row in con.execute(_PEOPLE_SQL, params).fetchall()]
            con.unregister("window_people")
            skip, k = skip + window.num_rows, 4 * k
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
