"""Audit the warm matcher's Python path against DuckDB's SQL on real lookups.

Every record of a request file is looked up, one by one, through a ``LookupService``
whose warm matcher audits (``WarmMatcher.audit``): both paths score the record (the
Python scorer, and Splink's ``predict_pairs``), collapse its candidates and the outcome
rows are compared field by field. Lookups the scorer is not sure of are the SQL's alone
and counted. Any difference is reported; the script exits 1.

    python bench/warm_compare.py --store bench-out/api/store-population-1000000 \\
        --requests bench-out/api/lookups-population-1000000-300 [--limit N]

(``bench/api_load.py`` makes both.) Prints counts and timings only, never a value.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from taxmatch.pipeline.lookup import LookupConfig, LookupService
from taxmatch.store.state import StateStore


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument(
        "--requests", type=Path, required=True, help="directory with requests.csv and envelope.json"
    )
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--as-of", default="2026-11-30")
    ap.add_argument(
        "--timing",
        action="store_true",
        help="no audit: time each lookup and its matching after 20 to warm up",
    )
    args = ap.parse_args()

    envelope = json.loads((args.requests / "envelope.json").read_text(encoding="utf-8"))
    # A letter id of its own: no lookup is answered from an earlier run's batch.
    envelope["request_letter_id"] = f"{envelope['request_letter_id']}-audit-{uuid.uuid4().hex[:8]}"
    with (args.requests / "requests.csv").open(newline="", encoding="utf-8") as fh:
        records = list(csv.DictReader(fh))[: args.limit]
    # The audit's batches go to a state database and package directory of its own.
    scratch = args.store / "audit" / uuid.uuid4().hex
    scratch.mkdir(parents=True)
    url = f"sqlite:///{scratch / 'state.sqlite3'}"
    state = StateStore.open(args.store, url)
    cfg = LookupConfig(args.store, scratch / "packages", url, as_of=date.fromisoformat(args.as_of))
    service = LookupService(cfg, state)
    service.start()
    while service.status == "warming":
        time.sleep(0.2)
    matcher = service._matcher
    if matcher is None or not matcher.python:
        print("the warm matcher's Python path is not on; nothing to compare")
        sys.exit(1)
    if args.timing:
        _timing(service, matcher, records, envelope)
        service.close()
        state.close()
        shutil.rmtree(scratch, ignore_errors=True)
        return
    matcher.audit = True
    t0 = time.monotonic()
    for rec in records:
        service.lookup(
            str(envelope["requesting_agency"]),
            {k: v for k, v in rec.items() if v},
            envelope,
            origin="audit",
        )
    seconds = time.monotonic() - t0
    answered = dict(matcher.answered)
    service.close()
    state.close()
    shutil.rmtree(scratch, ignore_errors=True)
    print(
        f"lookups {len(records)}, compared {answered['audited']} (Python vs SQL outcome rows), "
        f"SQL only (scorer not sure) {answered['unsure']}, in {seconds:.1f} s"
    )
    print(f"differences: {answered['differed']}")
    if answered["differed"]:
        sys.exit(1)


def _timing(
    service: LookupService, matcher: Any, records: list[dict[str, str]], envelope: dict[str, Any]
) -> None:
    """Each lookup's wall time and its matcher's (``WarmMatcher.match``), in-process."""
    agency = str(envelope["requesting_agency"])
    matching: list[float] = []
    real = matcher.match

    def timed(**kwargs: float) -> None:
        t = time.perf_counter()
        real(**kwargs)
        matching.append(time.perf_counter() - t)

    for rec in records[:20]:  # warm-up
        service.lookup(agency, {k: v for k, v in rec.items() if v}, envelope, origin="audit")
    matcher.match = timed
    whole: list[float] = []
    for rec in records[20:]:
        t = time.perf_counter()
        service.lookup(agency, {k: v for k, v in rec.items() if v}, envelope, origin="audit")
        whole.append(time.perf_counter() - t)

    def pct(xs: list[float], q: float) -> float:
        ordered = sorted(xs)
        return round(1000 * ordered[int(q * (len(ordered) - 1))], 1) if ordered else 0.0

    print(
        f"lookups {len(whole)} after 20 to warm up: p50 {pct(whole, 0.5)} ms, "
        f"p95 {pct(whole, 0.95)} ms; matching p50 {pct(matching, 0.5)} ms, "
        f"p95 {pct(matching, 0.95)} ms"
    )


if __name__ == "__main__":
    main()
