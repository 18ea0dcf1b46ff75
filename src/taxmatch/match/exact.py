"""The honest baseline matcher: exact agreement, unique TIN, or nothing.

A request matches a TIN when some filing of that TIN agrees exactly on normalised first
name, last name, house number (or PO box) and ZIP5. One TIN → that TIN's most recent
filing within the requested periods; several → AMBIGUOUS; none → NO_MATCH. Kept as
``--matcher exact`` for comparison once the probabilistic matcher is the default.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from taxmatch.files.duck import attach

_SQL = """
CREATE OR REPLACE TABLE outcomes AS
WITH hits AS (
  SELECT DISTINCT v.row_number, f.tin
  FROM valid v JOIN ref.filings f
    ON f.first_name = v.first_name AND f.last_name = v.last_name AND f.zip5 = v.zip5
   AND ((v.house_number <> '' AND f.house_number = v.house_number)
     OR (v.po_box <> '' AND f.po_box = v.po_box))
),
per_row AS (
  SELECT row_number, count(*) AS candidates, min(tin) AS tin FROM hits GROUP BY row_number
),
chosen AS (
  SELECT p.row_number, p.candidates, p.tin, v.tax_periods
  FROM per_row p JOIN valid v USING (row_number)
),
in_period AS (
  SELECT c.row_number, f.tax_year, f.line1, f.unit, f.city, f.state, f.zip5, f.phone,
         row_number() OVER (PARTITION BY c.row_number ORDER BY f.tax_year DESC, f.line1) AS rn
  FROM chosen c JOIN ref.filings f ON f.tin = c.tin
  WHERE c.candidates = 1 AND list_contains(c.tax_periods, f.tax_year)
),
dead AS (
  SELECT DISTINCT c.row_number FROM chosen c JOIN ref.filings f ON f.tin = c.tin
  WHERE f.date_of_death IS NOT NULL
)
SELECT v.row_number,
       coalesce(c.candidates, 0) AS candidates,
       CASE WHEN c.candidates IS NULL THEN 0.0 ELSE 1.0 END AS score,
       CASE WHEN c.candidates = 1 THEN 'Infinity'::DOUBLE ELSE 0.0 END AS margin_log2,
       c.candidates IS NOT NULL AS first_name_agrees,
       c.candidates IS NOT NULL AS address_corroborated,
       p.tax_year AS filing_year,
       d.row_number IS NOT NULL AS ineligible,
       false AS identifier_conflict,
       false AS suffix_unconfirmed,
       coalesce((p.line1 <> '') AND (p.zip5 <> ''), true) AS address_usable,
       CASE WHEN c.candidates = 1 THEN c.tin END AS person_tin,
       p.line1, p.unit, p.city, p.state, p.zip5, p.phone,
       NULL::VARCHAR AS address_mended, NULL::VARCHAR AS mended_from
FROM valid v
LEFT JOIN chosen c USING (row_number)
LEFT JOIN in_period p ON p.row_number = v.row_number AND p.rn = 1
LEFT JOIN dead d ON d.row_number = v.row_number
"""


def match_exact(con: duckdb.DuckDBPyConnection, reference: Path) -> None:
    """Write the ``outcomes`` table for every row of the ``valid`` view."""
    attach(con, reference)
    try:
        con.execute(_SQL)
    finally:
        con.execute("DETACH ref")
