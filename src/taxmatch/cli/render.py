"""Human-readable rendering: a package summary (counts only, never a value) and the
model's match-weight chart page."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from taxmatch.contracts import REASON_DESCRIPTIONS, Outcome, ReasonCode
from taxmatch.owner_only import write_private_text
from taxmatch.pipeline.evaluate_result import ESTIMATED
from taxmatch.policy.accuracy import percent, percent_range
from taxmatch.policy.coverage import COLUMNS

if TYPE_CHECKING:
    from taxmatch.disclose.package import BatchSummary
    from taxmatch.policy.coverage import Coverage, GroupFigures

_ORDER = ["REJECTED", *(o.value for o in Outcome)]
FLAG = "⚑"  # marks a flagged coverage group


def print_summary(summary: BatchSummary, package: Path, *, reused: bool, as_json: bool) -> None:
    """The summary as ``summary.json`` gives it, or as tables (after a note when reused)."""
    if as_json:
        click.echo(json.dumps(summary, indent=2, sort_keys=True))
        return
    if reused:
        click.echo("This input and envelope were already processed; returning that batch.")
    click.echo(render_summary(summary, package))


def text_console(width: int = 100) -> Console:
    """A console that records plain text (no colour, no terminal codes) for ``text_of``."""
    return Console(
        file=StringIO(), width=width, force_terminal=False, color_system=None, record=True
    )


def text_of(console: Console) -> str:
    """What ``console`` (a ``text_console``) printed, trailing whitespace stripped."""
    return console.export_text().rstrip()


def figures_table(title: str, label: str, *figures: str, no_wrap: bool = False) -> Table:
    """A table titled ``title``: a ``label`` column on the left, then right-aligned
    ``figures`` columns (counts and rates)."""
    table = Table(title=title, title_justify="left")
    table.add_column(label, no_wrap=no_wrap)
    for column in figures:
        table.add_column(column, justify="right")
    return table


def render_summary(summary: BatchSummary, package: Path) -> str:
    console = text_console()
    rows = int(summary["input_rows"])
    console.print(f"batch {summary['batch_id']}: {rows} input rows")
    outcomes = figures_table("Outcomes", "outcome", "records", "share")
    counts = summary["counts"]
    for name in _ORDER:
        n = counts.get(name, 0)
        outcomes.add_row(name, str(n), f"{(100 * n / rows) if rows else 0:.1f} %")
    console.print(outcomes)
    if summary["reason_codes"]:
        reasons = figures_table("Rejections by reason code", "code", "records")
        reasons.add_column("meaning")
        for code, n in sorted(summary["reason_codes"].items()):
            reasons.add_row(code, str(n), REASON_DESCRIPTIONS[ReasonCode(code)])
        console.print(reasons)
    _print_accuracy(console, summary)
    cov = summary.get("coverage")
    if cov is not None:
        _print_coverage(console, cov)
    console.print(
        f"policy {summary['policy']['version']} · matcher {summary['model']['version']} · "
        f"reference {summary['reference_snapshot_id']} · ledger head "
        f"{summary['ledger_head']['hash'][:16]}…"
    )
    console.print(f"package: {package}")
    return text_of(console)


COVERS = {True: "yes", False: "NO", None: "n/a"}  # whether an interval covers the truth


def _print_accuracy(console: Console, summary: BatchSummary) -> None:
    """The shadow probes' estimate, the model's own, and any hold they put the batch under."""
    est = summary.get("accuracy_estimate")
    if est is None:
        return
    if est["probes"]:
        title = f"Accuracy estimate ({est['probes']} shadow probes)"
        table = figures_table(title, "measure", "estimate", "95 % interval")
        for name in ESTIMATED:
            rate = est[name]
            table.add_row(name.replace("_", " "), percent(rate["estimate"]), percent_range(rate))
        console.print(table)
    else:
        console.print("accuracy estimate: no shadow probes ran (policy accuracy.shadow_probes)")
    console.print(
        f"model's expected false matches among disclosures: {est['model_expected_wrong']:.3f}"
    )
    hold = summary.get("accuracy_hold")
    if hold is not None:
        console.print(f"HELD for a supervisor's release: {hold['reason']}")


def _group_cell(g: GroupFigures) -> str:
    return f"{g['label']} {FLAG}" if g["flagged"] else g["label"]


def _print_coverage(console: Console, cov: Coverage) -> None:
    """Coverage by group in two tables that fit the width, then the ceiling."""
    for table in coverage_tables(cov):
        console.print(table)
    console.print(coverage_note(cov))


def coverage_tables(
    cov: Coverage, title: str = "Coverage by group", *, batches_flagged: bool = False
) -> tuple[Table, Table]:
    """Rows by outcome, then the shadow probes' wrong-address rate and recall; flagged
    groups marked (and, over a year, how many batches flagged each)."""
    outcome_columns = (c.replace("_", " ").lower() for c in ("rows", *COLUMNS))
    outcomes = figures_table(f"{title}: rows by outcome", "group", *outcome_columns)
    extra = ("batches flagged",) if batches_flagged else ()
    probes = figures_table(
        f"{title}: shadow probes",
        "group",
        *("probes", "wrong address", "95 % interval", "recall", *extra),
    )
    for g in cov["groups"]:
        counts = [g["rows"], *(g["outcomes"][c] for c in COLUMNS)]
        outcomes.add_row(_group_cell(g), *(str(n) for n in counts))
        rate, recall = g["wrong_address_rate"], g["recall"]
        probes.add_row(
            _group_cell(g),
            str(g["probes"]),
            percent(rate["estimate"]),
            percent_range(rate),
            percent(recall["estimate"]),
            *((str(g["flagged"]),) if batches_flagged else ()),
        )
    return outcomes, probes


def coverage_note(cov: Coverage) -> str:
    """The line under the coverage tables: the ceiling and the groups it flagged."""
    key = "policy accuracy.group_max_wrong_address"
    if cov["ceiling"] is None:
        return f"no ceiling on a group's wrong-address rate ({key} not set): no group flagged"
    line = f"ceiling on a group's wrong-address rate: {percent(cov['ceiling'])} ({key}); "
    labels = [g["label"] for g in cov["groups"] if g["flagged"]]
    if not labels:
        return line + "no group flagged"
    return (
        line + f"{FLAG} flagged (above it with 95 % confidence; their disclosures went to "
        f"REVIEW): {', '.join(labels)}"
    )


def write_weight_chart(rows: list[tuple[str, str, float]], out: Path) -> None:
    """A self-contained HTML page (inline SVG; no JavaScript, no network) charting
    ``taxmatch.match.report.match_weight_rows``."""
    from taxmatch.console.charts import weight_chart  # the one chart stack, drawn on demand

    write_private_text(
        out,
        "<!doctype html><meta charset='utf-8'><title>taxmatch match weights</title>"
        "<h1>Match weights (log2 m/u) per comparison level</h1>" + str(weight_chart(rows)) + "\n",
    )
