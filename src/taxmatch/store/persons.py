"""Person resolution over the master file: group filings into people, once per snapshot.

A TIN is not a person key: a clerk keys a TIN wrong on one return, and that wrong TIN may
be nobody's or somebody else's. ``resolve_persons`` groups the ``filings`` of a reference
snapshot into persons so that "the most recent address" is one person's, and writes the
per-person tables a batch reads instead of recomputing them:

- ``filings.person_id``: the resolved person of every filing;
- ``persons``: one row per person (modal name fields, DOB, death, ITIN, every TIN seen);
- ``person_addresses``: each distinct address of a person with the years it was filed;
- ``person_names``: each distinct name variant of a person with its filing count;
- ``tf_first_name`` / ``tf_last_name``: term frequencies over persons (share of persons).

Rules (merging two people discloses the wrong person's address, the worst error; splitting
one person only costs recall, so every merge needs several independent agreements):

1. Start with one cluster per TIN. A filing without a TIN is a person of its own.
2. Split: a filing whose last_key and first name (``given_names_agree``) both disagree
   with its TIN's modal name, and whose date of birth differs from the TIN's modal date of
   birth when both are present, is another person's filing (a keyed-wrong TIN that hit a
   real TIN): it leaves for a fragment cluster ``tin~hash(name, dob)``.
3. Merge a one-off cluster (filings in a single tax year, a keyed-wrong TIN) into another
   cluster when all hold: the TINs are adjacent (one digit changed or two neighbours
   swapped), the modal first names agree, the modal last_keys are equal and non-empty, the
   suffixes and middle names do not conflict, and either both modal dates of birth are
   present and equal or (one is missing) the one-off's house number (or PO box) and ZIP5
   equal the other's in its nearest filing year on either side (or the same year), at
   most three years away. Never when both dates of birth are present and differ; never
   when the one-off has more than one such candidate. Only one-offs move, each to one
   target, so two multi-year TINs never end up in one person.
4. A one-year name typo under a TIN stays (rule 2 needs both names to disagree).
5. Father and son (Jr/Sr) or twins at one address keep their own TINs and so stay apart.

``person_id`` is ``P`` + 16 hex of sha256 over the person's canonical cluster key (its TIN,
or its fragment key), so the same input always gives the same ids. It is derived from a
TIN and must be treated as one: never logged, never sent out.

The heavy lifting is SQL; Python only judges the small sets of suspect filings and merge
candidates. This module never logs, never puts a value in an error and never changes a
filing other than adding its ``person_id``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from taxmatch.errors import ReferenceSnapshotError
from taxmatch.normalise.names import first_names_agree
from taxmatch.normalise.tin import ITIN_GROUPS

PERSON_ID_DOMAIN = "taxmatch/person/v1|"
_FRAGMENT_HEX = 12
_NEAR_YEARS = 3
_SQUASH = str.maketrans("", "", " -")

_TEMP = ("_groups", "_tin_mode", "_suspect", "_disagree", "_gk", "_clusters", "_pairs",
         "_cand_f", "_cand_mode", "_addr_ok", "_merge", "_gp", "_pv")  # fmt: skip


@dataclass(frozen=True, slots=True)
class ResolutionStats:
    """Counts only: persons built, filings split off their TIN, clusters merged away."""

    persons: int
    split_filings: int
    merged_clusters: int


@dataclass(frozen=True, slots=True)
class MergeCandidate:
    """A one-off cluster ``src`` and an adjacent-TIN cluster ``dst`` with equal last_key."""

    src: str
    dst: str
    src_first: str
    dst_first: str
    src_middle: str
    dst_middle: str
    src_suffix: str
    dst_suffix: str
    dob_equal: bool  # both modal dates of birth present and equal
    address_shared: bool  # house number / PO box + ZIP5 shared at the nearest filing years


def given_names_agree(a: str, b: str) -> bool:
    """``first_names_agree``, or the same letters once spaces and hyphens go ("JI EUN")."""
    return first_names_agree(a, b) or a.translate(_SQUASH) == b.translate(_SQUASH)


def middle_names_conflict(a: str, b: str) -> bool:
    """Both present and neither the other nor its initial ("J" fits "JAMES")."""
    if not a or not b or a == b:
        return False
    if len(a) == 1 or len(b) == 1:
        return a[0] != b[0]
    return True


def merge_allowed(c: MergeCandidate) -> bool:
    """Rule 3 beyond what SQL already checked (adjacent TINs, last_key, no DOB conflict)."""
    return (
        given_names_agree(c.src_first, c.dst_first)
        and not (c.src_suffix and c.dst_suffix and c.src_suffix != c.dst_suffix)
        and not middle_names_conflict(c.src_middle, c.dst_middle)
        and (c.dob_equal or c.address_shared)
    )


def accepted_edges(candidates: Iterable[MergeCandidate]) -> list[tuple[str, str]]:
    """(src, dst) for each one-off with exactly one allowed target; ambiguity merges nothing."""
    targets: dict[str, set[str]] = {}
    for c in candidates:
        if merge_allowed(c):
            targets.setdefault(c.src, set()).add(c.dst)
    return sorted((src, next(iter(dst))) for src, dst in targets.items() if len(dst) == 1)


def merge_roots(
    edges: Iterable[tuple[str, str]], rank: Mapping[str, tuple[int, int, int]]
) -> dict[str, str]:
    """Cluster -> canonical cluster of its component, for every cluster named in ``edges``.

    The canonical cluster spans the most tax years, then has the most filings, then the
    latest year, then the smallest key; ``rank`` gives (span, filings, last year).
    """
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[str]] = {}
    for x in list(parent):
        groups.setdefault(find(x), []).append(x)
    out: dict[str, str] = {}
    for members in groups.values():
        best = min(members, key=lambda k: (*(-v for v in rank.get(k, (0, 0, 0))), k))
        out.update((m, best) for m in members)
    return out


def resolve_persons(con: duckdb.DuckDBPyConnection) -> ResolutionStats:
    """Add ``filings.person_id`` and build the person tables (see the module docstring)."""
    try:
        split = _split_groups(con)
        merged = _merge_one_offs(con)
        _write_person_ids(con)
        persons = _build_person_tables(con)
    except duckdb.Error as exc:
        raise ReferenceSnapshotError("filings: person resolution failed") from exc
    finally:
        for name in _TEMP:
            con.execute(f"DROP TABLE IF EXISTS {name}")
    return ResolutionStats(persons=persons, split_filings=split, merged_clusters=merged)


def _mode(source: str, key: str, cols: str, where: str) -> str:
    """SQL: per ``key`` the ``cols`` (one value combination) with the most filings ``n``,
    then the latest year ``y``, then the greatest value, so ties resolve the same way."""
    order = f"(n, y, {cols})"
    picks = ", ".join(f"arg_max({c}, {order}) AS {c}" for c in cols.split(", "))
    return f"""SELECT {key}, {picks} FROM (
                 SELECT {key}, {cols}, sum(n) AS n, max(y) AS y FROM {source}
                 WHERE {where} GROUP BY ALL) GROUP BY {key}"""


# Modal fields of a cluster or person: a missing middle name, suffix or date is no value.
_MODAL = (("first_name", "first_name <> ''"), ("last_name, last_key", "last_key <> ''"),
          ("middle_name", "middle_name <> ''"), ("suffix", "suffix <> ''"),
          ("date_of_birth", "date_of_birth IS NOT NULL"),
          ("date_of_death", "date_of_death IS NOT NULL"))  # fmt: skip


def _modes(source: str, key: str) -> str:
    """SQL: LEFT JOINs adding every ``_MODAL`` field of ``source`` per ``key``."""
    return " ".join(
        f"LEFT JOIN ({_mode(source, key, cols, where)}) USING ({key})" for cols, where in _MODAL
    )


def _register(con: duckdb.DuckDBPyConnection, name: str, columns: dict[str, list[str]]) -> None:
    """A small Python-made string table as a temporary table."""
    con.register("_arrow", pa.table({k: pa.array(v, pa.string()) for k, v in columns.items()}))
    con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM _arrow")
    con.unregister("_arrow")


# One row per (TIN, name, DOB): rules 2 and 3 and the person key depend on nothing else.
_GROUPS_SQL = """
CREATE TEMP TABLE _groups AS
SELECT coalesce(tin, '') AS tin, first_name, last_key, date_of_birth, count(*) AS n,
       min(tax_year) AS y0, max(tax_year) AS y
FROM filings GROUP BY ALL
"""


def _split_groups(con: duckdb.DuckDBPyConnection) -> int:
    """Rule 2: give another person's name under a TIN a fragment cluster (``_gk``)."""
    con.execute(_GROUPS_SQL)
    con.execute(
        f"""CREATE TEMP TABLE _tin_mode AS
            SELECT tin, first_name, last_key, date_of_birth
            FROM ({_mode("_groups", "tin", "first_name, last_key", "tin <> ''")})
            LEFT JOIN ({_mode("_groups", "tin", "date_of_birth", "date_of_birth IS NOT NULL")})
              USING (tin)"""
    )
    con.execute(
        """CREATE TEMP TABLE _suspect AS
           SELECT g.tin, g.first_name, g.last_key, g.date_of_birth, m.first_name AS mode_first
           FROM _groups g JOIN _tin_mode m USING (tin)
           WHERE g.last_key <> m.last_key AND g.first_name <> m.first_name
             AND (g.date_of_birth IS NULL OR m.date_of_birth IS NULL
                  OR g.date_of_birth <> m.date_of_birth)"""
    )
    pairs = con.execute("SELECT DISTINCT mode_first, first_name FROM _suspect").fetchall()
    disagree = [(a, b) for a, b in pairs if not given_names_agree(a, b)]
    _register(con, "_disagree", {"mode_first": [a for a, _ in disagree],
                                 "first_name": [b for _, b in disagree]})  # fmt: skip
    con.execute(
        f"""CREATE TEMP TABLE _gk AS
            SELECT g.*, CASE WHEN d.first_name IS NULL THEN g.tin
                ELSE g.tin || '~' || substr(sha256(concat_ws('|', g.first_name, g.last_key,
                     coalesce(CAST(g.date_of_birth AS VARCHAR), ''))), 1, {_FRAGMENT_HEX})
                END AS cluster_key
            FROM _groups g
            LEFT JOIN (SELECT * FROM _suspect SEMI JOIN _disagree USING (mode_first, first_name)) d
              ON d.tin = g.tin AND d.first_name = g.first_name AND d.last_key = g.last_key
             AND d.date_of_birth IS NOT DISTINCT FROM g.date_of_birth
            WHERE g.tin <> ''"""
    )
    row = con.execute("SELECT coalesce(sum(n), 0) FROM _gk WHERE cluster_key <> tin").fetchone()
    return int(row[0]) if row else 0


_DIGIT_LIST = "[" + ", ".join(f"'{d}'" for d in "0123456789") + "]"

_PAIRS_SQL = f"""
CREATE TEMP TABLE _pairs AS
WITH oneoff AS (SELECT cluster_key, tin FROM _clusters WHERE first_year = last_year),
pos AS (SELECT cluster_key, tin, unnest(range(1, length(tin) + 1)) AS p FROM oneoff),
variant AS (
  SELECT cluster_key, substr(tin, 1, p - 1) || d || substr(tin, p + 1) AS vtin
  FROM pos CROSS JOIN (SELECT unnest({_DIGIT_LIST}) AS d) digits
  WHERE d <> substr(tin, p, 1)
  UNION ALL
  SELECT cluster_key,
         substr(tin, 1, p - 1) || substr(tin, p + 1, 1) || substr(tin, p, 1) || substr(tin, p + 2)
  FROM pos WHERE p < length(tin) AND substr(tin, p, 1) <> substr(tin, p + 1, 1)
)
SELECT DISTINCT v.cluster_key AS src, c.cluster_key AS dst
FROM variant v JOIN _clusters c ON c.tin = v.vtin
"""

# The filings of every cluster in a candidate pair (a small set), with their cluster.
_CAND_F_SQL = """
CREATE TEMP TABLE _cand_f AS
WITH keys AS (SELECT src AS cluster_key FROM _pairs UNION SELECT dst FROM _pairs),
g AS (SELECT * FROM _gk SEMI JOIN keys USING (cluster_key))
SELECT g.cluster_key, f.tax_year, f.first_name, f.middle_name, f.last_name, f.last_key,
       f.suffix, f.date_of_birth, f.date_of_death, f.house_number, f.po_box, f.zip5, 1 AS n,
       f.tax_year AS y
FROM (SELECT * FROM filings SEMI JOIN (SELECT DISTINCT tin FROM g) t USING (tin)) f
JOIN g ON g.tin = f.tin AND g.first_name = f.first_name AND g.last_key = f.last_key
      AND g.date_of_birth IS NOT DISTINCT FROM f.date_of_birth
"""

# A one-off's address is corroborated by the target's address in its nearest filing year
# on each side (or the same year), at most _NEAR_YEARS away: the address held at the time.
_ADDRESS_SQL = f"""
CREATE TEMP TABLE _addr_ok AS
WITH near AS (
  SELECT p.src, p.dst, a.house_number AS ha, a.po_box AS pa, a.zip5 AS za,
         b.house_number AS hb, b.po_box AS pb, b.zip5 AS zb,
         rank() OVER (PARTITION BY p.src, p.dst, a.tax_year, sign(b.tax_year - a.tax_year)
                      ORDER BY abs(b.tax_year - a.tax_year)) AS r
  FROM _pairs p JOIN _cand_f a ON a.cluster_key = p.src
  JOIN _cand_f b ON b.cluster_key = p.dst AND abs(b.tax_year - a.tax_year) <= {_NEAR_YEARS}
)
SELECT DISTINCT src, dst FROM near
WHERE r = 1 AND za <> '' AND za = zb
  AND ((ha <> '' AND ha = hb) OR (pa <> '' AND pa = pb))
"""

_CANDIDATES_SQL = """
SELECT p.src, p.dst, s.first_name, d.first_name, s.middle_name, d.middle_name,
       s.suffix, d.suffix, coalesce(s.date_of_birth = d.date_of_birth, false),
       ok.src IS NOT NULL
FROM _pairs p JOIN _cand_mode s ON s.cluster_key = p.src
JOIN _cand_mode d ON d.cluster_key = p.dst
LEFT JOIN _addr_ok ok ON ok.src = p.src AND ok.dst = p.dst
WHERE s.last_key <> '' AND s.last_key = d.last_key
  AND (s.date_of_birth IS NULL OR d.date_of_birth IS NULL OR s.date_of_birth = d.date_of_birth)
ORDER BY p.src, p.dst
"""


def _merge_one_offs(con: duckdb.DuckDBPyConnection) -> int:
    """Rule 3: map merged clusters to their canonical cluster (``_merge``)."""
    con.execute(
        """CREATE TEMP TABLE _clusters AS
           SELECT cluster_key, any_value(tin) AS tin, sum(n)::BIGINT AS n_filings,
                  min(y0) AS first_year, max(y) AS last_year
           FROM _gk GROUP BY cluster_key"""
    )
    con.execute(_PAIRS_SQL)
    con.execute(_CAND_F_SQL)
    con.execute(
        f"""CREATE TEMP TABLE _cand_mode AS
            SELECT cluster_key, coalesce(first_name, '') AS first_name,
                   coalesce(last_key, '') AS last_key, coalesce(middle_name, '') AS middle_name,
                   coalesce(suffix, '') AS suffix, date_of_birth
            FROM (SELECT DISTINCT cluster_key FROM _cand_f) {_modes("_cand_f", "cluster_key")}"""
    )
    con.execute(_ADDRESS_SQL)
    candidates = [MergeCandidate(*row) for row in con.execute(_CANDIDATES_SQL).fetchall()]
    rank = {
        key: (last - first, filings, last)
        for key, first, last, filings in con.execute(
            "SELECT cluster_key, first_year, last_year, n_filings FROM _clusters "
            "SEMI JOIN _cand_mode USING (cluster_key)"
        ).fetchall()
    }
    roots = merge_roots(accepted_edges(candidates), rank)
    moved = {k: r for k, r in roots.items() if k != r}
    _register(con, "_merge", {"cluster_key": list(moved), "person_key": list(moved.values())})
    return len(moved)


def _pid(key: str) -> str:
    return f"'P' || substr(sha256('{PERSON_ID_DOMAIN}' || {key}), 1, 16)"


# A filing without a TIN is its own person, keyed by its content.
_ROW_KEY = "'~' || substr(sha256(concat_ws('|', " + ", ".join(
    f"coalesce(CAST(filings.{c} AS VARCHAR), '')"
    for c in ("tax_year", "first_name", "middle_name", "last_name", "suffix", "date_of_birth",
              "house_number", "street", "unit", "po_box", "zip5")
) + ")), 1, 16)"  # fmt: skip


def _write_person_ids(con: duckdb.DuckDBPyConnection) -> None:
    """Add and fill ``filings.person_id`` in one pass; refuse if two persons' ids collide."""
    con.execute(
        f"""CREATE TEMP TABLE _gp AS
            SELECT g.tin, g.first_name, g.last_key, g.date_of_birth,
                   coalesce(m.person_key, g.cluster_key) AS person_key,
                   {_pid("coalesce(m.person_key, g.cluster_key)")} AS person_id
            FROM _gk g LEFT JOIN _merge m USING (cluster_key)"""
    )
    row = con.execute(
        "SELECT count(DISTINCT person_key), count(DISTINCT person_id) FROM _gp"
    ).fetchone()
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


def _itin_sql(col: str) -> str:
    groups = ", ".join(f"'{g}'" for g in sorted(ITIN_GROUPS))
    return f"(length({col}) = 9 AND {col}[1] = '9' AND substr({col}, 4, 2) IN ({groups}))"


def _build_person_tables(con: duckdb.DuckDBPyConnection) -> int:
    """``persons``, ``person_names``, ``person_addresses`` and the tf tables; returns persons."""
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
    con.execute(
        f"""CREATE TABLE persons AS
            WITH p AS (
              SELECT person_id, list(DISTINCT tin ORDER BY tin) FILTER (WHERE tin <> '') AS tins,
                     sum(n)::BIGINT AS n_filings, min(y0) AS first_year, max(y) AS last_year
              FROM _pv GROUP BY person_id),
            c AS (SELECT DISTINCT person_id, split_part(person_key, '~', 1) AS tin FROM _gp)
            SELECT person_id, coalesce(c.tin, '') AS tin, coalesce(first_name, '') AS first_name,
                   coalesce(middle_name, '') AS middle_name,
                   coalesce(last_name, '') AS last_name, coalesce(suffix, '') AS suffix,
                   coalesce(last_key, '') AS last_key, date_of_birth, date_of_death,
                   date_of_death IS NOT NULL AS deceased,
                   {_itin_sql("coalesce(c.tin, '')")} AS itin, coalesce(p.tins, []) AS tins,
                   p.n_filings, p.first_year, p.last_year
            FROM p LEFT JOIN c USING (person_id) {_modes("_pv", "person_id")}"""
    )
    # n_years counts distinct years through a 127-bit mask of the years seen (exact unless
    # one person's filings at one address span 127 years): count(DISTINCT) costs double.
    con.execute(
        """CREATE TABLE person_addresses AS
           SELECT person_id, house_number, street, unit, po_box, latest.city AS city,
                  latest.state AS state, zip5, latest.line1 AS line1,
                  first_year, last_year, n_years
           FROM (SELECT person_id, house_number, street, unit, po_box, zip5,
                        arg_max({'city': city, 'state': state, 'line1': line1},
                                (tax_year, city, state, line1)) AS latest,
                        min(tax_year) AS first_year, max(tax_year) AS last_year,
                        CAST(bit_count(bit_or(CAST(1 AS HUGEINT)
                             << CAST(((tax_year % 127) + 127) % 127 AS HUGEINT))) AS BIGINT)
                          AS n_years
                 FROM filings GROUP BY person_id, house_number, street, unit, po_box, zip5)"""
    )
    for col in ("first_name", "last_name"):
        # ``tf`` as briefed; ``tf_<col>`` is the column Splink's tf lookup reads.
        con.execute(
            f"""CREATE TABLE tf_{col} AS
                SELECT {col}, tf, tf AS tf_{col} FROM (
                  SELECT {col}, CAST(count(*) AS DOUBLE) / sum(count(*)) OVER () AS tf
                  FROM persons WHERE {col} <> '' GROUP BY {col})"""
        )
    row = con.execute("SELECT count(*) FROM persons").fetchone()
    return int(row[0]) if row else 0
