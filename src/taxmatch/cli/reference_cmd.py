"""``taxmatch reference load`` and ``taxmatch model train|show``: the custodian's master
file snapshots and the probabilistic model of the one in force."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from taxmatch.cli.audit import actor_id, origin_id
from taxmatch.cli.common import (
    engine_options,
    get_settings,
    new_store,
    store_command,
    store_dir,
)
from taxmatch.cli.progress import Bar


@click.group()
def reference() -> None:
    """Load and inspect the custodian's master file snapshots."""


@store_command(reference, "load")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path)
)
@click.option(
    "--memory-limit",
    default=None,
    help=(
        "DuckDB's memory while loading and building the lookup index, e.g. 4GB (default "
        "2GB loading, 1GB building); beyond it, it spills to disk."
    ),
)
@engine_options("the master is normalised into filings")
def reference_load(
    store: Path | None,
    files: tuple[Path, ...],
    memory_limit: str | None,
    engine: str,
    spark_dir: Path | None,
) -> None:
    """Load master files (CSV or Parquet) into a new reference snapshot and make it current.
    With --engine spark the filings are built on Spark, and the snapshot is also written
    as the Spark engine's Parquet (docs/spark.md); the snapshot is the same."""
    from taxmatch.pipeline.reference import load_reference_snapshot

    with Bar() as bar:
        bar.stage("filings", None)
        info = load_reference_snapshot(
            new_store(store),
            list(files),
            progress=bar.advance,
            audit=_audit(),
            memory_limit=memory_limit,
            engine=engine,
            spark_dir=spark_dir,
        )
    click.echo(f"reference {info.snapshot_id}: {info.filings} filings, {info.tins} TINs")


@click.group()
def model() -> None:
    """Train and inspect the probabilistic model of the reference in force."""


@store_command(model, "train")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option(
    "--memory-limit",
    default=None,
    help="DuckDB's memory while training, e.g. 4GB (default 2GB); beyond it, it spills to disk.",
)
def model_train(store: Path | None, seed: int, memory_limit: str | None) -> None:
    """Train the model for the current reference snapshot and save it in the store.
    The same snapshot and seed give the same model file, byte for byte."""
    from taxmatch.pipeline.reference import TRAIN_MEMORY_LIMIT, train_current_model

    info = train_current_model(
        store_dir(store),
        seed=seed,
        audit=_audit(),
        memory_limit=memory_limit or TRAIN_MEMORY_LIMIT,
    )
    click.echo(f"model {info.version} for {info.snapshot_id}: sha256 {info.sha256}")
    click.echo(f"saved to {info.path}")


@store_command(model, "show")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the match-weight chart as HTML.",
)
def model_show(store: Path | None, out: Path | None) -> None:
    """Print the match weight of every comparison level (and chart it with --out)."""
    from taxmatch.cli.render import write_weight_chart
    from taxmatch.pipeline.reference import current_model, model_weights

    info = current_model(store_dir(store))
    rows = model_weights(info)
    click.echo(f"model {info.version} for {info.snapshot_id} (sha256 {info.sha256[:16]}…)")
    for comparison, level, weight in rows:
        bar = ("+" if weight >= 0 else "-") * min(40, int(abs(weight) * 2))
        click.echo(f"{comparison:<14} {level[:44]:<44} {weight:>7.2f} {bar}")
    if out is not None:
        write_weight_chart(rows, out)
        click.echo(f"chart written to {out}")


def _audit() -> Any:
    """Who and where, for the configuration-change entries of reference load / model train."""
    from taxmatch.pipeline.reference import Audit

    return Audit(database_url=get_settings().database_url, actor=actor_id(), origin=origin_id())
