"""``taxmatch generate population|requests``: seeded synthetic data (never real people)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from taxmatch.cli.common import as_of_option, edge, year_range
from taxmatch.cli.progress import Bar

if TYPE_CHECKING:
    from taxmatch.generate import PopulationSummary, RequestsSummary


@click.group()
def generate() -> None:
    """Generate seeded synthetic populations and request batches (never real people)."""


@generate.command("population")
@click.option("--people", type=click.IntRange(1), default=10_000, show_default=True)
@click.option("--years", default="2019-2025", show_default=True, help="Tax years, FIRST-LAST.")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@edge
def generate_population_cmd(people: int, years: str, seed: int, out: Path) -> None:
    """Write a synthetic master file (master.parquet) and its truth (people.parquet)."""
    from taxmatch.generate import generate_population

    with Bar() as bar:
        bar.stage("people", people)
        result = generate_population(
            people=people, years=year_range(years), seed=seed, out=out, progress=bar.advance
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
@as_of_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl", "parquet"]),
    default="csv",
    show_default=True,
)
@edge
def generate_requests_cmd(
    population: Path, rows: int, seed: int, out: Path, as_of: date, fmt: str
) -> None:
    """Write a request file, its envelope and a truth file for evaluation."""
    from taxmatch.generate import generate_requests

    with Bar() as bar:
        bar.stage("requests", rows)
        result = generate_requests(
            population=population,
            rows=rows,
            seed=seed,
            out=out,
            as_of=as_of,
            progress=bar.advance,
            fmt=fmt,  # type: ignore[arg-type]
        )
    click.echo(f"requests written to {out} ({_describe(result)})")


def _describe(result: PopulationSummary | RequestsSummary) -> str:
    """The summary's counts and seed, ``name=value`` in field order."""
    return ", ".join(f"{k}={v}" for k, v in asdict(result).items() if isinstance(v, int))
