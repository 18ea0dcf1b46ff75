"""Plain Splink, set up the way a user would out of the box, writing a taxmatch package.

The comparison point for ``bench/matching.py``: what Splink 5 alone does with the same
request batch against the same master file, decided by "best candidate at or above the
threshold wins". Deliberately *not* tuned:

- input: the raw master file (CSV or Parquet, one row per filing, no person resolution)
  and the request file, keeping only the rows taxmatch's validation accepted (rows listed
  in a package's ``rejected.csv`` are left out and copied to this package's rejected.csv,
  so that matching is compared, not validation);
- preparation a user would write: upper case and trimmed text, empty as NULL, the house
  number split off the street line by a regular expression, ZIP cut to five digits;
- model (Splink's tutorial recipe): NameComparison on first and last name (term-frequency
  adjusted), exact or Levenshtein house number, Jaro-Winkler street, exact ZIP and city;
  predictions blocked on (last_name, zip), (first_name, last_name), (house_number, zip);
  trained unsupervised: ``estimate_probability_two_random_records_match`` from two strict
  deterministic rules, ``estimate_u_using_random_sampling``, then two EM passes
  (blocked on names, then on house number + ZIP);
- decision: per request, the best candidate filing with match probability >= threshold
  (default 0.999, taxmatch's disclose threshold). Its TIN's latest filing within the
  requested tax periods is disclosed (the master's raw street/unit/city/state/zip); no
  such filing -> NO_FILING_IN_PERIOD; no candidate -> NO_MATCH. No margin, no address
  corroboration, no review band, no eligibility checks.

The package (``OUT/<batch_id>/``, same files and columns as ``taxmatch batch run``) is
written with taxmatch's own PackageWriter so ``taxmatch evaluate`` judges it unchanged.
Prints one JSON line of timings and counts on stdout; never a name, address or TIN.

    python bench/plain_splink.py --master M.parquet --requests R.csv \\
        --rejected EXACT_PKG/rejected.csv --out DIR [--threshold 0.999] [--seed 42]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from taxmatch.contracts import Disposition, Outcome
from taxmatch.disclose.package import PackageWriter
from taxmatch.files.readers import read_requests
from taxmatch.policy.validate import generated_id, usable_request_id

REQUEST_FIELDS = ("first_name", "last_name", "street_address", "city", "zip", "tax_periods")
MASTER_FIELDS = ("tin", "tax_year", "first_name", "last_name", "street_address", "unit")
MASTER_FIELDS += ("city", "state", "zip")
_YEAR = re.compile(r"^\s*(\d{4})\s*$")

# What a user writes to make the two files comparable: one expression per model column.
_CLEAN = """
SELECT unique_id,
       nullif(upper(trim(first_name)), '') AS first_name,
       nullif(upper(trim(last_name)), '') AS last_name,
       nullif(regexp_extract(upper(trim(street_address)), '^(\\d+)', 1), '') AS house_number,
       nullif(trim(regexp_replace(upper(trim(street_address)), '^\\d+\\s*', '')), '')
           AS street_name,
       nullif(upper(trim(city)), '') AS city,
       nullif(left(regexp_replace(coalesce(zip, ''), '\\D', '', 'g'), 5), '') AS zip
FROM {table}
"""


def _rejected(path: Path) -> set[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        return {row["request_id"] for row in csv.DictReader(fh)}


def _rejected_rows(path: Path) -> list[list[str | int | float | None]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [[r["request_id"], r["reason_codes"], r["fields"]] for r in csv.DictReader(fh)]


def read_accepted(path: Path, rejected: set[str]) -> tuple[pa.Table, int]:
    """Rows of the request file that validation accepted, and the number of input rows.

    A row is left out when its own request_id or its generated ``#row-N`` id is in
    ``rejected`` (a repeated id is reported under the generated id of the repeat).
    """
    cols: dict[str, list[Any]] = {"unique_id": [], "request_id": [], "periods": []}
    cols.update({f: [] for f in REQUEST_FIELDS if f != "tax_periods"})
    rows = 0
    for chunk in read_requests(path):
        for raw in chunk:
            rows += 1
            rid = usable_request_id(raw)
            if rid is None or rid in rejected or generated_id(raw.row_number) in rejected:
                continue
            cols["unique_id"].append(raw.row_number)
            cols["request_id"].append(rid)
            years = [
                int(m.group(1))
                for p in raw.fields.get("tax_periods", "").split(";")
                if (m := _YEAR.match(p))
            ]
            cols["periods"].append(sorted(set(years)))
            for f in REQUEST_FIELDS:
                if f != "tax_periods":
                    cols[f].append(raw.fields.get(f, ""))
    schema = {"unique_id": pa.int64(), "periods": pa.list_(pa.int32())}
    table = pa.table({k: pa.array(v, schema.get(k, pa.string())) for k, v in cols.items()})
    return table, rows


def load_master(con: duckdb.DuckDBPyConnection, files: list[Path]) -> int:
    """The raw master files as table ``master_raw`` (text columns, integer tax_year)."""
    parts = []
    for path in files:
        fn = "read_parquet" if path.suffix.lower() in {".parquet", ".pq"} else "read_csv"
        opts = "" if fn == "read_parquet" else ", all_varchar = true, header = true"
        src = f"{fn}('{str(path).replace(chr(39), chr(39) * 2)}'{opts})"
        have = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}
        sel = [
            (f"CAST({c} AS VARCHAR) AS {c}" if c in have else f"NULL::VARCHAR AS {c}")
            for c in MASTER_FIELDS
        ]
        parts.append(f"SELECT {', '.join(sel)} FROM {src}")
    con.execute(
        "CREATE TABLE master_raw AS SELECT row_number() OVER () AS unique_id, * EXCLUDE (tax_year),"
        " TRY_CAST(tax_year AS INTEGER) AS tax_year, regexp_replace(coalesce(tin, ''), '\\D', '',"
        f" 'g') AS tin_key FROM ({' UNION ALL '.join(parts)})"
    )
    return int(con.execute("SELECT count(*) FROM master_raw").fetchall()[0][0])


def train_and_predict(
    requests: pa.Table, master: pa.Table, *, threshold: float, seed: int, max_pairs: float
) -> tuple[pa.Table, dict[str, float]]:
    """Splink 5 out of the box: register, train unsupervised, predict above ``threshold``."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    times: dict[str, float] = {}
    t0 = time.monotonic()
    settings = SettingsCreator(
        link_type="link_only",
        comparisons=[
            cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("last_name").configure(term_frequency_adjustments=True),
            cl.LevenshteinAtThresholds("house_number", 1),
            cl.JaroWinklerAtThresholds("street_name", [0.9, 0.8]),
            cl.ExactMatch("zip"),
            cl.ExactMatch("city"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("last_name", "zip"),
            block_on("first_name", "last_name"),
            block_on("house_number", "zip"),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    db = DuckDBAPI()
    t_req = db.register(requests, dataset_display_name="requests")
    t_master = db.register(master, dataset_display_name="master")
    linker = Linker([t_req, t_master], settings)
    linker.training.estimate_probability_two_random_records_match(
        [
            block_on("first_name", "last_name", "zip"),
            block_on("first_name", "last_name", "house_number", "street_name"),
        ],
        recall=0.7,
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("first_name", "last_name")
    )
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("house_number", "zip")
    )
    times["train_s"] = time.monotonic() - t0
    t1 = time.monotonic()
    pred = linker.inference.predict(threshold_match_probability=threshold)
    rel = pred.as_duckdbpyrelation()
    out = rel.select(
        "source_dataset_l, unique_id_l, source_dataset_r, unique_id_r, match_probability"
    ).to_arrow_table()
    times["predict_s"] = time.monotonic() - t1
    return out, times


_DECIDE = """
WITH p AS (
  SELECT CASE WHEN source_dataset_l = 'requests' THEN unique_id_l ELSE unique_id_r END AS rq,
         CASE WHEN source_dataset_l = 'requests' THEN unique_id_r ELSE unique_id_l END AS mu,
         match_probability AS prob
  FROM preds WHERE match_probability >= $threshold
), best AS (
  SELECT rq, mu, prob FROM (
    SELECT *, row_number() OVER (PARTITION BY rq ORDER BY prob DESC, mu) AS k FROM p
  ) WHERE k = 1
), cand AS (
  SELECT b.rq, b.prob, m.tin_key FROM best b JOIN master_raw m ON m.unique_id = b.mu
), filing AS (
  SELECT c.rq, m.street_address, m.unit, m.city, m.state, m.zip, m.tax_year,
         row_number() OVER (PARTITION BY c.rq ORDER BY m.tax_year DESC, m.unique_id DESC) AS k
  FROM cand c JOIN reqs r ON r.unique_id = c.rq
  JOIN master_raw m ON m.tin_key = c.tin_key AND c.tin_key <> ''
  WHERE list_contains(r.periods, m.tax_year)
)
SELECT r.unique_id, r.request_id, c.prob, f.street_address, f.unit, f.city, f.state, f.zip,
       f.tax_year
FROM reqs r LEFT JOIN cand c ON c.rq = r.unique_id
LEFT JOIN filing f ON f.rq = r.unique_id AND f.k = 1
ORDER BY r.unique_id
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--master", type=Path, nargs="+", required=True)
    ap.add_argument("--requests", type=Path, required=True)
    ap.add_argument("--rejected", type=Path, required=True, help="rejected.csv of a taxmatch run")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--threshold", type=float, default=0.999)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--u-max-pairs", type=float, default=1e7)
    args = ap.parse_args(argv)
    started = datetime.now(UTC)
    times: dict[str, float] = {}

    t0 = time.monotonic()
    rejected_ids = _rejected(args.rejected)
    reqs, input_rows = read_accepted(args.requests, rejected_ids)
    con = duckdb.connect()
    master_rows = load_master(con, args.master)
    con.register("reqs_arrow", reqs)
    con.execute("CREATE TABLE reqs AS SELECT * FROM reqs_arrow")
    con.unregister("reqs_arrow")
    req_feat = con.sql(_CLEAN.format(table="reqs")).to_arrow_table()
    master_feat = con.sql(_CLEAN.format(table="master_raw")).to_arrow_table()
    times["prepare_s"] = time.monotonic() - t0

    preds, t = train_and_predict(
        req_feat, master_feat, threshold=args.threshold, seed=args.seed, max_pairs=args.u_max_pairs
    )
    times.update(t)
    del req_feat, master_feat

    t2 = time.monotonic()
    con.register("preds", preds)
    digest = hashlib.sha256()
    digest.update(args.requests.read_bytes())
    for m in args.master:
        digest.update(str(m.stat().st_size).encode() + m.name.encode())
    batch_id = f"plain-splink-{digest.hexdigest()[:16]}"
    counts: Counter[str] = Counter()
    with PackageWriter(args.out, batch_id, phone=False) as pkg:
        rejected = _rejected_rows(args.rejected)
        for row in rejected:
            pkg.write(Disposition.REJECTED, row)
        counts["REJECTED"] = len(rejected)
        result = con.execute(_DECIDE, {"threshold": args.threshold})
        n = 0
        while batch := result.fetchmany(10_000):
            for _uid, rid, prob, street, unit, city, state, zip_code, year in batch:
                if prob is None:
                    outcome = Outcome.NO_MATCH
                elif year is None:
                    outcome = Outcome.NO_FILING_IN_PERIOD
                else:
                    n += 1
                    pkg.write(
                        Disposition.DISCLOSED,
                        [
                            rid,
                            f"PS-{n:09d}",
                            street or "",
                            unit or "",
                            city or "",
                            state or "",
                            zip_code or "",
                            int(year),
                            float(prob),
                        ],
                    )
                    counts[Outcome.DISCLOSED.value] += 1
                    continue
                pkg.write(Disposition.UNMATCHED, [rid, outcome.value])
                counts[outcome.value] += 1
        package = pkg.finish(
            {
                "batch_id": batch_id,
                "matcher": "plain-splink",
                "input_rows": input_rows,
                "accepted_rows": reqs.num_rows,
                "master_rows": master_rows,
                "counts": dict(sorted(counts.items())),
                "threshold": args.threshold,
                "started_utc": started.isoformat(),
                "finished_utc": datetime.now(UTC).isoformat(),
            }
        )
    times["decide_write_s"] = time.monotonic() - t2
    print(
        json.dumps(
            {
                "package": str(package),
                "batch_id": batch_id,
                "input_rows": input_rows,
                "accepted_rows": reqs.num_rows,
                "master_rows": master_rows,
                "pairs_above_threshold": preds.num_rows,
                "counts": dict(sorted(counts.items())),
                **{k: round(v, 3) for k, v in times.items()},
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
