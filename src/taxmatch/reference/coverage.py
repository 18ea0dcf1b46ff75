"""Which coverage groups (``taxmatch.policy.coverage.GROUPS``) each row of a workspace
shows: the request's own shape (``records.shape``, set by validation) and what the
snapshot's person tables add.

A row's *subject* is the person it is about: for a batch row, the best candidate the
matcher found (``outcomes.person_tin``); for a shadow probe, the person it was built
from. Of the persons sharing that canonical TIN (a return filed under someone else's
TIN that joined no one is a person of its own), the one with the most filings. The TIN
kind is the subject's canonical TIN's (else the request's TIN, if any); moves, the
subject's home and its household are read from the subject's filings in the lookback
years. Rows without a subject show only the request's own groups.
One query; never reads a value into Python.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from taxmatch.files.duck import attach
from taxmatch.policy.coverage import BY_NAME
from taxmatch.reference.person_tables import itin_sql, ssn_sql

COMMON_SHARE = 0.001  # 1 in 1,000 persons carry a common surname ...
COMMON_MIN = 10  # ... and at least 10 of them
RARE_SHARE = 0.00001  # fewer than 1 in 100,000 persons carry a rare surname ...
RARE_MAX = 2  # ... or at most 2 of them (a small master has no share that small)
_KEY = ("house_number", "street", "unit", "po_box", "zip5")


def _bit(name: str) -> int:
    return BY_NAME[name].bit


def _same(a: str, b: str, cols: tuple[str, ...] = _KEY) -> str:
    return " AND ".join(f"{a}.{c} IS NOT DISTINCT FROM {b}.{c}" for c in cols)


def _sql(ref: str, subjects: str, rows: str) -> str:
    """The groups of the rows of ``records`` (and of ``subjects``) that ``rows`` (a WHERE
    clause on row_number, or "") keeps."""
    building = ("house_number", "street", "zip5")
    return f"""
WITH rec AS (SELECT * FROM records {rows}),
subj AS (  -- a TIN's fragment persons share it: its owner is the one filing most
  SELECT s.row_number, arg_max(p.person_id, (p.n_filings, p.person_id)) AS person_id,
         any_value(p.tin) AS tin
  FROM (SELECT * FROM {subjects} {rows}) s JOIN {ref}.persons p ON p.tin = s.person_tin
  WHERE s.person_tin <> '' GROUP BY s.row_number),
win AS (
  SELECT f.person_id, f.tax_year, {", ".join(f"f.{c}" for c in _KEY)}
  FROM {ref}.filings f SEMI JOIN subj ON subj.person_id = f.person_id
  WHERE f.tax_year BETWEEN $lo AND $hi),
moved AS (
  SELECT person_id, count(DISTINCT ({", ".join(_KEY)})) AS addresses, max(tax_year) AS latest
  FROM win GROUP BY person_id),
home AS (
  SELECT DISTINCT w.person_id, {", ".join(f"w.{c}" for c in _KEY)}
  FROM win w JOIN moved m ON m.person_id = w.person_id AND w.tax_year = m.latest),
keys AS (  -- the addresses asked about and the subjects' homes: all that is looked up
  SELECT {", ".join(_KEY)} FROM rec WHERE mask = 0
  UNION SELECT {", ".join(_KEY)} FROM home),
here AS (  -- the persons filing at an address in the lookback
  SELECT {", ".join(f"a.{c}" for c in _KEY)}, count(DISTINCT a.person_id) AS filers
  FROM {ref}.person_addresses a SEMI JOIN keys k ON {_same("a", "k")}
  WHERE a.last_year >= $lo AND a.first_year <= $hi GROUP BY ALL),
units AS (  -- buildings where filers give units
  SELECT DISTINCT {", ".join(f"a.{c}" for c in building)}
  FROM {ref}.person_addresses a SEMI JOIN keys k ON {_same("a", "k", building)}
  WHERE a.unit <> ''),
named AS (  -- carriers: a count again (tf * n is a hair under it for some n: 10 / 77 * 77)
  SELECT last_name, tf AS share,
         round(tf * (SELECT count(*) FROM {ref}.persons WHERE last_name <> '')) AS carriers
  FROM {ref}.tf_last_name),
subject AS (
  SELECT subj.row_number, subj.tin, m.addresses,
         bool_or(h.unit <> '') AS unit, bool_or(h.po_box <> '') AS po_box,
         bool_or(u.street IS NOT NULL) AS units,
         max(coalesce(x.filers, 0)) AS filers
  FROM subj LEFT JOIN moved m USING (person_id) LEFT JOIN home h USING (person_id)
  LEFT JOIN units u ON {_same("u", "h", building)}
  LEFT JOIN here x ON {_same("x", "h")}
  GROUP BY ALL),
request AS (
  SELECT r.row_number, r.shape, r.last_name, r.tin,
         n.carriers, n.share,
         u.street IS NOT NULL AS units, coalesce(x.filers, 0) AS filers
  FROM rec r LEFT JOIN named n ON n.last_name = r.last_name
  LEFT JOIN units u ON {_same("u", "r", building)}
  LEFT JOIN here x ON {_same("x", "r")})
SELECT r.row_number, (coalesce(r.shape, 0)
  | CASE WHEN {itin_sql("coalesce(s.tin, r.tin, '')")} THEN {_bit("itin")} ELSE 0 END
  | CASE WHEN {ssn_sql("coalesce(s.tin, r.tin, '')")} THEN {_bit("ssn")} ELSE 0 END
  | CASE WHEN coalesce(r.last_name, '') <> '' AND r.carriers >= {COMMON_MIN}
              AND r.share >= {COMMON_SHARE} THEN {_bit("common_surname")} ELSE 0 END
  | CASE WHEN coalesce(r.last_name, '') <> ''
              AND (coalesce(r.carriers, 0) < {RARE_MAX} + 0.5
                   OR coalesce(r.share, 0) < {RARE_SHARE}) THEN {_bit("rare_surname")} ELSE 0 END
  | CASE WHEN coalesce(s.addresses, 0) >= 2 THEN {_bit("mover")} ELSE 0 END
  | CASE WHEN r.units OR coalesce(s.unit OR s.units, false) THEN {_bit("multi_unit")} ELSE 0 END
  | CASE WHEN coalesce(s.po_box, false) THEN {_bit("po_box")} ELSE 0 END
  | CASE WHEN greatest(r.filers, coalesce(s.filers, 0)) >= 2 THEN {_bit("household")} ELSE 0 END
  )::INTEGER AS groups
FROM request r LEFT JOIN subject s USING (row_number)
"""


@contextmanager
def _attached(con: duckdb.DuckDBPyConnection, snapshot: Path) -> Iterator[str]:
    """The alias under which ``snapshot`` is attached to ``con`` (attached read-only for
    the duration when it is not already, as a warm matcher's is)."""
    found = con.execute(
        "SELECT database_name FROM duckdb_databases() WHERE path = ?", [str(snapshot)]
    ).fetchall()
    if found:
        yield str(found[0][0])
        return
    attach(con, snapshot, "coverage_ref")
    try:
        yield "coverage_ref"
    finally:
        con.execute("DETACH coverage_ref")


def window_sql(rows: tuple[int | None, int | None]) -> tuple[str, str]:
    """How the rows with row numbers in ``rows`` ([lo, hi), None for no bound) go into
    ``row_groups``: the statement's head (the first window, ``lo`` None, makes the table
    anew; the others add to it) and the WHERE clause that keeps them."""
    lo, hi = rows
    bounds = [f"row_number >= {int(lo)}"] if lo is not None else []
    bounds += [f"row_number < {int(hi)}"] if hi is not None else []
    where = f"WHERE {' AND '.join(bounds)}" if bounds else ""
    return (
        "CREATE OR REPLACE TABLE row_groups AS" if lo is None else "INSERT INTO row_groups",
        where,
    )


def row_groups(
    con: duckdb.DuckDBPyConnection,
    snapshot: Path,
    subjects: str,
    years: tuple[int, int],
    rows: tuple[int | None, int | None] = (None, None),
) -> None:
    """Write ``row_groups(row_number, groups)``: one row per row of ``records``, its groups'
    bit mask. ``subjects``: a relation of (row_number, person_tin), the rows' subjects;
    ``years``: the lookback's first and last tax year; ``rows``: the row numbers [lo, hi)
    to group, None for no bound. A batch grouped a window at a time gives its windows in
    order: the first (``lo`` None) makes the table anew, the others add to it."""
    into, where = window_sql(rows)
    with _attached(con, snapshot) as ref:
        con.execute(f"{into} {_sql(ref, subjects, where)}", {"lo": years[0], "hi": years[1]})
