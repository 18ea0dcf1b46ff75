"""Blocking recall on truth data: do the model's blocking rules reach the true person?

For a batch that ``taxmatch batch run`` (probabilistic matcher) has run against a store,
and the truth file of its requests, this reports for the rows truth says to disclose
(the findable rows):

- per blocking rule, in the model's order: the rows whose true person has at least one
  master record the rule pairs with the request, the rows it reaches first (no earlier
  rule did), and the pairs the rule makes on its own (Splink scores fewer in all: a pair
  an earlier rule made is not made again; the sum is an upper bound);
- overall blocking recall: rows whose true person is reached by any rule; every other
  row is lost before scoring;
- the share of findable rows whose best-scored person is the true person (the outcomes
  table), so blocking loss and scoring loss can be told apart.

The true person is every resolved person that owns one of the row's true TINs (the truth
file's ``tin`` and ``person_tins``). Prints counts and rates only, never a value.

    python bench/blocking.py --store STORE --batch BATCH_ID --truth truth.csv [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import duckdb

from taxmatch.match.model import BLOCKING
from taxmatch.reference.snapshot import current_reference


def rule_sql() -> list[tuple[str, str]]:
    """(label, SQL condition over ``l`` = request and ``r`` = master record) per rule."""
    out = []
    for rule in BLOCKING:
        sql = rule.splink().get_blocking_rule("duckdb").blocking_rule_sql
        label = re.sub(r"\b[lr]\.", "", sql.replace('"', "").replace("(", "").replace(")", ""))
        label = " ".join(label.split())
        out.append((label, f"({sql})"))
    return out


_EQUALITY = re.compile(r'l\."?(\w+)"?\s*=\s*r\."?(\w+)"?')


def _pairs_alone(con: duckdb.DuckDBPyConnection, cond: str) -> int:
    """Pairs the rule makes on its own: the sum over its key values of requests x master
    records, from two GROUP BYs (no join of the pairs themselves, so it is cheap at any
    scale). Splink scores fewer: a pair an earlier rule made is not made again."""
    eq = _EQUALITY.findall(cond)
    left = ", ".join(f"{a} AS k{i}" for i, (a, _) in enumerate(eq))
    right = ", ".join(f"{b} AS k{i}" for i, (_, b) in enumerate(eq))
    keys = ", ".join(f"k{i}" for i in range(len(eq)))
    l_nn = " AND ".join(f"{a} IS NOT NULL" for a, _ in eq)
    r_nn = " AND ".join(f"{b} IS NOT NULL" for _, b in eq)
    row = con.execute(
        f"""SELECT coalesce(sum(x.n * y.n), 0)::BIGINT FROM
              (SELECT {left}, count(*) AS n FROM w.req_features WHERE {l_nn} GROUP BY ALL) x
              JOIN (SELECT {right}, count(*) AS n FROM ref.master_records WHERE {r_nn}
                    GROUP BY ALL) y USING ({keys})"""
    ).fetchall()
    return int(row[0][0])


def measure(store: Path, batch: str, truth: Path) -> dict[str, Any]:
    work = store / "work" / batch / "work.duckdb"
    if not work.exists():
        raise SystemExit(f"{work}: no workspace for batch {batch}")
    reference = current_reference(store).path
    con = duckdb.connect()
    con.execute(f"ATTACH '{work}' AS w (READ_ONLY)")
    con.execute(f"ATTACH '{reference}' AS ref (READ_ONLY)")
    con.execute(
        f"""CREATE TEMP TABLE t AS
            SELECT request_id, expected_outcome,
                   list_filter(list_distinct(
                     [tin] || string_split(coalesce(person_tins, ''), ';')), lambda x: x <> '')
                     AS tins
            FROM read_csv('{truth}', all_varchar = true, header = true)"""
    )
    con.execute(
        """CREATE TEMP TABLE findable AS
           SELECT r.row_number, t.tins FROM w.records r JOIN t USING (request_id)
           WHERE t.expected_outcome = 'DISCLOSED'
             AND r.row_number IN (SELECT CAST(unique_id AS BIGINT) FROM w.req_features)"""
    )
    con.execute(
        """CREATE TEMP TABLE truth_person AS
           WITH ft AS (SELECT row_number, unnest(tins) AS tin FROM findable),
                pt AS (SELECT person_id, unnest(tins) AS tin FROM ref.persons)
           SELECT DISTINCT ft.row_number, pt.person_id FROM ft JOIN pt USING (tin)"""
    )
    con.execute(
        """CREATE TEMP TABLE l AS
           SELECT q.* FROM w.req_features q
           WHERE CAST(q.unique_id AS BIGINT) IN (SELECT row_number FROM findable)"""
    )
    con.execute(
        """CREATE TEMP TABLE r_true AS
           SELECT m.*, tp.row_number AS truth_row FROM ref.master_records m
           JOIN truth_person tp USING (person_id)"""
    )
    n_findable = con.execute("SELECT count(*) FROM findable").fetchall()[0][0]
    n_in_master = con.execute("SELECT count(DISTINCT row_number) FROM truth_person").fetchall()[0][
        0
    ]
    rules = rule_sql()
    con.execute("CREATE TEMP TABLE hits (truth_row BIGINT, k INTEGER)")
    rows_out = []
    for k, (label, cond) in enumerate(rules):
        t0 = time.monotonic()
        con.execute(
            f"""INSERT INTO hits SELECT DISTINCT r.truth_row, {k}
                FROM l JOIN r_true r ON CAST(l.unique_id AS BIGINT) = r.truth_row AND {cond}"""
        )
        hits = con.execute(
            f"""SELECT count(*), count(*) FILTER (WHERE truth_row NOT IN
                  (SELECT truth_row FROM hits WHERE k < {k}))
                FROM hits WHERE k = {k}"""
        ).fetchall()[0]
        rows_out.append(
            {
                "rule": label,
                "rows_reached": int(hits[0]),
                "rows_first_reached": int(hits[1]),
                "pairs_alone": _pairs_alone(con, cond),
                "seconds": round(time.monotonic() - t0, 2),
            }
        )
    reached = con.execute("SELECT count(DISTINCT truth_row) FROM hits").fetchall()[0][0]
    best_true = con.execute(
        """SELECT count(*) FROM findable f JOIN w.outcomes o USING (row_number)
           WHERE o.person_tin IS NOT NULL AND list_contains(f.tins, o.person_tin)"""
    ).fetchall()[0][0]
    n_requests = con.execute("SELECT count(*) FROM w.req_features").fetchall()[0][0]
    n_master = con.execute("SELECT count(*) FROM ref.master_records").fetchall()[0][0]
    return {
        "batch_id": batch,
        "requests_matched": int(n_requests),
        "master_records": int(n_master),
        "findable_rows": int(n_findable),
        "findable_with_true_person_in_master": int(n_in_master),
        "rules": rows_out,
        "pairs_sum": sum(r["pairs_alone"] for r in rows_out),
        "blocking_recall": reached / n_in_master if n_in_master else None,
        "rows_reached": int(reached),
        "best_person_is_true_person": best_true / n_in_master if n_in_master else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("--batch", required=True)
    ap.add_argument("--truth", type=Path, required=True)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    res = measure(args.store, args.batch, args.truth)
    print(
        f"batch {res['batch_id']}: {res['requests_matched']:,} valid requests x "
        f"{res['master_records']:,} master records; findable rows "
        f"{res['findable_rows']:,}, true person in the master "
        f"{res['findable_with_true_person_in_master']:,}"
    )
    print(f"{'rule':40s} {'reached':>9s} {'first':>9s} {'pairs alone':>14s}")
    for r in res["rules"]:
        print(
            f"{r['rule']:40s} {r['rows_reached']:9,d} {r['rows_first_reached']:9,d} "
            f"{r['pairs_alone']:14,d}"
        )
    recall = res["blocking_recall"]
    best = res["best_person_is_true_person"]
    print(f"pairs, sum over rules (upper bound): {res['pairs_sum']:,}")
    print(f"blocking recall: {recall:.4%} ({res['rows_reached']:,} rows reached)")
    print(f"best-scored person is the true person: {best:.4%}")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2), encoding="utf-8")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
