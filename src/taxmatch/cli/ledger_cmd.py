"""``taxmatch ledger verify`` (and ``ledger export-head``, from ``taxmatch.cli.audit``):
the tamper-evident record of every request and disclosure. Registered on the main group
by ``taxmatch.cli``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from taxmatch.cli.audit import export_head
from taxmatch.cli.common import edge, store_dir, store_option
from taxmatch.cli.settings import get_settings


@click.group()
def ledger() -> None:
    """The tamper-evident record of every request and disclosure."""


@ledger.command("verify")
@store_option
@click.option(
    "--witness",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A head written by `ledger export-head`: the ledger must hold it, "
    "unchanged, and be at least that long.",
)
@edge
def ledger_verify(store: Path | None, witness: Path | None) -> None:
    """Check the whole hash chain, the head's keyed signature, and re-hash every stored
    decision and bound row against it; exit 5 naming the first bad entry (or the table and
    row); print the head."""
    from taxmatch.pipeline.accounting import verify_ledger

    result = verify_ledger(store_dir(store), witness, database_url=get_settings().database_url)
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


ledger.add_command(export_head)
