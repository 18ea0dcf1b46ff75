"""The result of an evaluation: its frozen types, a table for people and a JSON document.

``taxmatch.pipeline.evaluate`` fills these; the CLI prints them. Everything here is a
count, a rate or an id of a stratum or batch: no value of any record can reach it.
Rates whose denominator is zero are None (JSON null, printed "n/a").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from io import StringIO
from typing import Literal

from rich.console import Console
from rich.table import Table

from taxmatch.contracts import Outcome

EVALUATION_SCHEMA = "taxmatch/evaluation/v1"

REJECTED = "REJECTED"  # the "outcome" of a rejected record, as truth files spell it
MISSING = "MISSING"  # a truth row the package does not report at all
EXPECTED_OUTCOMES = frozenset({REJECTED, *(o.value for o in Outcome)})
PersonCheck = Literal["store", "address"]
Person = Literal["right", "wrong", "unknown"]


@dataclass(frozen=True, slots=True)
class Metrics:
    """Counts for one group of joined truth rows (the whole file or one stratum).

    ``right_person_not_latest`` and ``right_address_wrong_person`` are None when the
    person could not be checked (no store). ``unattributed`` counts wrong-address
    disclosures whose person could not be told.
    """

    rows: int = 0
    disclosed: int = 0
    right: int = 0
    wrong_person: int = 0
    right_person_not_latest: int | None = 0
    right_address_wrong_person: int | None = 0
    unattributed: int = 0
    incomplete: int = 0  # disclosed addresses that do not parse as a complete address
    findable: int = 0  # truth says DISCLOSED
    found: int = 0  # right disclosures on findable rows (the numerator of recall)
    pending: int = 0
    expected_rejected: int = 0
    rejected: int = 0
    both_rejected: int = 0
    codes_equal: int = 0  # both rejected, same set of reason codes

    @property
    def precision(self) -> float | None:
        return _ratio(self.right, self.disclosed)

    @property
    def wrong_address_rate(self) -> float | None:
        return _ratio(self.disclosed - self.right, self.disclosed)

    @property
    def wrong_person_rate(self) -> float | None:
        return _ratio(self.wrong_person, self.disclosed)

    @property
    def recall(self) -> float | None:
        """Recall of findable people: right disclosures on rows truth says to disclose,
        over those rows. A right address on a row truth says not to disclose (the
        requester's address is not on file, say) counts for precision, never for recall."""
        return _ratio(self.found, self.findable)

    @property
    def rejection_precision(self) -> float | None:
        return _ratio(self.both_rejected, self.rejected)

    @property
    def rejection_recall(self) -> float | None:
        return _ratio(self.both_rejected, self.expected_rejected)

    @property
    def code_agreement(self) -> float | None:
        return _ratio(self.codes_equal, self.both_rejected)


@dataclass(frozen=True, slots=True)
class CodeAgreement:
    """One reason code over the joined rows: expected, reported and both."""

    expected: int
    reported: int
    both: int


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The accuracy of one package. Counts and ids only; never a value of a record."""

    batch_id: str
    person_check: PersonCheck
    overall: Metrics
    strata: dict[str, Metrics]
    confusion: dict[str, dict[str, int]]  # expected outcome -> package outcome -> rows
    reason_codes: dict[str, CodeAgreement]
    generated_ids: dict[str, int]  # package rows under "#row-N", by package outcome
    truth_unjoinable: int  # truth rows with an empty or repeated request_id
    truth_not_in_package: int
    package_not_in_truth: int


@dataclass(frozen=True, slots=True)
class RowResult:
    """How one joined truth row came out."""

    expected: str
    got: str  # an Outcome value, REJECTED or MISSING
    right: bool
    person: Person | None  # None unless disclosed
    codes_equal: bool
    incomplete: bool = False  # disclosed an address that does not parse (no house, no ZIP…)


@dataclass(slots=True)
class Tally:
    rows: int = 0
    disclosed: int = 0
    right: int = 0
    wrong_person: int = 0
    right_person_not_latest: int = 0
    right_address_wrong_person: int = 0
    unattributed: int = 0
    incomplete: int = 0
    findable: int = 0
    found: int = 0
    pending: int = 0
    expected_rejected: int = 0
    rejected: int = 0
    both_rejected: int = 0
    codes_equal: int = 0

    def add(self, r: RowResult) -> None:
        self.rows += 1
        self.findable += r.expected == Outcome.DISCLOSED
        self.pending += r.got == Outcome.REVIEW
        self.expected_rejected += r.expected == REJECTED
        self.rejected += r.got == REJECTED
        both = r.expected == REJECTED and r.got == REJECTED
        self.both_rejected += both
        self.codes_equal += both and r.codes_equal
        if r.got != Outcome.DISCLOSED:
            return
        self.disclosed += 1
        self.right += r.right
        self.found += r.right and r.expected == Outcome.DISCLOSED
        self.wrong_person += r.person == "wrong"
        self.right_person_not_latest += r.person == "right" and not r.right
        self.right_address_wrong_person += r.person == "wrong" and r.right
        self.unattributed += r.person == "unknown" and not r.right
        self.incomplete += r.incomplete

    def freeze(self, check: PersonCheck) -> Metrics:
        values = {f.name: getattr(self, f.name) for f in fields(Metrics)}
        if check == "address":
            values.update(right_person_not_latest=None, right_address_wrong_person=None)
        return Metrics(**values)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


# --- rendering -------------------------------------------------------------------------

_RATES = (
    "precision",
    "wrong_address_rate",
    "wrong_person_rate",
    "recall",
    "rejection_precision",
    "rejection_recall",
    "code_agreement",
)


def metrics_dict(m: Metrics) -> dict[str, object]:
    """Counts and rates of one group, as the JSON document gives them."""
    return {**asdict(m), **{name: getattr(m, name) for name in _RATES}}


def evaluation_dict(ev: Evaluation) -> dict[str, object]:
    """The evaluation as a JSON-ready document (schema ``taxmatch/evaluation/v1``)."""
    return {
        "schema": EVALUATION_SCHEMA,
        "batch_id": ev.batch_id,
        "person_check": ev.person_check,
        "overall": metrics_dict(ev.overall),
        "strata": {tag: metrics_dict(m) for tag, m in ev.strata.items()},
        "confusion": ev.confusion,
        "reason_codes": {code: asdict(c) for code, c in ev.reason_codes.items()},
        "not_joined": {
            "generated_ids": ev.generated_ids,
            "truth_unjoinable": ev.truth_unjoinable,
            "truth_not_in_package": ev.truth_not_in_package,
            "package_not_in_truth": ev.package_not_in_truth,
        },
    }


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
    for name in ("rows", "disclosed", "right", "wrong person", "old address", "unattributed",
                 "incomplete", "precision", "wrong addr", "wrong person", "findable", "recall",
                 "pending"):  # fmt: skip
        acc.add_column(name, justify="right")
    for group, m in _groups(ev):
        acc.add_row(
            group, _n(m.rows), _n(m.disclosed), _n(m.right), _n(m.wrong_person),
            _n(m.right_person_not_latest), _n(m.unattributed), _n(m.incomplete),
            _pct(m.precision),
            _pct(m.wrong_address_rate), _pct(m.wrong_person_rate), _n(m.findable),
            _pct(m.recall), _n(m.pending),
        )  # fmt: skip
    console.print(acc)
    console.print(_LEGEND)
    val = Table(
        title="Validation: rejected vs expected REJECTED (strata that disagree)",
        title_justify="left",
    )
    val.add_column("group", no_wrap=True)
    for name in ("expected", "rejected", "both", "same codes", "precision", "recall",
                 "code agreement"):  # fmt: skip
        val.add_column(name, justify="right")
    for group, m in _groups(ev):
        agree = m.expected_rejected == m.rejected == m.both_rejected == m.codes_equal
        if group == "overall" or not agree:
            val.add_row(
                group, _n(m.expected_rejected), _n(m.rejected), _n(m.both_rejected),
                _n(m.codes_equal), _pct(m.rejection_precision), _pct(m.rejection_recall),
                _pct(m.code_agreement),
            )  # fmt: skip
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
