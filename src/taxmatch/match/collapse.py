"""From a batch's scored pairs to its ``outcomes``: ranks each request's persons
(``rules.rank_persons``), gathers the best person's evidence from the snapshot's person
tables in one query (names, addresses, filings in the requested periods, who else files
at those addresses, which buildings have units) and judges it (``rules.judge``). The SQL
only gathers; every rule is in ``rules``, and ``judging`` reads the gathered rows into
them. Never logs a value.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from itertools import groupby
from operator import itemgetter

import duckdb
import pyarrow as pa

from taxmatch.match.evidence import ADDRESS_FIELDS, Address, Filer, Filing, Name, Request
from taxmatch.match.judging import OUTCOME_SCHEMA, judge_batch, record_batch
from taxmatch.match.rules import rank_persons
from taxmatch.match.thresholds import MAX_SLIP_SUPPORT
from taxmatch.processes import worker_context

# Rows fetched from DuckDB per Arrow batch while ranking, and while judging (each judged
# batch is one task: small enough that the two processes finish together).
FETCH_ROWS = 20_000
JUDGE_ROWS = 5_000
GATHER_ROWS = 100_000  # row numbers gathered at a time (the batch workspace holds 2 GB)

BEST_SCHEMA = pa.schema(
    [
        ("row_number", pa.int64()),
        ("person_id", pa.string()),
        ("p", pa.float64()),
        ("strong", pa.int64()),
        ("margin", pa.float64()),
        ("strong_all", pa.int64()),
        ("margin_all", pa.float64()),
    ]
)
# The valid row's columns the rules read.
REQUEST_COLUMNS = ("row_number", *Request._fields)
_KEY = ADDRESS_FIELDS  # an address's key (``evidence.ADDRESS_FIELDS``)
# An ``elsewhere`` row: the slip's key, then the other filer's unit, ZIP, town, filings
# there and id (``evidence.Elsewhere``).
_ELSEWHERE = (*_KEY, "o_unit", "o_zip5", "o_city", "o_state", "o_filings", "other")
# A ``variants`` row: the filing's key, then the other filer's ``Filer``.
_VARIANT = (*_KEY, *(f"v_{c}" for c in Filer._fields[:-1]), "other")


def _same(left: str, right: str, columns: tuple[str, ...] = _KEY) -> str:
    return " AND ".join(f"{left}.{c} = {right}.{c}" for c in columns)


def struct_sql(alias: str, columns: tuple[str, ...]) -> str:
    return "{" + ", ".join(f"'{c}': {alias}.{c}" for c in columns) + "}"


def collapse(
    con: duckdb.DuckDBPyConnection,
    pred: str,
    review_threshold: float,
    margin: float,
    *,
    ref: str = "ref",
) -> None:
    """``outcomes`` from the scored pairs in ``pred``, one row per row of ``valid``; ``ref``
    is the schema holding the snapshot's person tables."""
    con.execute("DROP TABLE IF EXISTS collapse_best")
    rank_into(con, pred, review_threshold, margin, ref=ref)
    judge_ranked(con, ref=ref)


def judge_ranked(con: duckdb.DuckDBPyConnection, *, ref: str = "ref") -> None:
    """``outcomes``: one per row of ``valid`` from the best persons ``rank_into`` kept
    (``collapse_best``; a row without one has no candidate), judged by the rules."""
    total, first, last = con.execute(
        "SELECT count(*), min(row_number), max(row_number) FROM valid"
    ).fetchall()[0]
    with judging(con, total, ref=ref) as judge:
        judge(first or 0, (last or 0) + 1)


@contextmanager
def judging(
    con: duckdb.DuckDBPyConnection, rows: int, *, ref: str = "ref"
) -> Iterator[Callable[[int, int], None]]:
    """``outcomes`` made empty, and a function that adds to it the outcomes of the rows of
    ``valid`` with row numbers in [lo, hi), from the best persons ``rank_into`` kept so far
    (``collapse_best``; a row without one has no candidate), judged by the rules. ``rows``:
    how many rows will be judged in all (judging processes are worth it for many)."""
    _add_best(con, BEST_SCHEMA.empty_table())
    try:
        con.execute("DROP TABLE IF EXISTS outcomes")
        con.from_arrow(OUTCOME_SCHEMA.empty_table()).create("outcomes")
        with _second_judge(rows) as helper:

            def judge(lo: int, hi: int) -> None:
                # Each request's evidence is its own, so rows are gathered, judged and
                # written a window of row numbers at a time: the workspace's memory bounds
                # a window, and this process holds one window's outcomes, not the batch's.
                for start in range(lo, hi, GATHER_ROWS):
                    # The window's request columns the rules read, once: ``valid`` is
                    # usually a view over the workspace's tables, which the gathering
                    # query would otherwise join twice (a window of them).
                    end = min(start + GATHER_ROWS, hi)
                    con.execute(
                        f"""CREATE OR REPLACE TEMP TABLE collapse_part AS
                            SELECT {", ".join(REQUEST_COLUMNS)} FROM valid
                            WHERE row_number >= {int(start)} AND row_number < {int(end)}"""
                    )
                    _gather(con, ref)
                    judged = pa.Table.from_batches(_judged(con, helper), schema=OUTCOME_SCHEMA)
                    con.from_arrow(judged).insert_into("outcomes")

            yield judge
    finally:
        con.execute(
            "DROP TABLE IF EXISTS collapse_best; DROP TABLE IF EXISTS collapse_in; "
            "DROP TABLE IF EXISTS collapse_part"
        )


def rank_into(
    con: duckdb.DuckDBPyConnection,
    pred: str,
    review_threshold: float,
    margin: float,
    *,
    ref: str = "ref",
) -> None:
    """Append to ``collapse_best`` each request's best person in ``pred``, by
    ``rank_persons`` (a batch scored in chunks ranks each chunk's pairs in turn), given
    the request's first name (``valid``) and each person's own (``ref``'s ``persons``)."""
    reader: pa.RecordBatchReader = con.sql(
        f"SELECT * FROM ({ranking_sql(pred, ref)}) ORDER BY 1"
    ).to_arrow_reader(FETCH_ROWS)
    rows = (r for batch in reader for r in zip(*batch.to_pydict().values(), strict=True))
    try:
        best = list(ranked(rows, review_threshold, margin))
    finally:
        reader.close()  # an error while ranking leaves no result open on the connection
    _add_best(con, pa.Table.from_batches([record_batch(best, BEST_SCHEMA)]))


def ranking_sql(pred: str, ref: str, valid: str = "valid") -> str:
    """The query of what ``ranked`` reads of the scored pairs in ``pred``: per request and
    person, the best weight and probability, the person's first name (``ref``'s
    ``persons``) and the request's (``valid``'s); in DuckDB's SQL (``dialect.
    query_in_dialect`` renders it for another engine)."""
    return f"""WITH pairs AS (
              SELECT CAST(unique_id_l AS BIGINT) AS row_number,
                     split_part(unique_id_r, '|', 1) AS person_id,
                     max(match_weight) AS w, max(match_probability) AS p
              FROM {pred} GROUP BY 1, 2
            )
            SELECT q.row_number, q.person_id, q.w, q.p, o.first_name AS own, v.first_name AS asked
            FROM pairs q
            LEFT JOIN (SELECT row_number, first_name FROM {valid}) v USING (row_number)
            LEFT JOIN {ref}.persons o ON o.person_id = q.person_id"""


def ranked(
    rows: Iterable[tuple[int, str, float, float, str | None, str | None]],
    review_threshold: float,
    margin: float,
) -> Iterator[tuple[object, ...]]:
    """Each request's best person by ``rank_persons`` (a row of ``BEST_SCHEMA``) from the
    rows of ``ranking_sql`` (row number, person id, weight, probability, the person's
    first name, the request's), each request's rows one after another."""
    for rn, pairs in groupby(rows, key=itemgetter(0)):
        group = list(pairs)
        found = rank_persons(
            (pair[1:5] for pair in group), review_threshold, margin, first_name=group[0][5]
        )
        if found is not None:
            yield (rn, *found)


def _add_best(con: duckdb.DuckDBPyConnection, rows: pa.Table) -> None:
    """Append ``rows`` to ``collapse_best`` (made, of ``BEST_SCHEMA``, when missing)."""
    con.register("collapse_best_arrow", rows)
    try:
        con.execute(
            "CREATE TEMP TABLE IF NOT EXISTS collapse_best AS "
            "SELECT * FROM collapse_best_arrow LIMIT 0"
        )
        con.execute("INSERT INTO collapse_best SELECT * FROM collapse_best_arrow")
    finally:
        con.unregister("collapse_best_arrow")


def _variants_sql(ref: str, on: str) -> str:
    """The other filers in a ``one_year`` filing's ZIP sharing its ``on`` (street or house
    number) at another door."""
    return f"""SELECT s.row_number, {", ".join(f"s.{c}" for c in _KEY)},
                 {", ".join(f"b.{c} AS v_{c}" for c in Filer._fields[:-1])}, b.person_id AS other
          FROM one_year s JOIN {ref}.person_addresses b ON b.zip5 = s.zip5 AND b.{on} = s.{on}
          WHERE b.person_id <> s.person_id AND (b.house_number IS DISTINCT FROM s.house_number
                                                OR b.street IS DISTINCT FROM s.street)"""


def _gather(con: duckdb.DuckDBPyConnection, ref: str) -> None:
    """``collapse_in``: ``gather_sql``'s rows."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE collapse_in AS {gather_sql(ref)}")


def gather_sql(ref: str) -> str:
    """The query of one row per request of ``collapse_part`` with its best person
    (``collapse_best``) and that person's evidence from ``ref``'s person tables (and the
    request's nicknames and the names its first name is a misspelling of, ``nick``); in
    DuckDB's SQL (``dialect.query_in_dialect`` renders it for another engine). Each person
    table is read once or twice a window, whatever the size of the snapshot's: the best
    persons' filings in the periods (``filed``), their addresses (``own``), and every
    filer at a building of those addresses or filings (``near``), which holds every row
    the neighbour, co-filer and unit checks can look at; and the other filers at the
    filings' house numbers and streets under other ZIPs (``elsewhere``)."""
    building = ("house_number", "street", "zip5")
    return f"""WITH jb AS (
          SELECT b.*, v.tax_periods FROM collapse_best b JOIN collapse_part v USING (row_number)
        ),
        filed_rows AS MATERIALIZED (
          SELECT jb.row_number, jb.person_id, {", ".join(f"f.{c}" for c in Filing._fields)}
          FROM jb JOIN {ref}.filings f USING (person_id)
          WHERE list_contains(jb.tax_periods, f.tax_year)
        ),
        own AS MATERIALIZED (
          SELECT jb.row_number, a.* FROM jb JOIN {ref}.person_addresses a USING (person_id)
        ),
        slips AS MATERIALIZED (
          SELECT DISTINCT f.row_number, f.person_id, {", ".join(f"f.{c}" for c in _KEY)}
          FROM filed_rows f
        ),
        near AS MATERIALIZED (
          SELECT b.person_id, {", ".join(f"b.{c}" for c in _KEY)}, b.support
          FROM {ref}.person_addresses b
          SEMI JOIN (SELECT {", ".join(building)} FROM own
                     UNION SELECT {", ".join(building)} FROM slips) k
            ON {_same("b", "k", building)}
        ),
        neighbours AS (
          SELECT s.row_number, {", ".join(f"s.{c}" for c in _KEY)}, o.person_id AS other
          FROM slips s
          LEFT JOIN near m ON m.person_id = s.person_id AND {_same("m", "s")}
          JOIN near o ON {_same("o", "s")} AND o.person_id <> s.person_id
          WHERE coalesce(m.support, 1) <= {MAX_SLIP_SUPPORT}
        ),
        one_year AS MATERIALIZED (
          SELECT s.* FROM slips s
          JOIN own m ON m.row_number = s.row_number AND {_same("m", "s")}
          WHERE s.house_number <> '' AND m.n_years = 1
        ),
        variants AS (
          {" UNION ".join(_variants_sql(ref, on) for on in ("street", "house_number"))}
        ),
        co_filed AS (
          SELECT DISTINCT n.row_number, n.other, {", ".join(f"a.{c}" for c in _KEY)}
          FROM (SELECT DISTINCT row_number, other FROM neighbours
                UNION SELECT DISTINCT row_number, other FROM variants) n
          JOIN near q ON q.person_id = n.other
          JOIN own a ON a.row_number = n.row_number AND {_same("a", "q")}
        ),
        units AS (
          SELECT DISTINCT o.row_number, o.house_number, o.street, o.zip5
          FROM (SELECT row_number, house_number, street, zip5 FROM own
                UNION ALL SELECT row_number, house_number, street, zip5 FROM slips) o
          WHERE EXISTS (SELECT 1 FROM near b
                        WHERE {_same("b", "o", building)} AND b.unit <> '')
        ),
        elsewhere AS (
          SELECT DISTINCT s.row_number, {", ".join(f"s.{c}" for c in _KEY)},
                 b.unit AS o_unit, b.zip5 AS o_zip5, b.city AS o_city, b.state AS o_state,
                 b.n_filings AS o_filings, b.person_id AS other
          FROM slips s
          LEFT JOIN near m ON m.person_id = s.person_id AND {_same("m", "s")}
          JOIN {ref}.person_addresses b
            ON b.house_number = s.house_number AND b.street = s.street
           AND b.zip5 <> s.zip5 AND b.person_id <> s.person_id
          WHERE s.house_number <> '' AND coalesce(m.support, 1) <= {MAX_SLIP_SUPPORT}
        ),
        names AS (
          SELECT jb.row_number, list({struct_sql("n", Name._fields)}) AS names
          FROM jb JOIN {ref}.person_names n USING (person_id) GROUP BY 1
        ),
        addresses AS (
          SELECT row_number, list({struct_sql("own", Address._fields)}) AS addresses
          FROM own GROUP BY 1
        ),
        filed AS (
          SELECT f.row_number, list({struct_sql("f", Filing._fields)}) AS filings
          FROM filed_rows f GROUP BY 1
        ),
        neighbours_l AS (
          SELECT row_number, list({struct_sql("neighbours", (*_KEY, "other"))}) AS neighbours
          FROM neighbours GROUP BY 1
        ),
        co_filed_l AS (
          SELECT row_number, list({struct_sql("co_filed", (*_KEY, "other"))}) AS co_filed
          FROM co_filed GROUP BY 1
        ),
        elsewhere_l AS (
          SELECT row_number, list({struct_sql("elsewhere", _ELSEWHERE)}) AS elsewhere
          FROM elsewhere GROUP BY 1
        ),
        variants_l AS (
          SELECT row_number, list({struct_sql("variants", _VARIANT)}) AS variants
          FROM variants GROUP BY 1
        ),
        units_l AS (
          SELECT row_number, list([house_number, street, zip5]) AS units FROM units GROUP BY 1
        )
        SELECT v.row_number, v.first_name, v.last_name, v.house_number, v.street, v.zip5,
               v.po_box, v.suffix, v.date_of_birth, v.tax_periods, v.unit, v.city, v.state,
               k.nicknames, k.fixes,
               b.person_id, b.p, b.strong, b.margin, b.strong_all, b.margin_all,
               p.person_id IS NOT NULL AS has_person, p.tin, p.deceased,
               p.suffix AS p_suffix, p.date_of_birth AS p_dob,
               names.names, addresses.addresses, filed.filings, neighbours_l.neighbours,
               co_filed_l.co_filed, units_l.units, elsewhere_l.elsewhere, variants_l.variants
        FROM collapse_part v
        LEFT JOIN collapse_best b USING (row_number)
        LEFT JOIN {ref}.persons p ON p.person_id = b.person_id
        LEFT JOIN nick k ON k.first_name = v.first_name
        LEFT JOIN names USING (row_number)
        LEFT JOIN addresses USING (row_number)
        LEFT JOIN filed USING (row_number)
        LEFT JOIN neighbours_l USING (row_number)
        LEFT JOIN co_filed_l USING (row_number)
        LEFT JOIN units_l USING (row_number)
        LEFT JOIN elsewhere_l USING (row_number)
        LEFT JOIN variants_l USING (row_number)"""


@contextmanager
def _second_judge(rows: int) -> Iterator[ProcessPoolExecutor | None]:
    """Two processes judging the batches of ``JUDGE_ROWS`` (so that this process, which
    a batch's package writer shares, is left to DuckDB and the writer: ``overlap``), or
    None: two batches or fewer, or one core."""
    if rows <= 2 * JUDGE_ROWS or (os.cpu_count() or 1) < 2:
        yield None
        return
    with ProcessPoolExecutor(2, worker_context()) as helper:
        yield helper


def _judged(
    con: duckdb.DuckDBPyConnection, helper: ProcessPoolExecutor | None
) -> list[pa.RecordBatch]:
    """``rules.judge`` on every gathered row, as Arrow batches of ``OUTCOME_SCHEMA``
    (plain Python, one row at a time; in ``helper``'s processes when there are)."""
    batches: pa.RecordBatchReader = con.sql("SELECT * FROM collapse_in").to_arrow_reader(JUDGE_ROWS)
    if helper is None:
        return [judge_batch(b) for b in batches]
    done = [helper.submit(judge_batch, batch) for batch in batches]
    return [d.result() for d in done]
