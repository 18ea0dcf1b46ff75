"""Person resolution over the master file: group filings into people, once per snapshot.

A TIN is not a person key: a clerk keys a TIN wrong on one return, and that wrong TIN may
be nobody's or somebody else's; a person who filed with an ITIN files with an SSN once
one is issued. ``resolve_persons`` groups the ``filings`` of a reference snapshot into
persons so that "the most recent address" is one person's; ``store.person_tables`` then
writes ``filings.person_id`` and the per-person tables a batch reads.

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
6. TIN succession: a person (after rule 3) under an ITIN joins the person under an SSN
   when every ITIN filing year is before every SSN filing year, the modal first names
   agree, the modal last_keys are equal and non-empty, suffixes and middle names do not
   conflict, and either both modal dates of birth are present and equal or (one is
   missing) the house number (or PO box) and ZIP5 of the ITIN's last filing year equal
   those of the SSN's first filing year and the suffixes are equal (a father filing as SR
   and a son whose one return dropped JR share a name and a house). Only when the pairing
   is one to one: the ITIN person has exactly one such SSN person and that SSN person
   exactly one such ITIN person. The SSN's cluster stays the person's canonical key.
7. A return on someone else's TIN: a person (after rule 6) with one or two filings that
   is a rule-2 fragment, or a TIN filed in a single tax year, joins another person when
   all hold: the modal first names agree, the modal last_keys are equal and non-empty,
   the suffixes are equal, no middle-name conflict, dates of birth present on both sides
   and equal or on neither, the other person filed in none of the fragment's years, and
   a fragment filing's house number, street and ZIP5 (and no other unit) equal those of
   a filing of the other person at most three years apart. Only into a person that is
   not itself such a fragment, only when exactly one person qualifies, and never two
   fragments with a tax year in common into one person. (A daughter's one return without
   a DOB at the house of her mother of the same name, who skipped that year, would
   otherwise join the mother.)

Rules 6 and 7 never merge two clusters that both have filings in the same tax year.

The heavy lifting is SQL over candidate sets; Python only judges the small sets of
suspect filings and merge candidates. This module never logs, never puts a value in an
error and never changes a filing other than adding its ``person_id``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

import duckdb

from taxmatch.errors import ReferenceSnapshotError
from taxmatch.normalise.names import first_names_agree
from taxmatch.store.person_tables import (
    PERSON_ID_DOMAIN,
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

__all__ = [
    "PERSON_ID_DOMAIN",
    "MergeCandidate",
    "ResolutionStats",
    "accepted_edges",
    "disjoint_sources",
    "fragment_confirms",
    "given_names_agree",
    "merge_allowed",
    "merge_roots",
    "middle_names_conflict",
    "one_to_one",
    "resolve_persons",
    "suffixes_confirm",
]

_FRAGMENT_HEX = 12
_NEAR_YEARS = 3
_FRAGMENT_FILINGS = 2
_SQUASH = str.maketrans("", "", " -")

_TEMP = ("_groups", "_tin_mode", "_suspect", "_disagree", "_gk", "_clusters", "_pairs",
         "_cand_f", "_cand_mode", "_addr_ok", "_merge", "_pk", "_pg", "_pstat", "_edges",
         "_gp", "_pv")  # fmt: skip


@dataclass(frozen=True, slots=True)
class ResolutionStats:
    """Counts only: persons built, filings split off their TIN, clusters merged away
    (rule 3), ITIN persons joined to their SSN (rule 6), fragments joined (rule 7)."""

    persons: int
    split_filings: int
    merged_clusters: int
    tin_successions: int = 0
    fragments_joined: int = 0


@dataclass(frozen=True, slots=True)
class MergeCandidate:
    """A cluster or person ``src`` that may join ``dst``; SQL checked last_key and DOB."""

    src: str
    dst: str
    src_first: str
    dst_first: str
    src_middle: str
    dst_middle: str
    src_suffix: str
    dst_suffix: str
    dob_equal: bool  # both modal dates of birth present and equal
    address_shared: bool  # the rule's address agreement holds
    dob_one_sided: bool = False  # one modal date of birth present, the other missing


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
    """Names, suffix and middle name agree, and the DOB or the address corroborates."""
    return (
        given_names_agree(c.src_first, c.dst_first)
        and not (c.src_suffix and c.dst_suffix and c.src_suffix != c.dst_suffix)
        and not middle_names_conflict(c.src_middle, c.dst_middle)
        and (c.dob_equal or c.address_shared)
    )


def suffixes_confirm(c: MergeCandidate) -> bool:
    """Without equal DOBs the suffixes must be equal too (both empty, or the same): a
    father who files as "SR" and a son whose return dropped "JR" share name and address."""
    return c.dob_equal or c.src_suffix == c.dst_suffix


def fragment_confirms(c: MergeCandidate) -> bool:
    """Rule 7 asks more: equal suffixes, and a DOB on both sides or on neither (a DOB
    missing on one side is missing evidence: a daughter's one return without a DOB at the
    house of her mother of the same name, who skipped that year, reads as the mother's)."""
    return c.src_suffix == c.dst_suffix and not c.dob_one_sided


def accepted_edges(
    candidates: Iterable[MergeCandidate],
    confirm: Callable[[MergeCandidate], bool] | None = None,
) -> list[tuple[str, str]]:
    """(src, dst) for each source with exactly one allowed target, kept only if ``confirm``
    (when given) holds for that pair; ambiguity merges nothing."""
    targets: dict[str, list[MergeCandidate]] = {}
    for c in candidates:
        if merge_allowed(c):
            targets.setdefault(c.src, []).append(c)
    return sorted(
        (src, cs[0].dst)
        for src, cs in targets.items()
        if len({c.dst for c in cs}) == 1 and (confirm is None or confirm(cs[0]))
    )


def one_to_one(edges: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The edges whose source and target each appear in no other edge."""
    pairs = list(edges)
    n_src: dict[str, int] = {}
    n_dst: dict[str, int] = {}
    for s, d in pairs:
        n_src[s] = n_src.get(s, 0) + 1
        n_dst[d] = n_dst.get(d, 0) + 1
    return sorted((s, d) for s, d in pairs if n_src[s] == 1 and n_dst[d] == 1)


def disjoint_sources(
    edges: Iterable[tuple[str, str]], years: Mapping[str, Iterable[int]]
) -> list[tuple[str, str]]:
    """Drop every source that shares a tax year with another source of the same target."""
    pairs = list(edges)
    seen: dict[tuple[str, int], int] = {}
    for s, d in pairs:
        for y in set(years.get(s, ())):
            seen[(d, y)] = seen.get((d, y), 0) + 1
    return sorted((s, d) for s, d in pairs if all(seen[(d, y)] == 1 for y in set(years.get(s, ()))))


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
        successions = _join_successions(con)
        fragments = _join_fragments(con)
        write_person_ids(con)
        persons = build_person_tables(con)
    except duckdb.Error as exc:
        raise ReferenceSnapshotError("filings: person resolution failed") from exc
    finally:
        for name in _TEMP:
            con.execute(f"DROP TABLE IF EXISTS {name}")
    return ResolutionStats(persons, split, merged, successions, fragments)


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
            FROM ({mode_sql("_groups", "tin", "first_name, last_key", "tin <> ''")})
            LEFT JOIN ({mode_sql("_groups", "tin", "date_of_birth", "date_of_birth IS NOT NULL")})
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
    register_strings(con, "_disagree", {"mode_first": [a for a, _ in disagree],
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


# House number (or PO box) and ZIP5 agree between a filing ``a`` of src and ``b`` of dst.
_HOUSE_ZIP = """a.zip5 <> '' AND a.zip5 = b.zip5
  AND ((a.house_number <> '' AND a.house_number = b.house_number)
       OR (a.po_box <> '' AND a.po_box = b.po_box))"""

# A one-off's address is corroborated by the target's address in its nearest filing year
# on each side (or the same year), at most _NEAR_YEARS away: the address held at the time.
_NEAR_ADDRESS_SQL = f"""
CREATE TEMP TABLE _addr_ok AS
WITH near AS (
  SELECT p.src, p.dst, ({_HOUSE_ZIP}) AS same,
         rank() OVER (PARTITION BY p.src, p.dst, a.tax_year, sign(b.tax_year - a.tax_year)
                      ORDER BY abs(b.tax_year - a.tax_year)) AS r
  FROM _pairs p JOIN _cand_f a ON a.k = p.src
  JOIN _cand_f b ON b.k = p.dst AND abs(b.tax_year - a.tax_year) <= {_NEAR_YEARS}
)
SELECT DISTINCT src, dst FROM near WHERE r = 1 AND same
"""

# A fragment's address is corroborated by the same house number, street and ZIP5 (and no
# other unit) in any filing of the other person at most _NEAR_YEARS away.
_WINDOW_ADDRESS_SQL = f"""
CREATE TEMP TABLE _addr_ok AS
SELECT DISTINCT p.src, p.dst
FROM _pairs p JOIN _cand_f a ON a.k = p.src
JOIN _cand_f b ON b.k = p.dst AND abs(b.tax_year - a.tax_year) <= {_NEAR_YEARS}
WHERE a.zip5 <> '' AND a.zip5 = b.zip5 AND a.house_number <> ''
  AND a.house_number = b.house_number AND a.street <> '' AND a.street = b.street
  AND (a.unit = b.unit OR a.unit = '' OR b.unit = '')
"""

# Pairs with equal modal last_keys and no DOB conflict, with what Python judges.
_CANDIDATES_SQL = """
SELECT p.src, p.dst, s.first_name, d.first_name, s.middle_name, d.middle_name,
       s.suffix, d.suffix, coalesce(s.date_of_birth = d.date_of_birth, false),
       ok.src IS NOT NULL, (s.date_of_birth IS NULL) <> (d.date_of_birth IS NULL)
FROM _pairs p JOIN _cand_mode s ON s.k = p.src
JOIN _cand_mode d ON d.k = p.dst
LEFT JOIN _addr_ok ok ON ok.src = p.src AND ok.dst = p.dst
WHERE s.last_key <> '' AND s.last_key = d.last_key
  AND (s.date_of_birth IS NULL OR d.date_of_birth IS NULL OR s.date_of_birth = d.date_of_birth)
ORDER BY p.src, p.dst
"""


def _candidates(con: duckdb.DuckDBPyConnection) -> list[MergeCandidate]:
    return [MergeCandidate(*row) for row in con.execute(_CANDIDATES_SQL).fetchall()]


def _merge_one_offs(con: duckdb.DuckDBPyConnection) -> int:
    """Rule 3: every cluster's person key after rule 3 (``_pk``)."""
    con.execute(
        """CREATE TEMP TABLE _clusters AS
           SELECT cluster_key, any_value(tin) AS tin, sum(n)::BIGINT AS n_filings,
                  min(y0) AS first_year, max(y) AS last_year
           FROM _gk GROUP BY cluster_key"""
    )
    con.execute(_PAIRS_SQL)
    keys = "SELECT src AS cluster_key FROM _pairs UNION SELECT dst FROM _pairs"
    candidate_filings(con, f"SELECT * FROM _gk SEMI JOIN ({keys}) USING (cluster_key)",
                       "cluster_key")  # fmt: skip
    con.execute(_NEAR_ADDRESS_SQL)
    rank = {
        key: (last - first, filings, last)
        for key, first, last, filings in con.execute(
            "SELECT cluster_key, first_year, last_year, n_filings FROM _clusters "
            "SEMI JOIN (SELECT k AS cluster_key FROM _cand_mode) USING (cluster_key)"
        ).fetchall()
    }
    roots = merge_roots(accepted_edges(_candidates(con)), rank)
    moved = {k: r for k, r in roots.items() if k != r}
    register_strings(con, "_merge", {"cluster_key": list(moved),
                                     "person_key": list(moved.values())})  # fmt: skip
    con.execute(
        """CREATE TEMP TABLE _pk AS
           SELECT c.cluster_key, coalesce(m.person_key, c.cluster_key) AS person_key
           FROM _clusters c LEFT JOIN _merge m USING (cluster_key)"""
    )
    return len(moved)


# ITIN persons and SSN persons with equal last_keys, the ITIN's years all before the SSN's,
# blocked on equal DOBs or a DOB missing on one side (rare, so those joins stay small).
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

# The address at the switch: the ITIN's last filing year against the SSN's first.
_SWITCH_ADDRESS_SQL = f"""
CREATE TEMP TABLE _addr_ok AS
SELECT DISTINCT p.src, p.dst
FROM _pairs p JOIN _pstat si ON si.person_key = p.src JOIN _pstat sd ON sd.person_key = p.dst
JOIN _cand_f a ON a.k = p.src AND a.tax_year = si.last_year
JOIN _cand_f b ON b.k = p.dst AND b.tax_year = sd.first_year
WHERE {_HOUSE_ZIP}
"""

_PAIR_GROUPS = """SELECT * FROM _pg SEMI JOIN (SELECT src AS person_key FROM _pairs
                  UNION SELECT dst FROM _pairs) USING (person_key)"""


def _join_successions(con: duckdb.DuckDBPyConnection) -> int:
    """Rule 6: an ITIN person joins the one SSN person that succeeds it."""
    person_stats(con)
    con.execute(_SUCCESSION_PAIRS_SQL)
    candidate_filings(con, _PAIR_GROUPS, "person_key")
    con.execute(_SWITCH_ADDRESS_SQL)
    candidates = _candidates(con)
    # One to one over every allowed pair, not just the accepted ones: an SSN person that
    # an ambiguous ITIN person could also be is not unique either.
    unique = set(one_to_one((c.src, c.dst) for c in candidates if merge_allowed(c)))
    edges = accepted_edges(candidates, suffixes_confirm)
    return apply_edges(con, [e for e in edges if e in unique])


# Fragments (rule 7 sources) and the persons filing at one of their addresses under the
# same last_key that are not fragments themselves.
_FRAGMENT_PAIRS_SQL = f"""
CREATE TEMP TABLE _pairs AS
WITH src AS (
  SELECT * FROM _pstat
  WHERE n_filings <= {_FRAGMENT_FILINGS} AND (fragment OR first_year = last_year)
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

# Never two persons that both filed in one tax year.
_OVERLAP_SQL = """
DELETE FROM _pairs USING (
  SELECT DISTINCT p.src, p.dst FROM _pairs p JOIN _cand_f a ON a.k = p.src
  JOIN _cand_f b ON b.k = p.dst AND b.tax_year = a.tax_year) o
WHERE _pairs.src = o.src AND _pairs.dst = o.dst
"""


def _join_fragments(con: duckdb.DuckDBPyConnection) -> int:
    """Rule 7: a fragment joins the one person whose address and name it shares."""
    person_stats(con)
    con.execute(_FRAGMENT_PAIRS_SQL)
    candidate_filings(con, _PAIR_GROUPS, "person_key")
    con.execute(_OVERLAP_SQL)
    con.execute(_WINDOW_ADDRESS_SQL)
    # The address is asked in every case: equal DOBs never stand in for it.
    candidates = [replace(c, dob_equal=False) for c in _candidates(con)]
    years: dict[str, list[int]] = {}
    for k, y in con.execute(
        "SELECT DISTINCT k, tax_year FROM _cand_f SEMI JOIN (SELECT src AS k FROM _pairs) USING (k)"
    ).fetchall():
        years.setdefault(k, []).append(y)
    # Year collisions count over every allowed pair: two returns in one year in a person's
    # name at the person's address cannot both be theirs, whichever one is ambiguous.
    allowed = [(c.src, c.dst) for c in candidates if merge_allowed(c)]
    disjoint = set(disjoint_sources(allowed, years))
    edges = accepted_edges(candidates, fragment_confirms)
    return apply_edges(con, [e for e in edges if e in disjoint])
