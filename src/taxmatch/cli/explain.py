"""``taxmatch explain``: the custodian's page on one decision of a past batch."""

from __future__ import annotations

from pathlib import Path

import click

from taxmatch.cli.common import get_settings, store_command, store_dir


@store_command(None, "explain")
@click.option("--batch", "batch_id", required=True, help="Batch id (B…), as in summary.json.")
@click.option("--request", "request_id", required=True, help="The request's request_id.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Directory for the HTML page and the SVG chart.",
)
@click.option(
    "--top",
    type=click.IntRange(1, 50),
    default=5,
    show_default=True,
    help="Candidate persons to list.",
)
@click.option(
    "--policy",
    default=None,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The policy file the batch ran under, to show its thresholds "
    "(default: the packaged policy).",
)
def explain(
    store: Path | None, batch_id: str, request_id: str, out: Path, top: int, policy: Path | None
) -> None:
    """Explain one probabilistic decision: a waterfall of the best candidate's match weight
    and the top candidate persons, as HTML and SVG (never into the requester's package)."""
    from taxmatch.console.explain_page import write_explanation

    result = write_explanation(
        store_dir(store),
        batch_id,
        request_id,
        out=out,
        top=top,
        policy=policy,
        database_url=get_settings().database_url,
    )
    click.echo(f"explanation written to {result.html}")
    click.echo(f"waterfall chart written to {result.svg}")
