"""``taxmatch ledger verify|export-head`` and ``taxmatch accounting …``: the custodian's
audit edge. The accounting commands are the only commands that print or write TINs (the
custodian's § 6103(p)(3) accounting); they never log them.
"""

from __future__ import annotations

import getpass
import json
import socket
import sys
from dataclasses import asdict
from pathlib import Path

import click

from taxmatch.cli.common import get_settings, store_command, store_dir
from taxmatch.cli.render import FLAG, coverage_tables, text_console, text_of
from taxmatch.pipeline.edge_audit import typed_tin
from taxmatch.policy.coverage import Coverage


def actor_id() -> str:
    """The Publication 1075 user id of whoever runs the command (the login name)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def origin_id() -> str:
    """Where the command runs: ``cli@<host>``."""
    return f"cli@{socket.gethostname()}"


def _tin(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    tin = typed_tin(value)
    if tin is None:
        raise click.BadParameter("must be 9 digits (dashes allowed)")  # never echo the value
    return tin


@click.group()
def ledger() -> None:
    """The tamper-evident record of every request and disclosure."""


@store_command(ledger, "verify")
@click.option(
    "--witness",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A head written by `ledger export-head`: the ledger must hold it, "
    "unchanged, and be at least that long.",
)
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


@store_command(ledger, "export-head")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the JSON here (default: stdout).",
)
def export_head(store: Path | None, out: Path | None) -> None:
    """Verify the ledger, then write its head {schema, seq, hash, utc, entries} as JSON for an
    outside witness. Exits non-zero, exporting nothing, when verification fails."""
    from taxmatch.pipeline.accounting import export_head as export

    doc = export(store_dir(store), out, database_url=get_settings().database_url)
    if out is None:
        click.echo(json.dumps(doc, indent=2, sort_keys=True))
    else:
        click.echo(f"ledger head {doc['hash']} (seq {doc['seq']}) written to {out}")


@click.group()
def accounting() -> None:
    """Custodian-only accounting of disclosures (§ 6103(p)(3)). Output holds TINs."""


@store_command(accounting, "taxpayer")
@click.option("--tin", required=True, callback=_tin, help="The taxpayer's TIN.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def accounting_taxpayer(store: Path | None, tin: str, as_json: bool) -> None:
    """List every disclosure about one taxpayer: when, batch, disclosure id, agency, statute,
    stated reason and fields disclosed."""
    from taxmatch.pipeline.accounting import taxpayer_accounting

    records = taxpayer_accounting(store_dir(store), tin, database_url=get_settings().database_url)
    if as_json:
        docs = [
            {**asdict(r), "disclosed_utc": r.disclosed_utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
            for r in records
        ]
        click.echo(json.dumps(docs, indent=2, sort_keys=True))
        return
    click.echo(f"{len(records)} disclosures about this taxpayer")
    for r in records:
        click.echo(
            f"{r.disclosed_utc:%Y-%m-%dT%H:%M:%SZ}  {r.disclosure_id}  batch {r.batch_id}  "
            f"to {r.agency} (letter {r.request_letter_id})  under {r.statute}  "
            f"fields {','.join(r.fields)}"
        )
        click.echo(f"    reason: {r.relevance}")


@store_command(accounting, "batch", "batch_id")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV file to write: disclosure_id, tin.",
)
def accounting_batch(store: Path | None, batch_id: str, out: Path) -> None:
    """Write a batch's disclosure_id -> TIN list as CSV (custodian only)."""
    from taxmatch.pipeline.accounting import write_batch_accounting

    n = write_batch_accounting(
        store_dir(store), batch_id, out, database_url=get_settings().database_url
    )
    click.echo(f"{n} disclosures of batch {batch_id} written to {out}")


@store_command(accounting, "report")
@click.option("--year", required=True, type=click.IntRange(1900, 9999), help="Calendar year (UTC).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def accounting_report(store: Path | None, year: int, as_json: bool) -> None:
    """§ 6103(p)(3)(C) counts for a year: requests, disclosures and taxpayers, by agency and
    by statute; as text, then the transparency report's coverage by group."""
    from taxmatch.pipeline.accounting import annual_report
    from taxmatch.pipeline.transparency import year_coverage

    url = get_settings().database_url
    report = annual_report(store_dir(store), year, database_url=url)
    doc = report.as_dict()
    if as_json:
        click.echo(json.dumps(doc, indent=2, sort_keys=True))
        return
    click.echo(
        f"{year}: {doc['requests']} requests in {doc['batches']} batches, "
        f"{doc['disclosures']} disclosures, {doc['taxpayers']} taxpayers"
    )
    click.echo(
        f"{'agency':<12} {'statute':<28} {'requests':>10} {'disclosures':>12} {'taxpayers':>10}"
    )
    for r in report.rows:
        click.echo(
            f"{r.agency[:12]:<12} {(r.statute or '(not parseable)')[:28]:<28} "
            f"{r.requests:>10} {r.disclosures:>12} {r.taxpayers:>10}"
        )
    click.echo(coverage_table(year_coverage(store_dir(store), year, database_url=url), year))


def coverage_table(cov: Coverage, year: int) -> str:
    """The year's coverage by group as text: ``render.coverage_tables`` with the batches
    that flagged each group (counts and rates only)."""
    console = text_console()
    title = f"Coverage by group, batches received in {year}"
    for table in coverage_tables(cov, title, batches_flagged=True):
        console.print(table)
    console.print(f"{FLAG} flagged by a batch: its disclosures in the group went to REVIEW")
    return "\n" + "\n".join(line.rstrip() for line in text_of(console).splitlines())
