"""``taxmatch demo`` and ``taxmatch evaluate``: the whole path on a generated population,
and a package judged against known truth."""

from __future__ import annotations

import json
from pathlib import Path

import click

from taxmatch.cli.common import edge, get_settings, new_store, store_command
from taxmatch.cli.progress import Bar
from taxmatch.cli.render import print_summary


@store_command(None, "demo")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-out"),
    show_default=True,
)
@click.option("--people", type=click.IntRange(10), default=20_000, show_default=True)
@click.option("--rows", type=click.IntRange(10), default=5_000, show_default=True)
@click.option("--seed", type=int, default=2026, show_default=True)
def demo(store: Path | None, out: Path, people: int, rows: int, seed: int) -> None:
    """Generate a population, load it, run a batch and print the summary."""
    from taxmatch.pipeline.demo import run_demo

    with Bar() as bar:
        result = run_demo(
            store=new_store(store),
            out=out,
            people=people,
            rows=rows,
            seed=seed,
            progress=bar,
            database_url=get_settings().database_url,
        )
    print_summary(result.summary, result.package, reused=result.reused, as_json=False)
    click.echo(f"evaluation inputs: truth file {result.truth}")


@click.command("evaluate")
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
@edge
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
