"""The tables of person resolution: the working tables its rules read (``_pg``/``_pstat``,
``_cand_f``/``_cand_mode``, ``_pk``; each builder replaces what it built before), and the
per-person tables a batch reads, written once ``reference.persons`` has decided:

- ``filings.person_id``: the resolved person of every filing;
- ``persons``: one row per person (modal name fields, DOB, death, ITIN, every TIN seen);
- ``person_addresses``: each distinct address of a person with the years it was filed and
  its ``support`` (filings by anyone in the master file at that address);
- ``person_names``: each distinct name variant of a person with its filing count;
- ``tf_first_name`` / ``tf_last_name``: term frequencies over persons (share of persons).

``person_id`` is ``P`` + 16 hex of sha256 over the person's canonical cluster key (its
TIN, or its fragment key ``tin~hash``), so the same input always gives the same ids. It is
derived from a TIN and must be treated as one: never logged, never sent out. This module
never logs, never puts a value in an error and never changes a filing other than adding
its ``person_id``.

``filings``, ``persons`` and ``person_addresses`` are stored in ``person_id`` order: a
range of person ids is then a few row groups, which DuckDB finds by their min/max and
reads alone (the shadow probes' sample, ``taxmatch.reference.probes``).
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from taxmatch.errors import ReferenceSnapshotError
from taxmatch.normalise.tin import ITIN_GROUPS

PERSON_ID_DOMAIN = "taxmatch/person/v1|"


def mode_sql(source: str, key: str, cols: str, where: str) -> str:
    """SQL: per ``key`` the ``cols`` (one value combination) with the most filings ``n``,
    then the latest year ``y``, then the greatest value, so ties resolve the same way."""
    order = f"(n, y, {cols})"
    picks = ", ".join(f"arg_max({c}, {order}) AS {c}" for c in cols.split(", "))
    return f"""SELECT {key}, {picks} FROM (
                 SELECT {key}, {cols}, sum(n) AS n, max(y) AS y FROM {source}
                 WHERE {where} GROUP BY ALL) GROUP BY {key}"""


# Modal fields of a cluster or person: a missing middle name, suffix or date is no value.
_MODAL = (
    ("first_name", "first_name <> ''"),
    ("last_name, last_key", "last_key <> ''"),
    ("middle_name", "middle_name <> ''"),
    ("suffix", "suffix <> ''"),
    ("date_of_birth", "date_of_birth IS NOT NULL"),
    ("date_of_death", "date_of_death IS NOT NULL"),
)


def modes_sql(source: str, key: str, fields: tuple[tuple[str, str], ...] = _MODAL) -> str:
    """SQL: LEFT JOINs adding the modal ``fields`` (default every ``_MODAL`` field) of
    ``source`` per ``key``."""
    return " ".join(
        f"LEFT JOIN ({mode_sql(source, key, cols, where)}) USING ({key})" for cols, where in fields
    )


def register_strings(
    con: duckdb.DuckDBPyConnection, name: str, columns: dict[str, list[str]]
) -> None:
    """A small Python-made string table as a temporary table."""
    con.register("_arrow", pa.table({k: pa.array(v, pa.string()) for k, v in columns.items()}))
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM _arrow")
    con.unregister("_arrow")


def candidate_filings(con: duckdb.DuckDBPyConnection, groups: str, key: str) -> None:
    """``_cand_f``: the filings of the few groups (of ``_gk`` or ``_pg``) the SQL ``groups``
    selects, keyed by their column ``key``; ``_cand_mode``: their modal fields per key."""
    con.execute("DROP TABLE IF EXISTS _cand_f; DROP TABLE IF EXISTS _cand_mode")
    con.execute(
        f"""CREATE TEMP TABLE _cand_f AS
            WITH g AS ({groups})
            SELECT g.{key} AS k, f.tax_year, f.first_name, f.middle_name, f.last_name,
                   f.last_key, f.suffix, f.date_of_birth, f.date_of_death, f.house_number,
                   f.street, f.unit, f.po_box, f.zip5, 1 AS n, f.tax_year AS y
            FROM (SELECT * FROM filings SEMI JOIN (SELECT DISTINCT tin FROM g) t USING (tin)) f
            JOIN g ON g.tin = f.tin AND g.first_name = f.first_name AND g.last_key = f.last_key
                  AND g.date_of_birth IS NOT DISTINCT FROM f.date_of_birth"""
    )
    con.execute(
        f"""CREATE TEMP TABLE _cand_mode AS
            SELECT k, coalesce(first_name, '') AS first_name,
                   coalesce(last_key, '') AS last_key, coalesce(middle_name, '') AS middle_name,
                   coalesce(suffix, '') AS suffix, date_of_birth
            FROM (SELECT DISTINCT k FROM _cand_f) {modes_sql("_cand_f", "k")}"""
    )


def person_stats(con: duckdb.DuckDBPyConnection) -> None:
    """``_pg`` (``_gk`` with each group's person key) and ``_pstat`` (per person: canonical
    TIN, fragment or not, years, filings, modal first name, last_key and DOB)."""
    for name in ("_pg", "_pstat", "_pairs"):
        con.execute(f"DROP TABLE IF EXISTS {name}")
    con.execute(
        """CREATE TEMP TABLE _pg AS
           SELECT g.*, k.person_key FROM _gk g JOIN _pk k USING (cluster_key)"""
    )
    # the modal first name, last_key (without its last_name) and DOB
    modal = modes_sql("_pg", "person_key", (_MODAL[0], ("last_key", "last_key <> ''"), _MODAL[4]))
    con.execute(
        f"""CREATE TEMP TABLE _pstat AS
            SELECT person_key, split_part(person_key, '~', 1) AS tin,
                   contains(person_key, '~') AS fragment, n_filings, first_year, last_year,
                   coalesce(first_name, '') AS first_name, coalesce(last_key, '') AS last_key,
                   date_of_birth
            FROM (SELECT person_key, sum(n)::BIGINT AS n_filings, min(y0) AS first_year,
                         max(y) AS last_year FROM _pg GROUP BY person_key) {modal}"""
    )


def apply_edges(con: duckdb.DuckDBPyConnection, edges: list[tuple[str, str]]) -> None:
    """Move every cluster of each source person to its target (``_pk``); a target must
    not itself be a source."""
    register_strings(con, "_edges", {"src": [s for s, _ in edges], "dst": [d for _, d in edges]})
    con.execute("UPDATE _pk SET person_key = e.dst FROM _edges e WHERE _pk.person_key = e.src")


def itin_sql(col: str) -> str:
    """SQL: ``col`` is a nine-digit ITIN (``normalise.tin.is_itin``)."""
    groups = ", ".join(f"'{g}'" for g in sorted(ITIN_GROUPS))
    return (
        f"(length({col}) = 9 AND regexp_full_match({col}, '[0-9]+') AND {col}[1] = '9' "
        f"AND substr({col}, 4, 2) IN ({groups}))"
    )


def ssn_sql(col: str) -> str:
    """SQL: ``col`` is a nine-digit SSN in an issued range (``normalise.tin.is_ssn``)."""
    return (
        f"(length({col}) = 9 AND regexp_full_match({col}, '[0-9]+') AND {col}[1] <> '9' "
        f"AND substr({col}, 1, 3) NOT IN ('000', '666') AND substr({col}, 4, 2) <> '00' "
        f"AND substr({col}, 6, 4) <> '0000')"
    )


def _pid(key: str) -> str:
    return f"'P' || substr(sha256('{PERSON_ID_DOMAIN}' || {key}), 1, 16)"


# A filing without a TIN is its own person, keyed by its content.
_ROW_KEY = "'~' || substr(sha256(concat_ws('|', " + ", ".join(
    f"coalesce(CAST(filings.{c} AS VARCHAR), '')"
    for c in ("tax_year", "first_name", "middle_name", "last_name", "suffix", "date_of_birth",
              "house_number", "street", "unit", "po_box", "zip5")
) + ")), 1, 16)"  # fmt: skip


def write_person_ids(con: duckdb.DuckDBPyConnection) -> None:
    """Add and fill ``filings.person_id`` from ``_gk`` and ``_pk``; refuse if two persons'
    ids collide. Leaves ``_gp`` for the person tables."""
    con.execute(
        f"""CREATE TEMP TABLE _gp AS
            SELECT g.tin, g.first_name, g.last_key, g.date_of_birth, k.person_key,
                   {_pid("k.person_key")} AS person_id
            FROM _gk g JOIN _pk k USING (cluster_key)"""
    )
    counts = "SELECT count(DISTINCT person_key), count(DISTINCT person_id) FROM _gp"
    row = con.execute(counts).fetchone()
    if row is None or row[0] != row[1]:
        raise ReferenceSnapshotError("filings: person_id collision; resolution refused")
    con.execute("ALTER TABLE filings ADD COLUMN person_id VARCHAR")
    con.execute(
        f"""UPDATE filings SET person_id = coalesce(g.person_id, {_pid(_ROW_KEY)})
            FROM (SELECT * FROM _gp UNION ALL
                  SELECT DISTINCT '', first_name, last_key, date_of_birth, NULL, NULL
                  FROM _groups WHERE tin = '') g
            WHERE g.tin = coalesce(filings.tin, '') AND g.first_name = filings.first_name
              AND g.last_key = filings.last_key
              AND g.date_of_birth IS NOT DISTINCT FROM filings.date_of_birth"""
    )


_PART_ROWS = 500_000  # rows of ``_pv`` per part of ``persons``


def _persons(con: duckdb.DuckDBPyConnection) -> None:
    """``persons``, a part of the persons (by a hash of ``person_id``) at a time: in one
    statement, its seven aggregates and their joins outgrow a memory limit (DuckDB does
    not spill them all), and a person's row depends on its own filings only."""
    total = con.execute("SELECT count(*) FROM _pv").fetchall()[0][0]
    parts = max(1, -(-int(total) // _PART_ROWS))
    for part in range(parts):
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _pv_part AS
                SELECT * FROM _pv WHERE hash(person_id) % {parts} = {part}"""
        )
        verb = "CREATE TABLE persons AS" if part == 0 else "INSERT INTO persons"
        con.execute(
            f"""{verb}
            WITH p AS (
              SELECT person_id, list(DISTINCT tin ORDER BY tin) FILTER (WHERE tin <> '') AS tins,
                     sum(n)::BIGINT AS n_filings, min(y0) AS first_year, max(y) AS last_year
              FROM _pv_part GROUP BY person_id),
            c AS (SELECT DISTINCT person_id, split_part(person_key, '~', 1) AS tin
                  FROM _gp SEMI JOIN p USING (person_id))
            SELECT person_id, coalesce(c.tin, '') AS tin, coalesce(first_name, '') AS first_name,
                   coalesce(middle_name, '') AS middle_name,
                   coalesce(last_name, '') AS last_name, coalesce(suffix, '') AS suffix,
                   coalesce(last_key, '') AS last_key, date_of_birth, date_of_death,
                   date_of_death IS NOT NULL AS deceased,
                   {itin_sql("coalesce(c.tin, '')")} AS itin, coalesce(p.tins, []) AS tins,
                   p.n_filings, p.first_year, p.last_year
            FROM p LEFT JOIN c USING (person_id) {modes_sql("_pv_part", "person_id")}"""
        )
    con.execute("DROP TABLE _pv_part")


def sort_by_person(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Rewrite ``table`` in ``person_id`` order (the module's docstring says why)."""
    con.execute(f"CREATE TABLE _by_person AS SELECT * FROM {table} ORDER BY person_id")
    con.execute(f"DROP TABLE {table}")
    con.execute(f"ALTER TABLE _by_person RENAME TO {table}")


def build_person_tables(con: duckdb.DuckDBPyConnection) -> None:
    """``persons``, ``person_names``, ``person_addresses`` and the tf tables; ``filings``,
    ``persons`` and ``person_addresses`` in ``person_id`` order."""
    sort_by_person(con, "filings")
    con.execute(
        """CREATE TEMP TABLE _pv AS
           SELECT person_id, coalesce(tin, '') AS tin, first_name, middle_name, last_name,
                  suffix, last_key, date_of_birth, date_of_death, count(*) AS n,
                  min(tax_year) AS y0, max(tax_year) AS y
           FROM filings GROUP BY ALL"""
    )
    con.execute(
        """CREATE TABLE person_names AS
           SELECT person_id, first_name, middle_name, last_name, suffix, last_key,
                  sum(n)::BIGINT AS n_filings, min(y0) AS first_year, max(y) AS last_year
           FROM _pv GROUP BY ALL"""
    )
    _persons(con)
    sort_by_person(con, "persons")
    # n_years counts distinct years through a 127-bit mask of the years seen (exact unless
    # one person's filings at one address span 127 years): count(DISTINCT) costs double.
    con.execute(
        """CREATE TABLE person_addresses AS
           SELECT person_id, house_number, street, unit, po_box, town.city AS city,
                  town.state AS state, zip5, town.line1 AS line1,
                  first_year, last_year, n_years, n_filings,
                  -- filings by anyone at this address: a one-off slip has 1
                  sum(n_filings) OVER (PARTITION BY house_number, street, unit, po_box, zip5)
                    ::BIGINT AS support
           FROM (SELECT person_id, house_number, street, unit, po_box, zip5,
                        -- the town the person filed this door with most (the latest on a
                        -- tie), from filings that name one: a filing without a city or
                        -- state, or with a mistyped one, is the same door, not another
                        arg_max({'city': city, 'state': state, 'line1': line1},
                                (coalesce(city, '') <> '' AND coalesce(state, '') <> '',
                                 n, y1, city, state, line1)) AS town,
                        min(y0) AS first_year, max(y1) AS last_year,
                        sum(n)::BIGINT AS n_filings,
                        CAST(bit_count(bit_or(years)) AS BIGINT) AS n_years
                 FROM (SELECT person_id, house_number, street, unit, po_box, zip5, city,
                              state, line1, count(*) AS n, min(tax_year) AS y0,
                              max(tax_year) AS y1,
                              bit_or(CAST(1 AS HUGEINT)
                                << CAST(((tax_year % 127) + 127) % 127 AS HUGEINT)) AS years
                       FROM filings GROUP BY ALL)
                 GROUP BY person_id, house_number, street, unit, po_box, zip5)
           ORDER BY person_id"""
    )
    for col in ("first_name", "last_name"):
        # ``tf`` as briefed; ``tf_<col>`` is the column Splink's tf lookup reads.
        con.execute(
            f"""CREATE TABLE tf_{col} AS
                SELECT {col}, tf, tf AS tf_{col} FROM (
                  SELECT {col}, CAST(count(*) AS DOUBLE) / sum(count(*)) OVER () AS tf
                  FROM persons WHERE {col} <> '' GROUP BY {col})"""
        )
