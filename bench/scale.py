"""Benchmark: the scale curve — reference size × batch size, stage by stage.

For each population size (``--people``), a generated population is loaded into a store of
its own and a model trained on it; for each batch size (``--rows``), a request batch drawn
from that population is run through ``taxmatch -v batch run``. Every step runs in a fresh
process under ``bench/treetime.py`` (wall, CPU = user + system of the whole process tree,
the largest process's peak RSS and peak anonymous memory, and the tree's peak anonymous
memory summed over its processes); the batch's own stages come from its typed events
(E110, E120, E125, E140): validate; the shadow probes (beside validation); match (beside
writing the package); and match + write + seal (the rest). A cached store whose model
is of another version than the code's is trained again. Data, stores and models are made
once and cached under ``--root`` keyed by their parameters; each batch runs under an
envelope with a request letter id of its own, so it is run afresh and never answered from
an earlier batch.

    python bench/scale.py                                   # 1 M, 3 M, 5 M people; 100 k, 1 M rows
    python bench/scale.py --people 100000 --rows 10000      # a quick look
    make bench-scale

Prints one table (people, rows, stage, wall, CPU, peak RSS, peak anon, tree anon, rows/s)
and writes it to ``<root>/scale.json``. Prints counts, seconds and MiB only: never a name,
address or TIN.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from matching import BIN, Step, _cached, _fresh, _report_failure, _table, run_step

from taxmatch.generate.territory import tiles_for
from taxmatch.match.model import MODEL_VERSION

EVENT_SECONDS = {"E110": "validate", "E120": "match", "E125": "probes", "E140": "batch"}
_EVENT = re.compile(r"\b(E110|E120|E125|E140) \w+ .*?\bseconds=([0-9.]+)")


@dataclass
class Row:
    people: int
    rows: int | None
    stage: str
    wall: float
    cpu: float | None = None
    rss_mib: int | None = None  # the largest process's, mapped file pages included
    anon_mib: int | None = None  # the largest process's anonymous memory (RssAnon)
    tree_anon_mib: int | None = None  # the tree's anonymous memory, summed over processes
    units: int | None = None  # what rows/s counts: master rows loaded, request rows run

    def memory(self) -> tuple[int | None, int | None, int | None]:
        return self.rss_mib, self.anon_mib, self.tree_anon_mib

    def cells(self) -> list[str]:
        rate = f"{self.units / self.wall:,.0f}" if self.units and self.wall > 0 else "–"
        return [
            f"{self.people:,}",
            "–" if self.rows is None else f"{self.rows:,}",
            self.stage,
            f"{self.wall:,.1f}",
            "–" if self.cpu is None else f"{self.cpu:,.1f}",
            *("–" if m is None else f"{m:,}" for m in self.memory()),
            rate,
        ]


def _step(name: str, cmd: list[str], timeout: float) -> Step:
    step = run_step("scale", name, cmd, timeout)
    if not step.ok:
        _report_failure(step)
        raise SystemExit(1)
    memory = f"peak {step.rss_mib} MiB, anon {step.anon_mib} MiB (tree {step.tree_anon_mib})"
    print(f"  {name}: {step.seconds:,.1f} s, {memory}", flush=True)
    return step


def _row(people: int, rows: int | None, step: Step, units: int | None = None) -> Row:
    memory = (step.rss_mib, step.anon_mib, step.tree_anon_mib)
    return Row(people, rows, step.name, step.seconds, step.cpu_seconds, *memory, units)


def population(args: argparse.Namespace, people: int, out: list[Row]) -> Path:
    tiles = tiles_for(people)  # the country grows with the people (generate/territory.py)
    pop = args.root / f"pop-p{people}-y{args.years}-s{args.seed}{f'-t{tiles}' * (tiles > 1)}"
    if not _cached(pop):
        _fresh(pop)
        cmd = [str(BIN), "generate", "population", "--people", str(people)]
        cmd += ["--years", args.years, "--seed", str(args.seed), "--out", str(pop)]
        out.append(_row(people, None, _step("generate population", cmd, args.timeout)))
        (pop / ".complete").touch()
    return pop


def store(args: argparse.Namespace, people: int, pop: Path, out: list[Row]) -> Path:
    """A store with the population's reference loaded and a model trained (both timed)."""
    where = pop.with_name(f"{pop.name}-store")
    master_rows = json.loads((pop / "population.json").read_text(encoding="utf-8"))["master_rows"]
    trained = where / ".trained"
    if not (_cached(where, ".loaded") or trained.is_file()):  # .trained alone: older caches
        _fresh(where)
        load = [str(BIN), "reference", "load", "--store", str(where / "store")]
        load.append(str(pop / "master.parquet"))
        out.append(_row(people, None, _step("reference load", load, args.timeout), master_rows))
        (where / ".loaded").touch()
    # A model of another version (its blocking rules or comparisons changed) is retrained.
    if not trained.is_file() or trained.read_text(encoding="utf-8") != MODEL_VERSION:
        train = [str(BIN), "model", "train", "--store", str(where / "store")]
        train += ["--seed", str(args.seed)]
        out.append(_row(people, None, _step("model train", train, args.timeout)))
        trained.write_text(MODEL_VERSION, encoding="utf-8")
    return where / "store"


def batch(args: argparse.Namespace, people: int, rows: int, pop: Path, st: Path) -> list[Row]:
    req = pop.with_name(f"{pop.name}-req-r{rows}-s{args.seed}-a{args.as_of}")
    made: list[Row] = []
    if not _cached(req):
        _fresh(req)
        cmd = [str(BIN), "generate", "requests", "--population", str(pop), "--rows", str(rows)]
        cmd += ["--seed", str(args.seed), "--out", str(req), "--as-of", args.as_of]
        made.append(_row(people, rows, _step("generate requests", cmd, args.timeout)))
        (req / ".complete").touch()
    # An envelope of its own: the same requests under it are a new batch, run afresh.
    envelope = json.loads((req / "envelope.json").read_text(encoding="utf-8"))
    envelope["request_letter_id"] = f"{envelope['request_letter_id']}-scale-{uuid.uuid4().hex[:8]}"
    run_dir = st.parent / f"run-{uuid.uuid4().hex[:8]}"
    run_dir.mkdir(parents=True)
    (run_dir / "envelope.json").write_text(json.dumps(envelope), encoding="utf-8")
    cmd = [str(BIN), "-v", "batch", "run", "--store", str(st), "--requests"]
    cmd += [str(req / "requests.csv"), "--envelope", str(run_dir / "envelope.json")]
    cmd += ["--out", str(run_dir / "out"), "--as-of", args.as_of, "--json"]
    step = _step("batch run", cmd, args.timeout)
    seconds = {EVENT_SECONDS[code]: float(s) for code, s in _EVENT.findall(step.stderr)}
    summary = json.loads(step.stdout)
    if summary["input_rows"] != rows or sum(summary["counts"].values()) != rows:
        raise SystemExit(f"batch run accounted for {summary['input_rows']} of {rows} rows")
    made.append(_row(people, rows, step, rows))
    # The shadow probes run beside validation, and matching beside writing the package
    # (taxmatch.pipeline.overlap): their seconds overlap the stages they run beside.
    stages = [(name, seconds.get(name)) for name in ("validate", "probes", "match")]
    if seconds.get("batch") is not None and seconds.get("validate") is not None:
        stages.append(("match + write + seal", seconds["batch"] - seconds["validate"]))
    for name, wall in stages:
        if wall is not None:
            made.append(Row(people, rows, f"  {name}", wall, units=rows))
    return made


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--people", default="1000000,3000000,5000000", help="comma-separated")
    ap.add_argument("--rows", default="100000,1000000", help="comma-separated")
    ap.add_argument("--years", default="2019-2025")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--as-of", default="2026-11-30")
    ap.add_argument("--timeout", type=float, default=4 * 3600, help="seconds per step")
    ap.add_argument("--root", type=Path, default=Path("bench-out/scale"))
    args = ap.parse_args(argv)
    args.root.mkdir(parents=True, exist_ok=True)
    table: list[Row] = []
    for people in (int(p) for p in args.people.split(",")):
        print(f"-- {people:,} people", flush=True)
        pop = population(args, people, table)
        st = store(args, people, pop, table)
        for rows in (int(r) for r in args.rows.split(",")):
            table.extend(batch(args, people, rows, pop, st))
    headers = ["people", "rows", "stage", "wall s", "CPU s", "peak RSS MiB"]
    headers += ["peak anon MiB", "tree anon MiB", "rows/s"]
    print(_table(headers, [row.cells() for row in table], left=3))
    result = [dict(zip(headers, row.cells(), strict=True)) for row in table]
    (args.root / "scale.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
