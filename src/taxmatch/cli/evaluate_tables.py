"""The evaluation of a package as tables for people. Never a value of a record:
``taxmatch.pipeline.evaluate`` hands over counts only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.table import Table

from taxmatch.cli.render import COVERS, figures_table, text_console, text_of
from taxmatch.contracts import Outcome
from taxmatch.pipeline.evaluate_result import (
    ESTIMATED,
    MISSING,
    REJECTED,
    Evaluation,
    Metrics,
    estimate_covers,
    group_covers,
    group_estimates,
)
from taxmatch.policy.accuracy import percent, percent_range


def _n(value: int | None) -> str:
    return "n/a" if value is None else f"{value:,}"


def _groups(ev: Evaluation) -> list[tuple[str, Metrics]]:
    return [("overall", ev.overall), *((f"  {t}", m) for t, m in ev.strata.items())]


# (column, ``Metrics`` attribute, format) of the disclosure and validation tables.
_Columns = tuple[tuple[str, str, Callable[[Any], str]], ...]
_DISCLOSURES: _Columns = (
    ("rows", "rows", _n),
    ("disclosed", "disclosed", _n),
    ("right", "right", _n),
    ("wrong person", "wrong_person", _n),
    ("old address", "right_person_not_latest", _n),
    ("unattributed", "unattributed", _n),
    ("incomplete", "incomplete", _n),
    ("precision", "precision", percent),
    ("wrong addr", "wrong_address_rate", percent),
    ("wrong person", "wrong_person_rate", percent),
    ("findable", "findable", _n),
    ("recall", "recall", percent),
    ("pending", "pending", _n),
)
_VALIDATION: _Columns = (
    ("expected", "expected_rejected", _n),
    ("rejected", "rejected", _n),
    ("both", "both_rejected", _n),
    ("same codes", "codes_equal", _n),
    ("precision", "rejection_precision", percent),
    ("recall", "rejection_recall", percent),
    ("code agreement", "code_agreement", percent),
)


def _headings(columns: _Columns) -> list[str]:
    return [name for name, _, _ in columns]


_LEGEND = (
    "right: address equals truth (street line, unit, ZIP5) · old address: right person, "
    "another address · incomplete: disclosed address lacks a house number, street or ZIP · "
    "precision = right / disclosed · wrong addr = 1 - precision · wrong person = wrong "
    "person / disclosed · recall = right / findable (truth says DISCLOSED)"
)
_PERSON_NOTE = {
    "store": "person check: the state database's person keys against the true person's TINs",
    "address": (
        "person check: address only (no --store): a wrong address where truth says NO_MATCH "
        "counts as the wrong person; other wrong addresses are not attributed"
    ),
}


def render_evaluation(ev: Evaluation) -> str:
    """Tables of counts and rates, overall and per stratum. Never a value of a record."""
    console = text_console(width=200)
    console.print(f"evaluation of batch {ev.batch_id}: {ev.overall.rows:,} truth rows joined")
    console.print(_PERSON_NOTE[ev.person_check])
    acc = figures_table("Disclosures", "group", *_headings(_DISCLOSURES), no_wrap=True)
    for group, m in _groups(ev):
        acc.add_row(group, *(fmt(getattr(m, attr)) for _, attr, fmt in _DISCLOSURES))
    console.print(acc)
    console.print(_LEGEND)
    title = "Validation: rejected vs expected REJECTED (strata that disagree)"
    val = figures_table(title, "group", *_headings(_VALIDATION), no_wrap=True)
    for group, m in _groups(ev):
        agree = m.expected_rejected == m.rejected == m.both_rejected == m.codes_equal
        if group == "overall" or not agree:
            val.add_row(group, *(fmt(getattr(m, attr)) for _, attr, fmt in _VALIDATION))
    console.print(val)
    console.print(_confusion_table(ev))
    if ev.estimate is not None and ev.estimate["probes"]:
        console.print(_estimate_table(ev))
    if ev.groups:
        console.print(_group_table(ev))
    if ev.reason_codes:
        codes = figures_table("Reason codes", "code", "expected", "reported", "both")
        for code, c in ev.reason_codes.items():
            codes.add_row(code, _n(c.expected), _n(c.reported), _n(c.both))
        console.print(codes)
    generated = ", ".join(f"{k} {v:,}" for k, v in ev.generated_ids.items()) or "none"
    console.print(f"package rows under a generated id (not joinable to truth): {generated}")
    console.print(
        f"truth rows with an empty or repeated request_id: {ev.truth_unjoinable:,} · "
        f"truth rows missing from the package: {ev.truth_not_in_package:,} · "
        f"package rows not in the truth: {ev.package_not_in_truth:,}"
    )
    return text_of(console)


_ORDER = [REJECTED, *(o.value for o in Outcome), MISSING]


def _confusion_table(ev: Evaluation) -> Table:
    seen = {got for row in ev.confusion.values() for got in row}
    cols = [c for c in _ORDER if c in seen] + sorted(seen - set(_ORDER))
    title = "Expected outcome (rows) vs package outcome (columns)"
    table = figures_table(title, "expected", *cols)
    for expected, row in ev.confusion.items():
        table.add_row(expected, *(_n(row.get(c, 0)) for c in cols))
    return table


def _estimate_table(ev: Evaluation) -> Table:
    """The package's own estimate (its shadow probes) beside what the truth measures."""
    assert ev.estimate is not None
    title = f"The batch's own estimate ({ev.estimate['probes']:,} shadow probes) vs measured"
    table = figures_table(title, "rate", "measured", "estimate", "95 % interval", "covers")
    covers = estimate_covers(ev)
    for name in ESTIMATED:
        est = ev.estimate[name]
        measured = percent(getattr(ev.overall, name))
        cells = (measured, percent(est["estimate"]), percent_range(est), COVERS[covers[name]])
        table.add_row(name.replace("_", " "), *cells)
    return table


def _group_table(ev: Evaluation) -> Table:
    """Measured rates by coverage group beside the batch's own estimate of them."""
    table = figures_table(
        "By coverage group: measured vs the batch's estimate (and its 95 % interval)",
        "group",
        *("rows", "disclosed", "wrong address", "estimate", "covers"),
        *("recall ", "estimate ", "covers "),  # a space sets the recall columns apart
    )
    figures, covered = group_estimates(ev), group_covers(ev)
    for group, m in ev.groups.items():
        cells = [group, _n(m.rows), _n(m.disclosed)]
        for rate in ("wrong_address_rate", "recall"):
            est = figures[group][rate] if group in figures else None
            shown = "n/a" if est is None else f"{percent(est['estimate'])} ({percent_range(est)})"
            cells += [percent(getattr(m, rate)), shown, COVERS[covered[group][rate]]]
        table.add_row(*cells)
    return table
