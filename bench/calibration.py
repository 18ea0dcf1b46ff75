"""Benchmark: does a batch's shadow-probe estimate cover its measured truth?

For a benchmark with known truth (a request file, its truth file and envelope, and a
store with the reference loaded and a model trained, as ``bench/matching.py`` leaves
them under ``<root>/runs/<key>/taxmatch/store``), runs the first N rows of the requests as
a batch for each size in ``--sizes``, under ``--seeds`` envelopes of their own (a new
batch id, so new probes), with a policy asking for ``--probes`` shadow probes and no
floor (a hold would change what is measured). Each batch is judged with ``taxmatch
evaluate --store`` and its ``summary.json``'s ``accuracy_estimate`` is set beside the truth:
wrong-person rate, wrong-address rate and recall, the estimate's 95 % interval and whether
it covers the truth; and Σ(1 − p), the model's expected false matches, beside the wrong
disclosures counted.

    python bench/matching.py --dataset generator --matchers taxmatch --root bench-out/gen
    python bench/calibration.py --data bench-out/gen/gen-pop-…-req-… \\
        --store bench-out/gen/runs/<key>/taxmatch/store --sizes 2000,10000 --seeds 3

Prints counts and rates only: never a name, address or TIN.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

BIN = Path(sys.executable).parent
RATES = ("wrong_person_rate", "wrong_address_rate", "recall")


def _subset(src: Path, dst: Path, rows: int) -> set[str]:
    """The first ``rows`` records of a request CSV; their request ids."""
    ids: set[str] = set()
    with src.open(newline="", encoding="utf-8") as fin, dst.open("w", newline="") as fout:
        reader = csv.DictReader(fin)
        writer = csv.DictWriter(fout, fieldnames=list(reader.fieldnames or []))
        writer.writeheader()
        for i, row in enumerate(reader):
            if i == rows:
                break
            writer.writerow(row)
            ids.add(row["request_id"])
    return ids


def _truth(src: Path, dst: Path, ids: set[str]) -> None:
    with src.open(newline="", encoding="utf-8") as fin, dst.open("w", newline="") as fout:
        reader = csv.DictReader(fin)
        writer = csv.DictWriter(fout, fieldnames=list(reader.fieldnames or []))
        writer.writeheader()
        writer.writerows(r for r in reader if r["request_id"] in ids)


def _taxmatch(*args: str) -> str:
    done = subprocess.run([str(BIN / "taxmatch"), *args], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"taxmatch {args[0]} {args[1]} failed ({done.returncode}): {done.stderr[-400:]}")
    return done.stdout


def _cell(truth: float | None, est: dict[str, float | None]) -> list[str]:
    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{100 * x:.2f}"

    low, high = est["low"], est["high"]
    covered = truth is not None and low is not None and high is not None and low <= truth <= high
    return [
        pct(truth),
        f"{pct(est['estimate'])} [{pct(low)}, {pct(high)}]",
        "yes" if covered else "NO",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data", type=Path, required=True, help="requests.csv, truth.csv, envelope.json"
    )
    ap.add_argument("--store", type=Path, required=True, help="a store with reference and model")
    ap.add_argument("--sizes", default="2000,10000", help="batch sizes (first N request rows)")
    ap.add_argument("--seeds", type=int, default=3, help="batches per size (new probes each)")
    ap.add_argument("--probes", type=int, default=2000)
    ap.add_argument("--as-of", default="2026-11-30")
    ap.add_argument("--out", type=Path, default=Path("bench-out/calibration"))
    args = ap.parse_args()

    args.out.mkdir(parents=True, exist_ok=True)
    policy = args.out / "policy.yaml"
    default = resources.files("taxmatch.policy").joinpath("default_policy.yaml").read_text()
    kept = default.split("\naccuracy:")[0]  # the packaged policy up to its accuracy block
    policy.write_text(f"{kept}\naccuracy:\n  shadow_probes: {args.probes}\n", encoding="utf-8")
    envelope = json.loads((args.data / "envelope.json").read_text(encoding="utf-8"))
    header = ["rows", "batch", "probes"]
    for name in RATES:
        header += [f"{name} truth %", "estimate % [95 %]", "covers"]
    header += ["wrong disclosed", "Σ(1−p)"]
    table = [header]
    for size in (int(s) for s in args.sizes.split(",")):
        requests, truth = args.out / f"requests-{size}.csv", args.out / f"truth-{size}.csv"
        _truth(args.data / "truth.csv", truth, _subset(args.data / "requests.csv", requests, size))
        for seed in range(args.seeds):
            env = args.out / f"envelope-{size}-{seed}.json"
            letter = f"{envelope['request_letter_id']}-CAL-{size}-{seed}"
            env.write_text(json.dumps({**envelope, "request_letter_id": letter}), encoding="utf-8")
            summary = json.loads(
                _taxmatch(
                    "batch",
                    "run",
                    "--store",
                    str(args.store),
                    "--requests",
                    str(requests),
                    "--envelope",
                    str(env),
                    "--out",
                    str(args.out / "out"),
                    "--as-of",
                    args.as_of,
                    "--policy",
                    str(policy),
                    "--json",
                )
            )
            package = args.out / "out" / summary["batch_id"]
            ev = json.loads(
                _taxmatch(
                    "evaluate",
                    "--truth",
                    str(truth),
                    "--package",
                    str(package),
                    "--store",
                    str(args.store),
                    "--json",
                )
            )["overall"]
            est = summary["accuracy_estimate"]
            row = [f"{size:,}", summary["batch_id"][:9], f"{est['probes']:,}"]
            for name in RATES:
                row += _cell(ev[name], est[name])
            row += [str(ev["disclosed"] - ev["right"]), f"{est['model_expected_wrong']:.2f}"]
            table.append(row)
            print(" | ".join(row), flush=True)
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    print()
    for r in table:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))
    (args.out / "calibration.json").write_text(json.dumps(table, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
