"""Person resolution over the master file, once per snapshot: a TIN is not a person key (a
clerk keys one wrong on a return; an ITIN filer later files with an SSN), so the filings
are grouped into persons and "the most recent address" is one person's.

The rules are pure (``taxmatch.resolve``). This adapter only gathers rows for them: SQL
groups the filings and narrows each rule to the pairs it could accept (adjacent TINs,
equal last_keys, a shared address); the rules judge those and their decisions are applied
here. It never logs, never puts a value in an error and never changes a filing other than
adding its ``person_id``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import duckdb

from taxmatch.errors import ReferenceSnapshotError
from taxmatch.normalise.tin import tin_neighbours
from taxmatch.reference.person_tables import (
    apply_edges,
    build_person_tables,
    candidate_filings,
    itin_sql,
    mode_sql,
    person_stats,
    register_strings,
    ssn_sql,
    write_person_ids,
)
from taxmatch.resolve.edges import (
    FRAGMENT_FILINGS,
    fragment_edges,
    one_off_roots,
    succession_edges,
)
from taxmatch.resolve.records import Filed, Modal
from taxmatch.resolve.rules import splits_off

_FRAGMENT_HEX = 12
_PAGE = 20_000  # one-off clusters whose adjacent TINs are made at once (about 89 each)
# A resolution rule: (pairs, modal fields, filings) -> the pairs it joins.
Rule = Callable[
    [list[tuple[str, str]], dict[str, Modal], dict[str, list[Filed]]], list[tuple[str, str]]
]


def resolve_persons(con: duckdb.DuckDBPyConnection) -> None:
    """Add ``filings.person_id`` and build the person tables (see ``taxmatch.resolve``)."""
    try:
        _split_groups(con)
        _merge_one_offs(con)
        _join(con, _SUCCESSION_PAIRS_SQL, succession_edges)  # rule 6
        _join(con, _FRAGMENT_PAIRS_SQL, fragment_edges)  # rule 7
        write_person_ids(con)
        build_person_tables(con)
    except duckdb.Error as exc:
        raise ReferenceSnapshotError("filings: person resolution failed") from exc
    finally:  # the working tables (the connection is the snapshot load's own)
        temporary = "SELECT table_name FROM duckdb_tables() WHERE temporary"
        for (name,) in con.execute(temporary).fetchall():
            con.execute(f"DROP TABLE {name}")


# One row per (TIN, name, DOB): rules 2 and 3 and the person key depend on nothing else.
_GROUPS_SQL = """
CREATE TEMP TABLE _groups AS
SELECT coalesce(tin, '') AS tin, first_name, last_key, date_of_birth, count(*) AS n,
       min(tax_year) AS y0, max(tax_year) AS y
FROM filings GROUP BY ALL
"""

# Rule 2 only ever splits a group whose last_key is not its TIN's modal one (blocking).
_SUSPECTS_SQL = """
SELECT g.tin, g.first_name, g.last_key, g.date_of_birth,
       m.first_name, m.last_key, m.date_of_birth
FROM _groups g JOIN _tin_mode m USING (tin) WHERE g.last_key <> m.last_key
"""


def _split_groups(con: duckdb.DuckDBPyConnection) -> None:
    """Rule 2: give another person's name under a TIN a fragment cluster (``_gk``)."""
    con.execute(_GROUPS_SQL)
    con.execute(
        f"""CREATE TEMP TABLE _tin_mode AS
            SELECT tin, first_name, last_key, date_of_birth
            FROM ({mode_sql("_groups", "tin", "first_name, last_key", "tin <> ''")})
            LEFT JOIN ({mode_sql("_groups", "tin", "date_of_birth", "date_of_birth IS NOT NULL")})
              USING (tin)"""
    )
    suspects = con.execute(_SUSPECTS_SQL).fetchall()
    split = [
        (tin, first, last_key, "" if dob is None else dob.isoformat())
        for tin, first, last_key, dob, m_first, m_last, m_dob in suspects
        if splits_off(first, last_key, dob, Modal(m_first, m_last, dob=m_dob))
    ]
    columns = ("tin", "first_name", "last_key", "dob")
    register_strings(con, "_split", {c: [row[i] for row in split] for i, c in enumerate(columns)})
    con.execute(
        f"""CREATE TEMP TABLE _gk AS
            SELECT g.*, CASE WHEN s.tin IS NULL THEN g.tin
                ELSE g.tin || '~' || substr(sha256(concat_ws('|', g.first_name, g.last_key,
                     coalesce(CAST(g.date_of_birth AS VARCHAR), ''))), 1, {_FRAGMENT_HEX})
                END AS cluster_key
            FROM _groups g
            LEFT JOIN _split s
              ON s.tin = g.tin AND s.first_name = g.first_name AND s.last_key = g.last_key
             AND s.dob = coalesce(CAST(g.date_of_birth AS VARCHAR), '')
            WHERE g.tin <> ''"""
    )


def _gathered(
    con: duckdb.DuckDBPyConnection,
) -> tuple[list[tuple[str, str]], dict[str, Modal], dict[str, list[Filed]]]:
    """The pairs of ``_pairs``, and the modal fields and filings of their members."""
    pairs = [(s, d) for s, d in con.execute("SELECT src, dst FROM _pairs").fetchall()]
    modes = "SELECT k, first_name, last_key, middle_name, suffix, date_of_birth FROM _cand_mode"
    modal = {k: Modal(*row) for k, *row in con.execute(modes).fetchall()}
    filed: dict[str, list[Filed]] = defaultdict(list)
    filings = "SELECT k, tax_year, house_number, street, unit, po_box, zip5 FROM _cand_f"
    for k, *row in con.execute(filings).fetchall():
        filed[k].append(Filed(*row))
    return pairs, modal, dict(filed)


def _merge_one_offs(con: duckdb.DuckDBPyConnection) -> None:
    """Rule 3: every cluster's person key after rule 3 (``_pk``)."""
    con.execute(
        """CREATE TEMP TABLE _clusters AS
           SELECT cluster_key, any_value(tin) AS tin, sum(n)::BIGINT AS n_filings,
                  min(y0) AS first_year, max(y) AS last_year
           FROM _gk GROUP BY cluster_key"""
    )
    pairs = _one_off_pairs(con)
    keys = "SELECT src AS cluster_key FROM _pairs UNION SELECT dst FROM _pairs"
    candidate_filings(
        con, f"SELECT * FROM _gk SEMI JOIN ({keys}) USING (cluster_key)", "cluster_key"
    )
    ranked = con.execute(
        "SELECT cluster_key, first_year, last_year, n_filings FROM _clusters "
        "SEMI JOIN (SELECT k AS cluster_key FROM _cand_mode) USING (cluster_key)"
    ).fetchall()
    rank = {key: (last - first, filings, last) for key, first, last, filings in ranked}
    _, modal, filed = _gathered(con)
    roots = one_off_roots(pairs, modal, filed, rank)
    moved = {k: r for k, r in roots.items() if k != r}
    register_strings(
        con, "_merge", {"cluster_key": list(moved), "person_key": list(moved.values())}
    )
    con.execute(
        """CREATE TEMP TABLE _pk AS
           SELECT c.cluster_key, coalesce(m.person_key, c.cluster_key) AS person_key
           FROM _clusters c LEFT JOIN _merge m USING (cluster_key)"""
    )


def _one_off_pairs(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """Rule 3's blocking: ``_pairs`` of (one-off cluster, cluster under an adjacent TIN),
    and those pairs in order. The one-offs' adjacent TINs are made a page of one-offs at a
    time and joined to the clusters in SQL, so no list of every cluster is held here."""
    con.execute("CREATE OR REPLACE TEMP TABLE _near (src VARCHAR, tin VARCHAR)")
    page = """SELECT cluster_key, tin FROM _clusters
              WHERE first_year = last_year AND cluster_key > ? ORDER BY cluster_key LIMIT ?"""
    after = ""
    while rows := con.execute(page, [after, _PAGE]).fetchall():
        after = rows[-1][0]
        near = [(key, n) for key, tin in rows for n in tin_neighbours(tin)]
        register_strings(con, "_page", {"src": [k for k, _ in near], "tin": [n for _, n in near]})
        con.execute("INSERT INTO _near SELECT * FROM _page")
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _pairs AS
           SELECT DISTINCT n.src, c.cluster_key AS dst FROM _near n JOIN _clusters c USING (tin)"""
    )
    con.execute("DROP TABLE _near; DROP TABLE IF EXISTS _page")
    return [(s, d) for s, d in con.execute("SELECT src, dst FROM _pairs ORDER BY ALL").fetchall()]


# Blocking for rule 6: ITIN persons and SSN persons with equal last_keys, the ITIN's years
# all before the SSN's, on equal DOBs or a DOB missing on one side (so the joins stay small).
_SUCCESSION_PAIRS_SQL = f"""
CREATE TEMP TABLE _pairs AS
WITH i AS (SELECT * FROM _pstat
           WHERE NOT fragment AND last_key <> '' AND first_name <> '' AND {itin_sql("tin")}),
s AS (SELECT * FROM _pstat
      WHERE NOT fragment AND last_key <> '' AND first_name <> '' AND {ssn_sql("tin")})
SELECT i.person_key AS src, s.person_key AS dst FROM i JOIN s
  ON s.last_key = i.last_key AND s.date_of_birth = i.date_of_birth
 AND i.last_year < s.first_year
UNION
SELECT i.person_key, s.person_key FROM (SELECT * FROM i WHERE date_of_birth IS NULL) i
JOIN s ON s.last_key = i.last_key AND i.last_year < s.first_year
UNION
SELECT i.person_key, s.person_key FROM i JOIN (SELECT * FROM s WHERE date_of_birth IS NULL) s
  ON s.last_key = i.last_key AND i.last_year < s.first_year
"""

_PAIR_GROUPS = """SELECT * FROM _pg SEMI JOIN (SELECT src AS person_key FROM _pairs
                  UNION SELECT dst FROM _pairs) USING (person_key)"""


def _join(con: duckdb.DuckDBPyConnection, pairs_sql: str, rule: Rule) -> None:
    """Rule 6 (an ITIN person joins the one SSN person that succeeds it) or rule 7 (a
    fragment joins the one person whose address and name it shares) over its pairs."""
    person_stats(con)
    con.execute(pairs_sql)
    candidate_filings(con, _PAIR_GROUPS, "person_key")
    apply_edges(con, rule(*_gathered(con)))


# Blocking for rule 7: small persons (a fragment or one tax year) and the persons filing
# at one of their addresses under the same last_key that are not such persons themselves.
_FRAGMENT_PAIRS_SQL = f"""
CREATE TEMP TABLE _pairs AS
WITH src AS (
  SELECT * FROM _pstat
  WHERE n_filings <= {FRAGMENT_FILINGS} AND (fragment OR first_year = last_year)
    AND last_key <> '' AND first_name <> ''),
sf AS (
  SELECT DISTINCT g.person_key, f.tax_year, f.house_number, f.street, f.zip5, f.last_key
  FROM (SELECT * FROM filings SEMI JOIN (SELECT DISTINCT tin FROM _pg SEMI JOIN src
                                         USING (person_key)) t USING (tin)) f
  JOIN (SELECT * FROM _pg SEMI JOIN src USING (person_key)) g
    ON g.tin = f.tin AND g.first_name = f.first_name AND g.last_key = f.last_key
   AND g.date_of_birth IS NOT DISTINCT FROM f.date_of_birth
  WHERE f.house_number <> '' AND f.street <> '' AND f.zip5 <> ''),
hit AS (
  SELECT DISTINCT f.tin, f.first_name, f.last_key, f.date_of_birth, f.house_number,
         f.street, f.zip5
  FROM filings f SEMI JOIN sf USING (house_number, street, zip5, last_key)),
pairs AS (
  SELECT DISTINCT sf.person_key AS src, g.person_key AS dst
  FROM sf JOIN hit h USING (house_number, street, zip5, last_key)
  JOIN _pg g ON g.tin = h.tin AND g.first_name = h.first_name AND g.last_key = h.last_key
            AND g.date_of_birth IS NOT DISTINCT FROM h.date_of_birth
  WHERE g.person_key <> sf.person_key AND g.person_key NOT IN (SELECT person_key FROM src))
SELECT src, dst FROM pairs
"""
