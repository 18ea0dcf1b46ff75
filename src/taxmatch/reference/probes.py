"""The people shadow probes are built from: a seeded sample of the snapshot's persons.

``probe_people`` draws persons who are alive, named, and filed a deliverable address in
the requested years, with what a known-answer request needs: their name, date of birth,
TINs, the address(es) of their latest filing in those years and every address of theirs.
``names_on_file`` tells which (first, last) names some person filed under, so a made-up
probe names nobody. The sample is a pure function of the snapshot and the seed
(an md5 order), so a replayed batch draws the same probes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import pyarrow as pa

_ADDRESS = "house_number, street, unit, po_box, city, state, zip5, line1"
_DELIVERABLE = "zip5 <> '' AND (po_box <> '' OR (house_number <> '' AND street <> ''))"

_PEOPLE_SQL = f"""
WITH filed AS (
  SELECT person_id, tax_year, {_ADDRESS},
         max(tax_year) OVER (PARTITION BY person_id) AS latest_year
  FROM ref.filings WHERE tax_year BETWEEN $lo AND $hi AND person_id IS NOT NULL),
latest AS (
  SELECT person_id, list(DISTINCT {{{", ".join(f"'{c}': {c}" for c in _ADDRESS.split(", "))}}})
           AS latest_addresses,
         bool_and({_DELIVERABLE}) AS deliverable
  FROM filed WHERE tax_year = latest_year GROUP BY person_id),
pool AS (
  SELECT p.person_id, p.first_name, p.middle_name, p.last_name, p.suffix, p.date_of_birth,
         p.tins, l.latest_addresses, p.tin
  FROM ref.persons p JOIN latest l USING (person_id)
  WHERE l.deliverable AND NOT p.deceased AND p.first_name <> '' AND p.last_name <> ''
  ORDER BY md5(p.person_id || $seed) LIMIT $n)
SELECT pool.* EXCLUDE (tin),
       (SELECT list({{{", ".join(f"'{c}': a.{c}" for c in _ADDRESS.split(", "))}}}
                    ORDER BY a.last_year DESC, a.line1, a.unit, a.zip5)
        FROM ref.person_addresses a WHERE a.person_id = pool.person_id) AS addresses,
       pool.tin
FROM pool ORDER BY md5(person_id || $seed)
"""


class ProbePerson(NamedTuple):
    person_id: str
    first_name: str
    middle_name: str
    last_name: str
    suffix: str
    date_of_birth: Any  # datetime.date | None
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
    quoted = str(snapshot).replace("'", "''")
    con.execute(f"ATTACH '{quoted}' AS ref (READ_ONLY)")
    return con


def probe_people(snapshot: Path, n: int, seed: str, years: tuple[int, int]) -> list[ProbePerson]:
    """Up to ``n`` persons (fewer when fewer qualify) who filed in ``years`` (first, last)."""
    with _connect(snapshot) as con:
        params = {"lo": years[0], "hi": years[1], "seed": seed, "n": n}
        rows = con.execute(_PEOPLE_SQL, params).fetchall()
    return [ProbePerson(*row) for row in rows]


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
