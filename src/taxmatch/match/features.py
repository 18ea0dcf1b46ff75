"""Comparison-ready records, one column set on both sides so that one Splink model scores
them: per snapshot, one ``master_records`` row per resolved person and distinct address
(modal name, every name and TIN variant seen, nicknames) and the term-frequency tables;
per batch, ``req_features`` from the workspace's ``valid`` view. Never logs a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import duckdb
import pyarrow as pa

from taxmatch.normalise.names import SURNAME_PARTICLES, related_first_names
from taxmatch.normalise.typos import fixes

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


def _features_sql(name: str, address: str, **given: str) -> str:
    """The SELECT list of ``FEATURE_COLUMNS``: the name parts and DOB from the table aliased
    ``name``, the address from ``address``, nicknames from ``nick n``, the rest ``given``."""
    parts = ("first_name", "middle_name", "last_name", "suffix")
    places = ("house_number", "street", "unit", "po_box", "zip5", "city", "state")
    exprs = {c: f"nullif({name}.{c}, '')" for c in parts}
    exprs |= {c: f"nullif({address}.{c}, '')" for c in places}
    exprs |= {
        "zip3": f"nullif(substr({address}.zip5, 1, 3), '')",
        "nicknames": "n.nicknames",
        "date_of_birth": f"{name}.date_of_birth",
        **given,
    }
    return ",\n               ".join(f"{exprs[c]} AS {c}" for c in FEATURE_COLUMNS)


def first_name_shares(con: duckdb.DuckDBPyConnection, ref: str = "ref") -> dict[str, float]:
    """Each first name's share of the persons of the snapshot attached as ``ref``
    (``tf_first_name``): what ``normalise.typos.fixes`` reads."""
    found = con.execute(f"SELECT first_name, tf FROM {ref}.tf_first_name").fetchall()
    return {str(name): float(tf) for name, tf in found}


def nickname_table(
    con: duckdb.DuckDBPyConnection, *, source: str = "valid", shares: Mapping[str, float]
) -> None:
    """``nick(first_name, nicknames, fixes)`` for every first name of ``source`` (a batch
    scored in chunks makes it once, for the whole batch): its nicknames, which the model
    compares, and the names of ``shares`` (``first_name_shares``) it is a misspelling of
    (``normalise.typos.fixes``), which only the decision's first-name check reads."""
    found = con.execute(f"SELECT DISTINCT first_name FROM {source}").fetchall()
    names = [row[0] for row in found if row[0]]
    nicknames = [sorted(related_first_names(n)) for n in names]
    typos = [fixes(n, shares) for n in names]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE nick "
        "(first_name VARCHAR, nicknames VARCHAR[], fixes VARCHAR[])"
    )
    table = pa.table({"first_name": names, "nicknames": nicknames, "fixes": typos})
    con.from_arrow(table).insert_into("nick")


# An address's columns in the order ties between two addresses are broken; with a filing's
# name columns before them, the order one person's filings of one year are numbered in.
_ADDRESS_ORDER = ("line1", "unit", "house_number", "street", "po_box", "city", "state", "zip5")
_NAME_ORDER = ("tin", "first_name", "middle_name", "last_name", "suffix", "date_of_birth")
_FILED = ", ".join(f"f.{c}" for c in (*_NAME_ORDER, *_ADDRESS_ORDER, "phone"))


def prepare_snapshot(con: duckdb.DuckDBPyConnection) -> None:
    """Build ``master_records`` and tf tables in an open (writable) snapshot. Every list is
    sorted and every table written in ``unique_id`` order, so the same master file makes
    the same tables, row for row (and so, with the same seed, the same model)."""
    nickname_table(con, source="person_names", shares={})  # the model reads nicknames only
    master = _features_sql(
        "p",
        "a",
        unique_id="p.person_id || '|' || CAST(row_number() OVER ("
        "PARTITION BY p.person_id ORDER BY a.last_year DESC, "
        f"{', '.join(f'a.{c}' for c in _ADDRESS_ORDER)}) AS VARCHAR)",
        person_id="p.person_id",
        first_names="v.first_names",
        last_key="nullif(p.last_key, '')",
        last_parts=f"list_sort(list_distinct(v.last_keys || {_parts_sql('p.last_name')}))",
        tin="p.tin",
        tins="p.tins",
    )
    con.execute(
        f"""CREATE OR REPLACE TABLE master_records AS
        WITH variants AS (
          SELECT person_id,
                 list(DISTINCT first_name ORDER BY first_name)
                   FILTER (WHERE first_name <> '') AS first_names,
                 list(DISTINCT last_key ORDER BY last_key)
                   FILTER (WHERE last_key <> '') AS last_keys
          FROM person_names GROUP BY person_id
        )
        SELECT {master}
        FROM persons p
        JOIN person_addresses a USING (person_id)
        JOIN variants v USING (person_id)
        LEFT JOIN nick n ON n.first_name = p.first_name
        ORDER BY unique_id"""
    )
    # Training pairs for m: one person's filings across years (a 20 % sample of persons).
    training = _features_sql(
        "f",
        "f",
        unique_id="f.person_id || '|' || CAST(f.tax_year AS VARCHAR) || '|' || "
        "CAST(row_number() OVER ("
        f"PARTITION BY f.person_id, f.tax_year ORDER BY {_FILED}) AS VARCHAR)",
        person_id="f.person_id",
        first_names="[f.first_name]",
        last_key="nullif(f.last_key, '')",
        last_parts=f"list_sort(list_distinct([f.last_key] || {_parts_sql('f.last_name')}))",
        tin="f.tin",
        tins="[f.tin]",
    )
    con.execute(
        f"""CREATE OR REPLACE TABLE training_records AS
        SELECT {training}
        FROM filings f LEFT JOIN nick n ON n.first_name = f.first_name
        WHERE hash(f.person_id || 'taxmatch-training') % 100 < 20
        ORDER BY unique_id"""
    )
    for col in ("first_name", "last_key"):
        con.execute(
            f"""CREATE OR REPLACE TABLE tf_{col}_records AS
                SELECT {col}, count(*)::DOUBLE / sum(count(*)) OVER () AS tf_{col}
                FROM master_records WHERE {col} IS NOT NULL GROUP BY {col} ORDER BY {col}"""
        )


def request_features(
    con: duckdb.DuckDBPyConnection,
    *,
    source: str = "valid",
    shares: Mapping[str, float] | None = None,
) -> None:
    """``req_features`` from ``source`` (the workspace's ``valid`` view or a part of it),
    making its ``nick`` table (``nickname_table``) from ``shares``; without ``shares``,
    the batch's ``nick`` table is read instead."""
    if shares is not None:
        nickname_table(con, source=source, shares=shares)
    request = _features_sql(
        "v",
        "v",
        unique_id="CAST(v.row_number AS VARCHAR)",
        person_id="CAST(NULL AS VARCHAR)",
        first_names="[v.first_name]",
        last_key="nullif(replace(v.last_name, ' ', ''), '')",
        last_parts=f"list_distinct([replace(v.last_name, ' ', '')] || {_parts_sql('v.last_name')})",
        tin="nullif(v.tin, '')",
        tins="CASE WHEN v.tin <> '' THEN [v.tin] END",
    )
    con.execute(
        f"""CREATE OR REPLACE TABLE req_features AS
        SELECT {request}
        FROM {source} v LEFT JOIN nick n ON n.first_name = v.first_name"""
    )


# The ``valid`` columns ``request_features`` reads.
REQUEST_INPUTS = (
    "row_number", "first_name", "middle_name", "last_name", "suffix", "date_of_birth",
    "tin", "house_number", "street", "unit", "po_box", "zip5", "city", "state",
)  # fmt: skip
# Those that are request features as they are, with '' read as NULL.
_TEXT = tuple(c for c in REQUEST_INPUTS if c not in ("row_number", "date_of_birth"))


def _nullif(v: str | None) -> str | None:
    return None if v is None or v == "" else v


def request_feature_rows(valid: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``request_features``' rows in Python, for a lookup's few rows (planning the SQL costs
    milliseconds); a test holds the two equal. ``last_parts`` is given sorted: DuckDB's
    ``list_distinct`` has no particular order, and only its overlap is ever read."""
    out: list[dict[str, Any]] = []
    for v in valid:
        first, last, zip5 = v["first_name"], v["last_name"], v["zip5"]
        if not isinstance(first, str | None) or not isinstance(last, str | None):
            raise TypeError("a name that is not text")
        row: dict[str, Any] = {c: _nullif(v[c]) for c in _TEXT}
        row["unique_id"], row["person_id"] = str(v["row_number"]), None
        row["first_names"] = [first]
        row["nicknames"] = sorted(related_first_names(first)) if first else None
        row["last_key"] = row["last_parts"] = None  # [NULL] || NULL is NULL in DuckDB
        if last is not None:
            key = last.replace(" ", "")
            words = [w for w in last.split(" ") if len(w) > 1 and w not in SURNAME_PARTICLES]
            row["last_key"], row["last_parts"] = _nullif(key), sorted({key, *words})
        row["date_of_birth"] = v["date_of_birth"]
        row["tins"] = None if row["tin"] is None else [row["tin"]]
        row["zip3"] = None if zip5 is None else _nullif(str(zip5)[:3])
        out.append({c: row[c] for c in FEATURE_COLUMNS})
    return out
