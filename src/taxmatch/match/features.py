"""Comparison-ready records for the probabilistic matcher, on both sides.

Master side, prepared once per reference snapshot (``prepare_snapshot``): one record per
resolved person and distinct address (``master_records``), carrying the person's modal
name, every name and TIN variant seen, and direct nickname links; term-frequency tables
for first and last names. Request side, per batch (``request_features``): the same
columns from the workspace's ``valid`` view.

Both sides share one column set so a single Splink model scores them. Never logs a value.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from taxmatch.normalise.names import SURNAME_PARTICLES, related_first_names

_PARTICLES_SQL = "[" + ", ".join(f"'{p}'" for p in sorted(SURNAME_PARTICLES)) + "]"


def _parts_sql(expr: str) -> str:
    """Surname words of ``expr`` without particles, as a SQL list expression."""
    return (
        f"list_filter(string_split({expr}, ' '), "
        f"lambda w: length(w) > 1 AND NOT list_contains({_PARTICLES_SQL}, w))"
    )


FEATURES_VERSION = "features-1"

# Columns both sides carry, in order (unique_id first, as Splink expects).
FEATURE_COLUMNS = (
    "unique_id",
    "person_id",
    "first_name",
    "first_names",
    "nicknames",
    "middle_name",
    "last_name",
    "last_key",
    "last_parts",
    "suffix",
    "date_of_birth",
    "tin",
    "tins",
    "house_number",
    "street",
    "unit",
    "po_box",
    "zip5",
    "zip3",
    "city",
    "state",
)


def _nickname_table(con: duckdb.DuckDBPyConnection, names_sql: str) -> None:
    """``nick(first_name, nicknames)`` for every distinct first name the query yields."""
    names = [row[0] for row in con.execute(names_sql).fetchall() if row[0]]
    table = pa.table(
        {
            "first_name": names,
            "nicknames": [sorted(related_first_names(n)) for n in names],
        },
        schema=pa.schema([("first_name", pa.string()), ("nicknames", pa.list_(pa.string()))]),
    )
    con.register("nick_arrow", table)
    con.execute("CREATE OR REPLACE TEMP TABLE nick AS SELECT * FROM nick_arrow")
    con.unregister("nick_arrow")


def prepare_snapshot(con: duckdb.DuckDBPyConnection) -> None:
    """Build ``master_records`` and tf tables in an open (writable) snapshot."""
    _nickname_table(con, "SELECT DISTINCT first_name FROM person_names")
    con.execute(
        """CREATE OR REPLACE TABLE master_records AS
        WITH variants AS (
          SELECT person_id,
                 list(DISTINCT first_name) FILTER (WHERE first_name <> '') AS first_names,
                 list(DISTINCT last_key) FILTER (WHERE last_key <> '') AS last_keys
          FROM person_names GROUP BY person_id
        )
        SELECT p.person_id || '|' || CAST(row_number() OVER (
                   PARTITION BY p.person_id ORDER BY a.last_year DESC, a.line1) AS VARCHAR)
                 AS unique_id,
               p.person_id,
               nullif(p.first_name, '') AS first_name,
               v.first_names,
               n.nicknames,
               nullif(p.middle_name, '') AS middle_name,
               nullif(p.last_name, '') AS last_name,
               nullif(p.last_key, '') AS last_key,
               list_distinct(v.last_keys || PARTS(p.last_name)) AS last_parts,
               nullif(p.suffix, '') AS suffix,
               p.date_of_birth,
               p.tin,
               p.tins,
               nullif(a.house_number, '') AS house_number,
               nullif(a.street, '') AS street,
               nullif(a.unit, '') AS unit,
               nullif(a.po_box, '') AS po_box,
               nullif(a.zip5, '') AS zip5,
               nullif(substr(a.zip5, 1, 3), '') AS zip3,
               nullif(a.city, '') AS city,
               nullif(a.state, '') AS state
        FROM persons p
        JOIN person_addresses a USING (person_id)
        JOIN variants v USING (person_id)
        LEFT JOIN nick n ON n.first_name = p.first_name""".replace(
            "PARTS(p.last_name)", _parts_sql("p.last_name")
        )
    )
    # Training pairs for m: one person's filings across years (a 20 % sample of persons).
    con.execute(
        """CREATE OR REPLACE TABLE training_records AS
        SELECT f.person_id || '|' || CAST(f.tax_year AS VARCHAR) || '|' ||
                 CAST(row_number() OVER (PARTITION BY f.person_id, f.tax_year) AS VARCHAR)
                 AS unique_id,
               f.person_id,
               nullif(f.first_name, '') AS first_name,
               [f.first_name] AS first_names,
               n.nicknames,
               nullif(f.middle_name, '') AS middle_name,
               nullif(f.last_name, '') AS last_name,
               nullif(f.last_key, '') AS last_key,
               list_distinct([f.last_key] || PARTS(f.last_name)) AS last_parts,
               nullif(f.suffix, '') AS suffix,
               f.date_of_birth,
               f.tin,
               [f.tin] AS tins,
               nullif(f.house_number, '') AS house_number,
               nullif(f.street, '') AS street,
               nullif(f.unit, '') AS unit,
               nullif(f.po_box, '') AS po_box,
               nullif(f.zip5, '') AS zip5,
               nullif(substr(f.zip5, 1, 3), '') AS zip3,
               nullif(f.city, '') AS city,
               nullif(f.state, '') AS state
        FROM filings f LEFT JOIN nick n ON n.first_name = f.first_name
        WHERE hash(f.person_id || 'taxmatch-training') % 100 < 20""".replace(
            "PARTS(f.last_name)", _parts_sql("f.last_name")
        )
    )
    for col in ("first_name", "last_key"):
        con.execute(
            f"""CREATE OR REPLACE TABLE tf_{col}_records AS
                SELECT {col}, count(*)::DOUBLE / sum(count(*)) OVER () AS tf_{col}
                FROM master_records WHERE {col} IS NOT NULL GROUP BY {col}"""
        )


def request_features(con: duckdb.DuckDBPyConnection) -> None:
    """``req_features`` from the workspace's ``valid`` view, same columns as the master side."""
    _nickname_table(con, "SELECT DISTINCT first_name FROM valid")
    con.execute(
        """CREATE OR REPLACE TABLE req_features AS
        SELECT CAST(v.row_number AS VARCHAR) AS unique_id,
               CAST(NULL AS VARCHAR) AS person_id,
               nullif(v.first_name, '') AS first_name,
               [v.first_name] AS first_names,
               n.nicknames,
               nullif(v.middle_name, '') AS middle_name,
               nullif(v.last_name, '') AS last_name,
               nullif(replace(v.last_name, ' ', ''), '') AS last_key,
               list_distinct([replace(v.last_name, ' ', '')] || PARTS(v.last_name)) AS last_parts,
               nullif(v.suffix, '') AS suffix,
               v.date_of_birth,
               nullif(v.tin, '') AS tin,
               CASE WHEN v.tin <> '' THEN [v.tin] END AS tins,
               nullif(v.house_number, '') AS house_number,
               nullif(v.street, '') AS street,
               nullif(v.unit, '') AS unit,
               nullif(v.po_box, '') AS po_box,
               nullif(v.zip5, '') AS zip5,
               nullif(substr(v.zip5, 1, 3), '') AS zip3,
               nullif(v.city, '') AS city,
               nullif(v.state, '') AS state
        FROM valid v LEFT JOIN nick n ON n.first_name = v.first_name""".replace(
            "PARTS(v.last_name)", _parts_sql("v.last_name")
        )
    )
