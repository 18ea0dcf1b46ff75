"""Benchmark: one batch's shadow probes on a store, part by part (CPU s of this process).

Runs ``taxmatch.pipeline.probes.run_probes`` as ``batch run`` does (the store's current
snapshot and model, the packaged policy, the probabilistic matcher on DuckDB), its
workspace in a temporary directory: the store is only read. Times its parts:
drawing the sample (``probe_people``), checking the made-up names (``names_on_file``),
matching the probes, and their coverage groups (``row_groups``); ``total`` is the
whole, building and judging the probes included.

    python bench/probes.py --store STORE [--probes 2000] [--seeds B1,B2] [--as-of 2026-11-30]

Prints counts and seconds only: never a name, address or TIN.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import ParamSpec, TypeVar

import duckdb

from taxmatch.files.inputs import load_policy
from taxmatch.match.model import load_model_info
from taxmatch.match.probabilistic import match_probabilistic
from taxmatch.pipeline import probes
from taxmatch.reference.snapshot import current_reference

P = ParamSpec("P")
R = TypeVar("R")
PARTS = ("probe_people", "names_on_file", "match", "row_groups", "total")


def timed(cpu: dict[str, float], name: str, fn: Callable[P, R]) -> Callable[P, R]:
    """``fn``, adding the process CPU seconds each call takes to ``cpu[name]``."""

    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        t0 = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            cpu[name] = cpu.get(name, 0.0) + time.process_time() - t0

    return wrapper


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("--probes", type=int, default=2000)
    ap.add_argument("--seeds", default="Bbench-probes-1,Bbench-probes-2")
    ap.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 11, 30))
    args = ap.parse_args()
    reference = current_reference(args.store)
    model = load_model_info(args.store, reference.snapshot_id)
    policy, _ = load_policy(None)

    def match(con: duckdb.DuckDBPyConnection) -> None:
        match_probabilistic(
            con,
            reference.path,
            model,
            review_threshold=policy.matching.review_threshold,
            min_margin_log2=policy.matching.min_margin_log2,
        )

    wrapped = ("probe_people", "names_on_file", "row_groups")  # as run_probes calls them
    originals = {name: getattr(probes, name) for name in wrapped}
    print(" | ".join(("seed", "probes", *PARTS)))
    for seed in args.seeds.split(","):
        cpu: dict[str, float] = {}
        for name in wrapped:
            setattr(probes, name, timed(cpu, name, originals[name]))
        with tempfile.TemporaryDirectory() as work:
            probed = timed(cpu, "total", probes.run_probes)(
                snapshot=reference.path,
                workspace=Path(work) / "probes.duckdb",
                n=args.probes,
                seed=seed,
                policy=policy,
                as_of=args.as_of,
                memory_limit="2GB",
                match=timed(cpu, "match", match),
            )
        cells = [seed, str(probed.counts.probes), *(f"{cpu.get(p, 0.0):.2f}" for p in PARTS)]
        print(" | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
