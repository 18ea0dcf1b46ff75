"""The evaluation of a package as tables for people: counts and rates, overall and per
stratum, the validation and confusion tables and the reason codes. Never a value of a
record: ``taxmatch.pipeline.evaluate`` hands over counts only.
"""

from __future__ import annotations

from io import StringIO

from rich.console import Console
from rich.table import Table

from taxmatch.contracts import Outcome
from taxmatch.pipeline.evaluate_result import MISSING, REJECTED, Evaluation, Metrics


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f} %"


def _n(value: int | None) -> str:
    return "n/a" if value is None else f"{value:,}"


def _groups(ev: Evaluation) -> list[tuple[str, Metrics]]:
    return [("overall", ev.overall), *((f"  {t}", m) for t, m in ev.strata.items())]


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
    buf = StringIO()
    console = Console(file=buf, width=200, force_terminal=False, color_system=None)
    console.print(f"evaluation of batch {ev.batch_id}: {ev.overall.rows:,} truth rows joined")
    console.print(_PERSON_NOTE[ev.person_check])
    acc = Table(title="Disclosures", title_justify="left")
    acc.add_column("group", no_wrap=True)
    for name in (
        "rows",
        "disclosed",
        "right",
        "wrong person",
        "old address",
        "unattributed",
        "incomplete",
        "precision",
        "wrong addr",
        "wrong person",
        "findable",
        "recall",
        "pending",
    ):
        acc.add_column(name, justify="right")
    for group, m in _groups(ev):
        acc.add_row(
            group,
            _n(m.rows),
            _n(m.disclosed),
            _n(m.right),
            _n(m.wrong_person),
            _n(m.right_person_not_latest),
            _n(m.unattributed),
            _n(m.incomplete),
            _pct(m.precision),
            _pct(m.wrong_address_rate),
            _pct(m.wrong_person_rate),
            _n(m.findable),
            _pct(m.recall),
            _n(m.pending),
        )
    console.print(acc)
    console.print(_LEGEND)
    val = Table(
        title="Validation: rejected vs expected REJECTED (strata that disagree)",
        title_justify="left",
    )
    val.add_column("group", no_wrap=True)
    for name in (
        "expected",
        "rejected",
        "both",
        "same codes",
        "precision",
        "recall",
        "code agreement",
    ):
        val.add_column(name, justify="right")
    for group, m in _groups(ev):
        agree = m.expected_rejected == m.rejected == m.both_rejected == m.codes_equal
        if group == "overall" or not agree:
            val.add_row(
                group,
                _n(m.expected_rejected),
                _n(m.rejected),
                _n(m.both_rejected),
                _n(m.codes_equal),
                _pct(m.rejection_precision),
                _pct(m.rejection_recall),
                _pct(m.code_agreement),
            )
    console.print(val)
    console.print(_confusion_table(ev))
    if ev.reason_codes:
        codes = Table(title="Reason codes", title_justify="left")
        for name in ("code", "expected", "reported", "both"):
            codes.add_column(name, justify="left" if name == "code" else "right")
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
    return buf.getvalue().rstrip()


_ORDER = [REJECTED, *(o.value for o in Outcome), MISSING]


def _confusion_table(ev: Evaluation) -> Table:
    seen = {got for row in ev.confusion.values() for got in row}
    cols = [c for c in _ORDER if c in seen] + sorted(seen - set(_ORDER))
    table = Table(
        title="Expected outcome (rows) vs package outcome (columns)", title_justify="left"
    )
    table.add_column("expected")
    for c in cols:
        table.add_column(c, justify="right")
    for expected, row in ev.confusion.items():
        table.add_row(expected, *(_n(row.get(c, 0)) for c in cols))
    return table
