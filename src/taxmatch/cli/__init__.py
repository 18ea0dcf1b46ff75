"""The ``taxmatch`` command line. Each command parses flags, calls one library function and
renders the result; library errors become a one-line message and an exit status here,
and only here. No command prints a name, address or TIN.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import date
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from taxmatch import __version__
from taxmatch.cli.progress import Bar
from taxmatch.cli.render import render_summary
from taxmatch.cli.settings import get_settings
from taxmatch.errors import TaxmatchError

P = ParamSpec("P")
T = TypeVar("T")


def _edge(fn: Callable[P, T]) -> Callable[P, T]:
    """Turn library errors into one line on stderr and the error's exit status."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except TaxmatchError as exc:
            click.echo(f"taxmatch: error {exc}", err=True)
            sys.exit(exc.exit_status)
        except (click.exceptions.Exit, click.ClickException, KeyboardInterrupt):
            raise
        except Exception as exc:  # never show locals or values: they may be people's data
            if get_settings().debug:
                raise
            click.echo(
                f"taxmatch: internal error TM999 ({type(exc).__name__}); "
                "rerun with TAXMATCH_DEBUG=1 for a traceback",
                err=True,
            )
            sys.exit(70)

    return wrapper


def _store_option(fn: Callable[P, T]) -> Callable[P, T]:
    return click.option(
        "--store",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Store directory (env TAXMATCH_STORE, default ./taxmatch-data).",
    )(fn)


def _new_store(store: Path | None) -> Path:
    """The store for a command that may make it (store init, reference load, demo)."""
    return store if store is not None else get_settings().store


def _store(store: Path | None) -> Path:
    """The store for every other command: it must exist (``StoreMissing``, exit 4)."""
    from taxmatch.store.location import check_store

    return check_store(_new_store(store), get_settings().database_url)


def _as_of(value: str | None) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("must be an ISO date, YYYY-MM-DD", param_hint="--as-of") from None


def _years(value: str) -> tuple[int, int]:
    try:
        a, b = (int(x) for x in value.split("-", 1))
    except ValueError:
        raise click.BadParameter("must look like 2019-2025", param_hint="--years") from None
    if a > b:
        raise click.BadParameter("first year after last year", param_hint="--years")
    return a, b


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="taxmatch")
@click.option("-v", "--verbose", count=True, help="Log typed events to stderr (-vv: debug).")
def main(verbose: int) -> None:
    """taxmatch: statutory validation and precision-first matching of disclosure requests."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(message)s")


# --- generate -------------------------------------------------------------------------


@main.group()
def generate() -> None:
    """Generate seeded synthetic populations and request batches (never real people)."""


@generate.command("population")
@click.option("--people", type=click.IntRange(1), default=10_000, show_default=True)
@click.option("--years", default="2019-2025", show_default=True, help="Tax years, FIRST-LAST.")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@_edge
def generate_population_cmd(people: int, years: str, seed: int, out: Path) -> None:
    """Write a synthetic master file (master.parquet) and its truth (people.parquet)."""
    from taxmatch.generate import generate_population

    with Bar() as bar:
        bar.stage("people", people)
        result = generate_population(
            people=people, years=_years(years), seed=seed, out=out, progress=bar.advance
        )
    click.echo(f"population written to {out} ({_describe(result)})")


@generate.command("requests")
@click.option(
    "--population",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    required=True,
    help="Directory written by 'generate population'.",
)
@click.option("--rows", type=click.IntRange(1), default=5_000, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--as-of", "as_of", default=None, help="Date the batch is judged at (default today).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl", "parquet"]),
    default="csv",
    show_default=True,
)
@_edge
def generate_requests_cmd(
    population: Path, rows: int, seed: int, out: Path, as_of: str | None, fmt: str
) -> None:
    """Write a request file, its envelope and a truth file for evaluation."""
    when = _as_of(as_of)
    from taxmatch.generate import generate_requests

    with Bar() as bar:
        bar.stage("requests", rows)
        result = generate_requests(
            population=population,
            rows=rows,
            seed=seed,
            out=out,
            as_of=when,
            progress=bar.advance,
            fmt=fmt,  # type: ignore[arg-type]
        )
    click.echo(f"requests written to {out} ({_describe(result)})")


def _describe(result: object) -> str:
    fields = getattr(result, "__dataclass_fields__", {})
    parts = [f"{k}={getattr(result, k)}" for k in fields if isinstance(getattr(result, k), int)]
    return ", ".join(parts)


# --- reference ------------------------------------------------------------------------


@main.group()
def reference() -> None:
    """Load and inspect the custodian's master file snapshots."""


@reference.command("load")
@_store_option
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path)
)
@_edge
def reference_load(store: Path | None, files: tuple[Path, ...]) -> None:
    """Load master files (CSV or Parquet) into a new reference snapshot and make it current."""
    from taxmatch.pipeline.reference import load_reference_snapshot

    with Bar() as bar:
        bar.stage("filings", None)
        info = load_reference_snapshot(
            _new_store(store), list(files), progress=bar.advance, audit=_audit()
        )
    click.echo(f"reference {info.snapshot_id}: {info.filings} filings, {info.tins} TINs")


# --- model ----------------------------------------------------------------------------


@main.group()
def model() -> None:
    """Train and inspect the probabilistic model of the reference in force."""


@model.command("train")
@_store_option
@click.option("--seed", type=int, default=42, show_default=True)
@_edge
def model_train(store: Path | None, seed: int) -> None:
    """Train the model for the current reference snapshot and save it in the store."""
    from taxmatch.pipeline.reference import train_current_model

    info = train_current_model(_store(store), seed=seed, audit=_audit())
    click.echo(f"model {info.version} for {info.snapshot_id}: sha256 {info.sha256}")
    click.echo(f"saved to {info.path}")


@model.command("show")
@_store_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the match-weight chart as HTML.")  # fmt: skip
@_edge
def model_show(store: Path | None, out: Path | None) -> None:
    """Print the match weight of every comparison level (and chart it with --out)."""
    from taxmatch.cli.render import write_weight_chart
    from taxmatch.match.report import match_weight_rows
    from taxmatch.pipeline.reference import current_model

    info = current_model(_store(store))
    rows = match_weight_rows(info)
    click.echo(f"model {info.version} for {info.snapshot_id} (sha256 {info.sha256[:16]}…)")
    for comparison, level, weight in rows:
        bar = ("+" if weight >= 0 else "-") * min(40, int(abs(weight) * 2))
        click.echo(f"{comparison:<14} {level[:44]:<44} {weight:>7.2f} {bar}")
    if out is not None:
        write_weight_chart(rows, out)
        click.echo(f"chart written to {out}")


# --- batch ----------------------------------------------------------------------------


@main.group()
def batch() -> None:
    """Run request batches and inspect their packages."""


@batch.command("run")
@_store_option
@click.option(
    "--requests",
    "requests_file",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
)
@click.option(
    "--envelope", required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path)
)
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--policy",
    default=None,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Policy YAML (default: the packaged policy).",
)
@click.option("--as-of", "as_of", default=None, help="Date the batch is judged at (default today).")
@click.option("--matcher", type=click.Choice(["probabilistic", "exact"]), default="probabilistic",
              show_default=True, help="'exact' is the baseline kept for comparison.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print summary.json instead of a table.")
@_edge
def batch_run(
    store: Path | None,
    requests_file: Path,
    envelope: Path,
    out: Path,
    policy: Path | None,
    as_of: str | None,
    matcher: str,
    as_json: bool,
) -> None:
    """Validate, match and package one batch. The same input and envelope is the same batch."""
    from taxmatch.pipeline.batch import BatchRequest, run_batch

    req = BatchRequest(
        store=_store(store),
        requests=requests_file,
        envelope=envelope,
        out=out,
        as_of=_as_of(as_of),
        policy=policy,
        matcher=matcher,
        database_url=get_settings().database_url,
        actor=actor_id(),
        origin=origin_id(),
    )
    with Bar() as bar:
        result = run_batch(req, bar)
    _print_summary(result.summary, result.package, reused=result.reused, as_json=as_json)


@batch.command("validate")
@click.option("--requests", "requests_file", required=True,
              type=click.Path(dir_okay=False, exists=True, path_type=Path))  # fmt: skip
@click.option("--envelope", required=True,
              type=click.Path(dir_okay=False, exists=True, path_type=Path))  # fmt: skip
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--policy", default=None,
              type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Policy YAML (default: the packaged policy).")  # fmt: skip
@click.option("--as-of", "as_of", default=None, help="Date the batch is judged at (default today).")
@_edge
def batch_validate(
    requests_file: Path, envelope: Path, out: Path, policy: Path | None, as_of: str | None
) -> None:
    """Pre-flight: validate a batch without matching; writes rejected.csv and preflight.json."""
    from taxmatch.pipeline.preflight import validate_batch

    when = _as_of(as_of)
    with Bar() as bar:
        result = validate_batch(requests=requests_file, envelope=envelope, out=out, as_of=when,
                                policy=policy, progress=bar)  # fmt: skip
    click.echo(
        f"{result.rows} rows: {result.rows - result.rejected} valid, {result.rejected} rejected "
        f"({result.rows / max(result.seconds, 1e-9):.0f} rows/s); see {out / 'rejected.csv'}"
    )
    for code, n in result.reason_codes.items():
        click.echo(f"  {code}: {n}")


@batch.command("replay")
@_store_option
@click.argument("batch_id")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@_edge
def batch_replay(store: Path | None, batch_id: str, as_json: bool) -> None:
    """Re-run a past batch under its pinned policy, model and reference snapshot and prove
    every decision identical. Exits 1 and lists the differences when any row differs."""
    from taxmatch.pipeline.replay import MAX_SHOWN, replay_batch

    with Bar() as bar:
        r = replay_batch(_store(store), batch_id, database_url=get_settings().database_url,
                         progress=bar)  # fmt: skip
    doc = {"batch_id": r.batch_id, "identical": r.identical, "rows": r.rows, "same": r.same,
           "missing": r.missing, "extra": r.extra,
           "differences": [{"row": n, "request_id": rid, "field": f}
                           for n, rid, f in r.differences[:MAX_SHOWN]],
           "differences_total": len(r.differences)}  # fmt: skip
    if as_json:
        click.echo(json.dumps(doc, indent=2, sort_keys=True))
    elif r.identical:
        click.echo(f"batch {batch_id}: replay identical: {r.rows} of {r.rows} decisions")
    else:
        click.echo(
            f"batch {batch_id}: replay DIFFERS: {len(r.differences)} field differences, "
            f"{r.missing} rows missing, {r.extra} rows extra ({r.same} of {r.rows} identical)"
        )
        for n, rid, f in r.differences[:MAX_SHOWN]:
            click.echo(f"  row {n} ({rid}): {f}")
    if not r.identical:
        sys.exit(1)


def _print_summary(summary: dict[str, Any], package: Path, *, reused: bool, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(summary, indent=2, sort_keys=True))
        return
    if reused:
        click.echo("This input and envelope were already processed; returning that batch.")
    click.echo(render_summary(summary, package))


# --- ledger ---------------------------------------------------------------------------


@main.group()
def ledger() -> None:
    """The tamper-evident record of every request and disclosure."""


@ledger.command("verify")
@_store_option
@click.option("--witness", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A head written by `ledger export-head`: the ledger must hold it, "
              "unchanged, and be at least that long.")  # fmt: skip
@_edge
def ledger_verify(store: Path | None, witness: Path | None) -> None:
    """Check the whole hash chain, the head's keyed signature, and re-hash every stored
    decision and bound row against it; exit 5 naming the first bad entry (or the table and
    row); print the head."""
    from taxmatch.pipeline.accounting import verify_ledger

    result = verify_ledger(_store(store), witness, database_url=get_settings().database_url)
    if not result.ok:
        where = "" if result.first_bad_seq is None else f" at entry {result.first_bad_seq}"
        click.echo(f"taxmatch: ledger verification FAILED{where}: {result.problem}", err=True)
        sys.exit(5)
    click.echo(
        f"ledger ok: {result.entries} entries, {result.decisions} decisions re-hashed, "
        f"head {result.head}"
    )
    held = "" if witness is None else "; the witnessed head is held"
    click.echo(f"{result.bound} bound rows re-hashed; head signature ok{held}")


# --- demo -----------------------------------------------------------------------------


@main.command("demo")
@_store_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-out"),
    show_default=True,
)
@click.option("--people", type=click.IntRange(10), default=20_000, show_default=True)
@click.option("--rows", type=click.IntRange(10), default=5_000, show_default=True)
@click.option("--seed", type=int, default=2026, show_default=True)
@_edge
def demo(store: Path | None, out: Path, people: int, rows: int, seed: int) -> None:
    """Generate a population, load it, run a batch and print the summary."""
    from taxmatch.pipeline.demo import run_demo

    with Bar() as bar:
        result = run_demo(
            store=_new_store(store),
            out=out,
            people=people,
            rows=rows,
            seed=seed,
            progress=bar,
            database_url=get_settings().database_url,
        )
    _print_summary(result.summary, result.package, reused=result.reused, as_json=False)
    click.echo(f"evaluation inputs: truth file {result.truth}")


# --- evaluate -------------------------------------------------------------------------


@main.command("evaluate")
@click.option(
    "--truth", required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path)
)
@click.option(
    "--package",
    required=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="A response package directory, OUT/<batch_id>.",
)
@click.option(
    "--store",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Store that ran the batch: check each disclosure's person, not only its address.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@_edge
def evaluate(truth: Path, package: Path, store: Path | None, as_json: bool) -> None:
    """Judge a package against known truth: precision, wrong addresses, recall, per stratum."""
    from taxmatch.cli.evaluate_tables import render_evaluation
    from taxmatch.pipeline.evaluate import evaluate_package
    from taxmatch.pipeline.evaluate_result import evaluation_dict

    url = get_settings().database_url if store is not None else None
    result = evaluate_package(truth, package, store=store, database_url=url)
    if as_json:
        click.echo(json.dumps(evaluation_dict(result), indent=2, sort_keys=True))
    else:
        click.echo(render_evaluation(result))


# --- explain (its own module; registered here) ----------------------------------------

from taxmatch.cli.explain import explain  # noqa: E402  (needs the helpers above)

main.add_command(explain)

# --- ledger export-head, accounting (their own module; registered here) ---------------

from taxmatch.cli.audit import accounting, actor_id, export_head, origin_id  # noqa: E402

ledger.add_command(export_head)
main.add_command(accounting)


def _audit() -> Any:
    """Who and where, for the configuration-change entries of reference load / model train."""
    from taxmatch.pipeline.reference import Audit

    return Audit(database_url=get_settings().database_url, actor=actor_id(), origin=origin_id())


# --- agency, serve, worker: the on-demand service (their own module; registered here) --

from taxmatch.cli.service import agency, serve, worker  # noqa: E402

main.add_command(agency)
main.add_command(serve)
main.add_command(worker)

# --- officer: console accounts (their own module; registered here) --------------------

from taxmatch.cli.officer import officer  # noqa: E402

main.add_command(officer)

# --- store init, keys rotate (their own module; registered here) ----------------------

from taxmatch.cli.store_cmd import keys_group, store_group  # noqa: E402

main.add_command(store_group)
main.add_command(keys_group)
