"""``taxmatch batch run|validate|replay``: run request batches and inspect their packages."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import click

from taxmatch.cli.audit import actor_id, origin_id
from taxmatch.cli.common import (
    as_of_option,
    edge,
    engine_options,
    get_settings,
    matcher_option,
    policy_option,
    store_command,
    store_dir,
)
from taxmatch.cli.progress import Bar
from taxmatch.cli.render import print_summary

F = TypeVar("F", bound=Callable[..., Any])


@click.group()
def batch() -> None:
    """Run request batches and inspect their packages."""


def batch_inputs(command: F) -> F:
    """The options ``batch run`` and ``batch validate`` share: the request file, its
    envelope, the output directory, the policy and the as-of date."""
    existing_file = click.Path(dir_okay=False, exists=True, path_type=Path)
    options = (
        click.option("--requests", "requests_file", required=True, type=existing_file),
        click.option("--envelope", required=True, type=existing_file),
        click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path)),
        policy_option,
        as_of_option,
    )
    for option in reversed(options):
        command = option(command)
    return command


@store_command(batch, "run")
@batch_inputs
@matcher_option
@engine_options("the probabilistic matcher scores, ranks and judges")
@click.option(
    "--memory-limit",
    default="2GB",
    show_default=True,
    help="Memory the batch's DuckDB workspace may use; beyond it, it spills to disk.",
)
@click.option("--json", "as_json", is_flag=True, help="Print summary.json instead of a table.")
def batch_run(
    store: Path | None,
    requests_file: Path,
    envelope: Path,
    out: Path,
    policy: Path | None,
    as_of: date,
    matcher: str,
    engine: str,
    spark_dir: Path | None,
    memory_limit: str,
    as_json: bool,
) -> None:
    """Validate, match and package one batch. The same input and envelope is the same batch."""
    from taxmatch.pipeline.batch import BatchRequest, run_batch

    req = BatchRequest(
        store=store_dir(store),
        requests=requests_file,
        envelope=envelope,
        out=out,
        as_of=as_of,
        policy=policy,
        matcher=matcher,
        engine=engine,
        spark_dir=spark_dir,
        database_url=get_settings().database_url,
        actor=actor_id(),
        origin=origin_id(),
        memory_limit=memory_limit,
    )
    with Bar() as bar:
        result = run_batch(req, bar)
    print_summary(result.summary, result.package, reused=result.reused, as_json=as_json)


@batch.command("validate")
@batch_inputs
@edge
def batch_validate(
    requests_file: Path, envelope: Path, out: Path, policy: Path | None, as_of: date
) -> None:
    """Pre-flight: validate a batch without matching; writes rejected.csv and preflight.json."""
    from taxmatch.pipeline.preflight import validate_batch

    with Bar() as bar:
        result = validate_batch(
            requests=requests_file,
            envelope=envelope,
            out=out,
            as_of=as_of,
            policy=policy,
            progress=bar,
        )
    click.echo(
        f"{result.rows} rows: {result.rows - result.rejected} valid, {result.rejected} rejected "
        f"({result.rows / max(result.seconds, 1e-9):.0f} rows/s); see {out / 'rejected.csv'}"
    )
    for code, n in result.reason_codes.items():
        click.echo(f"  {code}: {n}")


@store_command(batch, "show", "batch_id")
@click.option("--json", "as_json", is_flag=True, help="Print summary.json instead of a table.")
@click.option(
    "--coverage-csv",
    "coverage_csv",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the package's coverage by group here as CSV (exit 6 when it has none).",
)
def batch_show(store: Path | None, batch_id: str, as_json: bool, coverage_csv: Path | None) -> None:
    """Show a batch: its status and, once done, its package's summary with the accuracy
    estimate of its shadow probes (and any hold it is under) and its coverage by group."""
    from taxmatch.pipeline.batch import find_batch_summary
    from taxmatch.pipeline.batch_coverage import require_coverage, write_coverage_csv

    row, summary = find_batch_summary(store_dir(store), batch_id, get_settings().database_url)
    if coverage_csv is not None:
        cov = require_coverage(row.batch_id, summary)
        write_coverage_csv(cov, coverage_csv)
        click.echo(f"coverage of {len(cov['groups'])} groups written to {coverage_csv}", err=True)
    if summary is not None:
        print_summary(summary, Path(row.package_dir), reused=False, as_json=as_json)
        return
    doc = {"batch_id": row.batch_id, "status": row.status, "error_code": row.error_code}
    if as_json:
        click.echo(json.dumps({**doc, "counts": row.counts}, indent=2, sort_keys=True))
        return
    click.echo(f"batch {row.batch_id}: {row.status}, {row.input_rows} input rows")
    if row.error_code:
        click.echo(f"error {row.error_code}")


@store_command(batch, "replay", "batch_id")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def batch_replay(store: Path | None, batch_id: str, as_json: bool) -> None:
    """Re-run a past batch under its pinned policy, model and reference snapshot and prove
    every decision identical. Exits 1 and lists the differences when any row differs."""
    from taxmatch.pipeline.replay import MAX_SHOWN, replay_batch

    with Bar() as bar:
        r = replay_batch(
            store_dir(store), batch_id, database_url=get_settings().database_url, progress=bar
        )
    doc = {
        **asdict(r),
        "identical": r.identical,
        "differences": [
            {"row": n, "request_id": rid, "field": f} for n, rid, f in r.differences[:MAX_SHOWN]
        ],
        "differences_total": len(r.differences),
    }
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
