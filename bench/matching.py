"""Benchmark: accuracy and speed of three matchers on the same data, in one run.

For each dataset, the same request batch is matched against the same master file by

- ``exact``     ``taxmatch batch run --matcher exact`` (the baseline);
- ``splink``    ``bench/plain_splink.py``: plain Splink 5 set up out of the box, given only
                the rows the exact run's validation accepted (matching is compared, not
                validation); its rejected.csv is the exact run's;
- ``taxmatch``  ``taxmatch model train`` (timed on its own) then ``taxmatch batch run``.

Every step runs in a fresh process under ``bench/treetime.py`` (wall seconds, CPU of the
whole process tree, the largest process's peak RSS and peak anonymous memory) with a time
limit; a failing or timed-out step is reported with the tail of its stderr and the harness
goes on with the other matchers. Each package
is then judged by ``taxmatch evaluate --json`` against the dataset's truth: once without a
store for every matcher (the person is judged from the address, the same judge for all
three) and, for the two matchers that keep a store, once more with ``--store`` (the person
is checked).

Datasets (generated once, cached under ``bench-out/matching/`` keyed by parameters):

- ``generator``     ``taxmatch generate population`` + ``taxmatch generate requests``;
- ``pseudopeople``  ``bench/pseudopeople_data.py`` (independent simulated population).

    python bench/matching.py --dataset generator --people 5000 --rows 1000
    python bench/matching.py --dataset both                      # 100 000 people, 10 000 rows
    python bench/matching.py --dataset generator --people 1000000 --rows 100000 \\
        --splink-timeout 7200                                    # the scale acceptance

Prints a step table and an accuracy table per dataset plus the speed ratio of taxmatch
to plain Splink, and writes everything to ``bench-out/matching/results-<key>.json``.
Prints counts, rates, seconds and MiB only: never a name, address or TIN.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent / "taxmatch"
TAIL_LINES = 15
TREETIME = Path(__file__).with_name("treetime.py")  # CPU and peak RSS of a step's whole tree
MATCHERS = ("exact", "splink", "taxmatch")


# --- running one step ---------------------------------------------------------------------


@dataclass
class Step:
    """One subprocess: what it was, how long it took, how much memory, how it ended."""

    matcher: str
    name: str
    seconds: float = 0.0
    rss_mib: int | None = None  # the largest process's peak RSS, mapped file pages included
    anon_mib: int | None = None  # the largest process's peak anonymous memory (sampled)
    tree_anon_mib: int | None = None  # the tree's peak anonymous memory, summed (sampled)
    cpu_seconds: float | None = None  # user + system, the command and its children
    status: str = "ok"  # ok | failed (rc N) | timeout | skipped
    load: float | None = None  # 1-minute load average when the step ended (contention)
    error: str = ""  # tail of stderr when not ok
    stdout: str = field(default="", repr=False)
    stderr: str = field(default="", repr=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _kill_group(proc: subprocess.Popen[str]) -> None:
    """Stop a step we started (its own process group: the timer and the command)."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 20)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def run_step(matcher: str, name: str, cmd: list[str], timeout: float) -> Step:
    """Run ``cmd`` under ``bench/treetime.py`` (CPU of every process the command starts,
    forkserver workers included); never raises for the command's failure."""
    step = Step(matcher, name)
    with tempfile.NamedTemporaryFile(prefix="bench-time-", suffix=".json", delete=False) as tf:
        time_file = Path(tf.name)
    t0 = time.monotonic()
    try:
        proc = subprocess.Popen(
            [sys.executable, str(TREETIME), str(time_file), *cmd],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,
        )
    except OSError as exc:
        step.status, step.error = "failed (could not start)", str(exc)
        time_file.unlink(missing_ok=True)
        return step
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        step.status = f"timeout ({timeout:.0f} s)"
    except BaseException:  # interrupted or terminated: take the step down with us
        _kill_group(proc)
        time_file.unlink(missing_ok=True)
        raise
    step.seconds = time.monotonic() - t0
    step.load = round(os.getloadavg()[0], 1)
    step.stdout, step.stderr = out, err
    stats = json.loads(time_file.read_text() or "{}") if time_file.exists() else {}
    time_file.unlink(missing_ok=True)
    step.rss_mib = stats["max_rss_kib"] // 1024 if "max_rss_kib" in stats else None
    step.anon_mib = stats["max_rss_anon_kib"] // 1024 if "max_rss_anon_kib" in stats else None
    step.tree_anon_mib = (
        stats["tree_rss_anon_kib"] // 1024 if "tree_rss_anon_kib" in stats else None
    )
    step.cpu_seconds = stats["user"] + stats["system"] if "user" in stats else None
    if step.status == "ok" and proc.returncode != 0:
        step.status = f"failed (rc {proc.returncode})"
    if not step.ok:
        lines = [ln for ln in err.splitlines() if ln.strip()]
        step.error = "\n".join(lines[-TAIL_LINES:])
    return step


def _report_failure(step: Step) -> None:
    print(f"  !! {step.matcher} / {step.name}: {step.status} after {step.seconds:.1f} s")
    for line in step.error.splitlines():
        print(f"     | {line}")


# --- data ---------------------------------------------------------------------------------


@dataclass
class Dataset:
    name: str
    key: str
    master: list[Path]
    requests: Path
    envelope: Path
    truth: Path
    as_of: str
    steps: list[Step] = field(default_factory=list)


def _cached(directory: Path, marker: str = ".complete") -> bool:
    return (directory / marker).exists()


def _fresh(directory: Path) -> None:
    if directory.exists():
        shutil.rmtree(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)


def generator_data(args: argparse.Namespace, root: Path) -> Dataset | None:
    """A generated population and a hard request batch, cached by their parameters."""
    pop = root / f"gen-pop-p{args.people}-y{args.years}-s{args.seed}"
    req = pop.with_name(f"{pop.name}-req-r{args.rows}-s{args.seed}-a{args.as_of}")
    steps = []
    if not _cached(pop):
        _fresh(pop)
        s = run_step(
            "data",
            "generate population",
            [
                str(BIN),
                "generate",
                "population",
                "--people",
                str(args.people),
                "--years",
                args.years,
                "--seed",
                str(args.seed),
                "--out",
                str(pop),
            ],
            args.timeout,
        )
        steps.append(s)
        if not s.ok:
            _report_failure(s)
            return None
        (pop / ".complete").touch()
    if not _cached(req):
        _fresh(req)
        s = run_step(
            "data",
            "generate requests",
            [
                str(BIN),
                "generate",
                "requests",
                "--population",
                str(pop),
                "--rows",
                str(args.rows),
                "--seed",
                str(args.seed),
                "--out",
                str(req),
                "--as-of",
                args.as_of,
            ],
            args.timeout,
        )
        steps.append(s)
        if not s.ok:
            _report_failure(s)
            return None
        (req / ".complete").touch()
    return Dataset(
        "generator",
        req.name,
        [pop / "master.parquet"],
        req / "requests.csv",
        req / "envelope.json",
        req / "truth.csv",
        args.as_of,
        steps,
    )


def pseudopeople_data(args: argparse.Namespace, root: Path) -> Dataset | None:
    """bench/pseudopeople_data.py's master, requests and truth, cached by parameters."""
    script = HERE / "pseudopeople_data.py"
    if not script.exists():
        print("  !! pseudopeople: bench/pseudopeople_data.py is not there; skipped")
        return None
    out = root / f"pp-s{args.seed}-r{args.rows}-a{args.as_of}"
    steps = []
    if not _cached(out):
        _fresh(out)
        s = run_step(
            "data",
            "pseudopeople_data.py",
            [
                sys.executable,
                str(script),
                "--out",
                str(out),
                "--seed",
                str(args.seed),
                "--rows",
                str(args.rows),
                "--as-of",
                args.as_of,
            ],
            args.timeout,
        )
        steps.append(s)
        if not s.ok:
            _report_failure(s)
            return None
        (out / ".complete").touch()
    return Dataset(
        "pseudopeople",
        out.name,
        [out / "master.parquet"],
        out / "requests.csv",
        out / "envelope.json",
        out / "truth.csv",
        args.as_of,
        steps,
    )


# --- matchers -----------------------------------------------------------------------------


@dataclass
class Run:
    """One matcher on one dataset: its steps, its package, its evaluations."""

    matcher: str
    steps: list[Step] = field(default_factory=list)
    package: Path | None = None
    store: Path | None = None
    run_step_name: str = "batch run"
    evaluation: dict[str, Any] | None = None  # address-judged (no store), every matcher
    evaluation_store: dict[str, Any] | None = None  # person-checked, matchers with a store
    blocking: dict[str, Any] | None = None  # bench/blocking.py, the probabilistic run only
    note: str = ""

    def step(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.name == name), None)

    def add(self, step: Step) -> bool:
        self.steps.append(step)
        if not step.ok:
            _report_failure(step)
        return step.ok


def _package_of(step: Step, out: Path) -> Path | None:
    """The package a ``batch run --json`` wrote: from its batch_id, else the only dir."""
    try:
        batch_id = json.loads(step.stdout)["batch_id"]
        if (out / batch_id).is_dir():
            return out / batch_id
    except (ValueError, KeyError, TypeError):
        pass
    dirs = [d for d in out.iterdir() if d.is_dir() and not d.name.endswith(".partial")]
    return dirs[0] if len(dirs) == 1 else None


def run_taxmatch(ds: Dataset, work: Path, args: argparse.Namespace, *, exact: bool) -> Run:
    """reference load [+ model train] + batch run, in a store of its own."""
    run = Run("exact" if exact else "taxmatch")
    _fresh(work)
    store, out = work / "store", work / "out"
    run.store = store
    cmd = [str(BIN), "reference", "load", "--store", str(store), *map(str, ds.master)]
    if not run.add(run_step(run.matcher, "reference load", cmd, args.timeout)):
        return run
    if not exact:
        cmd = [str(BIN), "model", "train", "--store", str(store), "--seed", str(args.seed)]
        if not run.add(run_step(run.matcher, "model train", cmd, args.timeout)):
            return run
    cmd = [
        str(BIN),
        "batch",
        "run",
        "--store",
        str(store),
        "--requests",
        str(ds.requests),
        "--envelope",
        str(ds.envelope),
        "--out",
        str(out),
        "--as-of",
        ds.as_of,
        "--json",
    ]
    if exact:
        cmd += ["--matcher", "exact"]
    step = run_step(run.matcher, "batch run", cmd, args.timeout)
    if run.add(step):
        run.package = _package_of(step, out)
        if run.package is None:
            run.note = "batch run succeeded but its package was not found"
    return run


def run_plain_splink(ds: Dataset, work: Path, args: argparse.Namespace, rejected: Path) -> Run:
    """bench/plain_splink.py on the rows validation accepted."""
    run = Run("splink", run_step_name="plain_splink.py")
    _fresh(work)
    out = work / "out"
    cmd = [
        sys.executable,
        str(HERE / "plain_splink.py"),
        "--master",
        *map(str, ds.master),
        "--requests",
        str(ds.requests),
        "--rejected",
        str(rejected),
        "--out",
        str(out),
        "--seed",
        str(args.seed),
        "--threshold",
        str(args.threshold),
    ]
    step = run_step(run.matcher, "plain_splink.py", cmd, args.splink_timeout)
    if run.add(step):
        try:
            info = json.loads(step.stdout.strip().splitlines()[-1])
            run.package = Path(info["package"])
            run.note = (
                f"train {info['train_s']:.1f} s, predict {info['predict_s']:.1f} s, "
                f"{info['pairs_above_threshold']} pairs >= threshold"
            )
        except (ValueError, KeyError, IndexError):
            run.note = "plain_splink.py succeeded but printed no package"
    return run


def _not_due(doc: dict[str, Any]) -> int:
    """Disclosures on rows whose truth is another outcome (the evaluator's confusion table)."""
    return sum(
        int(got.get("DISCLOSED", 0))
        for expected, got in doc.get("confusion", {}).items()
        if expected != "DISCLOSED"
    )


def evaluate(run: Run, ds: Dataset, args: argparse.Namespace) -> None:
    """``taxmatch evaluate --json``: address-judged always, person-checked with a store."""
    if run.package is None:
        return
    base = [str(BIN), "evaluate", "--truth", str(ds.truth), "--package", str(run.package), "--json"]
    modes: list[tuple[str, list[str]]] = [("evaluate", base)]
    if run.store is not None:
        modes.append(("evaluate --store", [*base, "--store", str(run.store)]))
    for name, cmd in modes:
        step = run_step(run.matcher, name, cmd, args.timeout)
        if not run.add(step):
            continue
        try:
            doc = json.loads(step.stdout)
            doc["overall"]["disclosed_not_due"] = _not_due(doc)
        except (ValueError, KeyError, TypeError):
            run.note += " (evaluate printed no JSON)"
            continue
        if name == "evaluate":
            run.evaluation = doc
        else:
            run.evaluation_store = doc


# --- report -------------------------------------------------------------------------------


def _fmt(value: Any, pct: bool = False) -> str:
    if value is None:
        return "n/a"
    if pct:
        return f"{100 * value:.2f} %"
    return str(value)


def _table(headers: list[str], rows: list[list[str]], left: int = 1) -> str:
    """A plain text table; the first ``left`` columns align left."""
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += [
        "  ".join(
            c.rjust(w) if i >= left else c.ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    return "\n".join(out)


def report(ds: Dataset, runs: list[Run]) -> dict[str, Any]:
    print(f"\n== {ds.name} ({ds.key}), {os.cpu_count()} CPUs")
    steps = [*ds.steps, *(s for r in runs for s in r.steps)]
    print(
        _table(
            ["matcher", "step", "seconds", "peak RSS MiB", "anon MiB", "load", "status"],
            [
                [
                    s.matcher,
                    s.name,
                    f"{s.seconds:.1f}",
                    _fmt(s.rss_mib),
                    _fmt(s.anon_mib),
                    _fmt(s.load),
                    s.status,
                ]
                for s in steps
            ],
            left=2,
        )
    )
    rows = []
    for r in runs:
        main = r.step(r.run_step_name)
        ev = (r.evaluation or {}).get("overall", {})
        evs = (r.evaluation_store or {}).get("overall", {})
        train = r.step("model train")
        rows.append(
            [
                r.matcher,
                f"{main.seconds:.1f}" if main and main.ok else (main.status if main else "not run"),
                f"{train.seconds:.1f}" if train and train.ok else "-",
                _fmt(main.rss_mib) if main else "n/a",
                _fmt(main.anon_mib) if main else "n/a",
                _fmt(ev.get("disclosed")),
                _fmt(ev.get("right")),
                _fmt(ev.get("disclosed_not_due")),
                _fmt(ev.get("wrong_person")),
                _fmt(evs.get("wrong_person")) if r.store else "-",
                _fmt(ev.get("wrong_address_rate"), True),
                _fmt(ev.get("precision"), True),
                _fmt(ev.get("recall"), True),
            ]
        )
    print()
    print(
        _table(
            [
                "matcher",
                "run s",
                "train s",
                "run RSS MiB",
                "run anon MiB",
                "disclosed",
                "right",
                "not_due",
                "wrong_person",
                "wrong_person(store)",
                "wrong_address_rate",
                "precision",
                "recall",
            ],
            rows,
        )
    )
    by = {r.matcher: r for r in runs}
    ratios: dict[str, float] = {}
    tm, sp = by.get("taxmatch"), by.get("splink")
    tm_run = tm.step("batch run") if tm else None
    sp_run = sp.step("plain_splink.py") if sp else None
    if tm_run and sp_run and tm_run.ok and sp_run.ok and tm_run.seconds > 0:
        ratios["splink_over_taxmatch_run"] = sp_run.seconds / tm_run.seconds
        train = tm.step("model train") if tm else None
        if train and train.ok:
            ratios["splink_over_taxmatch_train_plus_run"] = sp_run.seconds / (
                tm_run.seconds + train.seconds
            )
        print(
            f"\nspeed: plain Splink took {ratios['splink_over_taxmatch_run']:.2f}x the wall time"
            " of taxmatch batch run"
            + (
                f" ({ratios['splink_over_taxmatch_train_plus_run']:.2f}x of model train +"
                " batch run)"
                if "splink_over_taxmatch_train_plus_run" in ratios
                else ""
            )
        )
    elif sp_run and sp_run.status.startswith("timeout"):
        print(f"\nspeed: plain Splink did not finish in {sp_run.status[9:-1]}")
    for r in runs:
        if r.blocking:
            b = r.blocking
            print(
                f"\nblocking ({r.matcher}): recall {_fmt(b['blocking_recall'], True)} of "
                f"{b['findable_with_true_person_in_master']:,} findable rows whose person is "
                f"in the master; at most {b['pairs_sum']:,} pairs; best-scored person is the true "
                f"person for {_fmt(b['best_person_is_true_person'], True)}"
            )
            for rule in b["rules"]:
                print(
                    f"  {rule['rule']:58s} reached {rule['rows_reached']:>9,d}  first "
                    f"{rule['rows_first_reached']:>7,d}  pairs alone {rule['pairs_alone']:>12,d}"
                )
    for r in runs:
        if r.note:
            print(f"note: {r.matcher}: {r.note.strip()}")
    print(
        "judge: `taxmatch evaluate` without --store for every column (the same judge for all)"
        " except wrong_person(store), which checks the person in the store.\n"
        "not_due: disclosures on rows whose truth outcome is not DISCLOSED (e.g. STALE,"
        " INELIGIBLE, NO_MATCH), from the evaluator's confusion table."
    )
    return {
        "dataset": ds.name,
        "key": ds.key,
        "inputs": {
            "master": [str(p) for p in ds.master],
            "requests": str(ds.requests),
            "truth": str(ds.truth),
            "as_of": ds.as_of,
        },
        "steps": [{k: v for k, v in asdict(s).items() if k != "stdout"} for s in steps],
        "runs": [
            {
                "matcher": r.matcher,
                "package": str(r.package) if r.package else None,
                "evaluation": r.evaluation,
                "evaluation_store": r.evaluation_store,
                "blocking": r.blocking,
                "note": r.note.strip(),
            }
            for r in runs
        ],
        "ratios": ratios,
    }


# --- main ---------------------------------------------------------------------------------


def duckdb_error() -> type[Exception]:
    import duckdb

    return duckdb.Error


def bench_dataset(ds: Dataset, args: argparse.Namespace, root: Path) -> dict[str, Any]:
    work = root / "runs" / ds.key
    wanted = [m.strip() for m in args.matchers.split(",") if m.strip()]
    runs: list[Run] = []
    by: dict[str, Run] = {}
    # plain Splink runs last: it takes the validation verdicts (rejected.csv) of a taxmatch run
    order = [m for m in ("exact", "taxmatch", "splink") if m in wanted]
    if "splink" in order and not {"exact", "taxmatch"} & set(order):
        order.insert(0, "exact")
    for matcher in order:
        print(f"-- {ds.name}: {matcher}", flush=True)
        if matcher == "splink":
            source = next((r for r in by.values() if r.package is not None), None)
            if source is None or source.package is None:
                run = Run("splink", run_step_name="plain_splink.py")
                run.note = "skipped: no taxmatch run gave a rejected.csv to filter requests by"
            else:
                rejected = source.package / "rejected.csv"
                run = run_plain_splink(ds, work / "splink", args, rejected)
                run.note = f"rows filtered by the {source.matcher} run's rejected.csv. {run.note}"
        else:
            run = run_taxmatch(ds, work / matcher, args, exact=matcher == "exact")
        evaluate(run, ds, args)
        if matcher == "taxmatch" and run.package is not None and run.store is not None:
            from blocking import measure  # bench/blocking.py, beside this script

            try:
                run.blocking = measure(run.store, run.package.name, ds.truth)
            except (SystemExit, duckdb_error()) as exc:
                run.note += f" (blocking recall not measured: {type(exc).__name__})"
        by[matcher] = run
    runs = [by[m] for m in MATCHERS if m in wanted and m in by]
    return report(ds, runs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", choices=["generator", "pseudopeople", "both"], default="both")
    ap.add_argument("--people", type=int, default=100_000, help="generator population size")
    ap.add_argument("--rows", type=int, default=10_000, help="request rows (both datasets)")
    ap.add_argument("--years", default="2019-2025")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--as-of", default="2026-11-30")
    ap.add_argument("--matchers", default=",".join(MATCHERS), help="comma-separated subset")
    ap.add_argument("--threshold", type=float, default=0.999, help="plain Splink's threshold")
    ap.add_argument("--timeout", type=float, default=7200, help="seconds per step")
    ap.add_argument("--splink-timeout", type=float, default=7200, help="seconds for plain Splink")
    ap.add_argument("--root", type=Path, default=Path("bench-out/matching"))
    ap.add_argument("--data-only", action="store_true", help="generate and cache the data only")
    args = ap.parse_args(argv)
    for sig in (signal.SIGTERM, signal.SIGHUP):  # unwind, so run_step stops its child
        signal.signal(sig, lambda signum, _frame: sys.exit(128 + signum))
    root: Path = args.root
    root.mkdir(parents=True, exist_ok=True)
    names = ["generator", "pseudopeople"] if args.dataset == "both" else [args.dataset]
    results = []
    for name in names:
        print(f"-- {name}: data", flush=True)
        ds = generator_data(args, root) if name == "generator" else pseudopeople_data(args, root)
        if ds is None:
            results.append({"dataset": name, "error": "no data"})
            continue
        if args.data_only:
            for s in ds.steps:
                memory = f"peak {_fmt(s.rss_mib)} MiB, anon {_fmt(s.anon_mib)} MiB"
                print(f"  {s.name}: {s.seconds:.1f} s, {memory}")
            print(f"  cached: {ds.requests.parent}")
            continue
        result = bench_dataset(ds, args, root)
        results.append(result)
        subset = "" if set(args.matchers.split(",")) >= set(MATCHERS) else f"-{args.matchers}"
        path = root / f"results-{ds.key}{subset.replace(',', '+')}.json"
        path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
