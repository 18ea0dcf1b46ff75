"""The ``taxmatch`` command line. Each command parses flags, calls one library function and
renders the result; library errors become a one-line message and an exit status here,
and only here. No command prints a name, address or TIN.
"""

from __future__ import annotations

import logging

import click

from taxmatch import __version__
from taxmatch.cli.audit import accounting, ledger
from taxmatch.cli.batch_cmd import batch
from taxmatch.cli.demo_cmd import demo, evaluate
from taxmatch.cli.explain import explain
from taxmatch.cli.generate_cmd import generate
from taxmatch.cli.officer import officer
from taxmatch.cli.reference_cmd import model, reference
from taxmatch.cli.service import agency, serve, worker
from taxmatch.cli.store_cmd import keys_group, store_group


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="taxmatch")
@click.option("-v", "--verbose", count=True, help="Log typed events to stderr (-vv: debug).")
def main(verbose: int) -> None:
    """taxmatch: statutory validation and precision-first matching of disclosure requests."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(message)s")


for _command in (
    generate,
    reference,
    model,
    batch,
    ledger,
    demo,
    evaluate,
    explain,
    accounting,
    agency,
    serve,
    worker,
    officer,
    store_group,
    keys_group,
):
    main.add_command(_command)

__all__ = ["main"]
