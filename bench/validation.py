"""Benchmark: end-to-end batch throughput and peak memory (read → validate → package).

Generates (once, cached under bench-out/) a synthetic population and request files of
several sizes, loads the reference, then runs ``taxmatch batch validate`` (read →
validate → rejected.csv) and ``taxmatch batch run --matcher exact`` (the whole batch:
state database, ledger, package) on each size in a fresh process under
``/usr/bin/time -v`` and prints rows/s and peak RSS.
The exact matcher keeps the figure about intake, validation and the package; matching
speed is measured by bench/matching.py. Memory that does
not grow with the file shows as a flat peak RSS across sizes.

    python bench/validation.py --rows 1000000          # sizes: rows/4 and rows
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

BIN = Path(sys.executable).parent / "taxmatch"


def _run(cmd: list[str]) -> tuple[float, int, str]:
    """Elapsed seconds, peak RSS in MiB, stdout of one command under /usr/bin/time -v."""
    t0 = time.monotonic()
    proc = subprocess.run(
        ["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, check=False
    )
    elapsed = time.monotonic() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-2000:])
        raise SystemExit(f"command failed: {cmd[:3]}")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    rss = int(m.group(1)) // 1024 if m else -1
    return elapsed, rss, proc.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--people", type=int, default=200_000)
    ap.add_argument("--out", type=Path, default=Path("bench-out/validation"))
    ap.add_argument("--as-of", default="2026-11-30")
    args = ap.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    as_of = date.fromisoformat(args.as_of)

    pop = out / f"population-{args.people}"
    if not (pop / "master.parquet").exists():
        t, rss, _ = _run(
            [
                str(BIN),
                "generate",
                "population",
                "--people",
                str(args.people),
                "--seed",
                "11",
                "--out",
                str(pop),
            ]
        )
        print(f"generate population {args.people} people: {t:.1f} s, peak {rss} MiB")
    store = out / "store"
    shutil.rmtree(store / "reference", ignore_errors=True)
    t, rss, _ = _run(
        [str(BIN), "reference", "load", "--store", str(store), str(pop / "master.parquet")]
    )
    print(f"reference load: {t:.1f} s, peak {rss} MiB")

    print(f"{'step':<22} {'rows':>10} {'seconds':>9} {'rows/s':>9} {'peak MiB':>9}")
    for rows in sorted({max(1, args.rows // 4), args.rows}):
        reqs = out / f"requests-{rows}"
        if not (reqs / "requests.csv").exists():
            t, rss, _ = _run(
                [
                    str(BIN),
                    "generate",
                    "requests",
                    "--population",
                    str(pop),
                    "--rows",
                    str(rows),
                    "--seed",
                    "12",
                    "--out",
                    str(reqs),
                    "--as-of",
                    as_of.isoformat(),
                ]
            )
            print(f"  (generated {rows} requests: {t:.1f} s, peak {rss} MiB)")
        pre = out / "preflight"
        shutil.rmtree(pre, ignore_errors=True)
        t, rss, _ = _run(
            [
                str(BIN),
                "batch",
                "validate",
                "--requests",
                str(reqs / "requests.csv"),
                "--envelope",
                str(reqs / "envelope.json"),
                "--out",
                str(pre),
                "--as-of",
                as_of.isoformat(),
            ]
        )
        print(f"{'validate (pre-flight)':<22} {rows:>10} {t:>9.1f} {rows / t:>9.0f} {rss:>9}")
        shutil.rmtree(store / "work", ignore_errors=True)
        for f in store.glob("state.sqlite3*"):
            f.unlink()
        _run([str(BIN), "store", "init", "--store", str(store)])  # a fresh state database
        pkg = out / "packages"
        shutil.rmtree(pkg, ignore_errors=True)
        t, rss, _ = _run(
            [
                str(BIN),
                "batch",
                "run",
                "--store",
                str(store),
                "--requests",
                str(reqs / "requests.csv"),
                "--envelope",
                str(reqs / "envelope.json"),
                "--out",
                str(pkg),
                "--as-of",
                as_of.isoformat(),
                "--matcher",
                "exact",
                "--json",
            ]
        )
        print(f"{'batch run (exact)':<22} {rows:>10} {t:>9.1f} {rows / t:>9.0f} {rss:>9}")


if __name__ == "__main__":
    main()
