"""The result of an evaluation: its frozen types and its JSON document.

``taxmatch.pipeline.evaluate`` fills these; the CLI prints them (``taxmatch.cli.
evaluate_tables`` for people, ``evaluation_dict`` for machines). Everything here is a
count, a rate or an id of a stratum or batch: no value of any record can reach it.
Rates whose denominator is zero are None (JSON null, printed "n/a").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Literal, cast

from taxmatch.contracts import Outcome
from taxmatch.policy.accuracy import AccuracyEstimate, Interval
from taxmatch.policy.coverage import Coverage, GroupFigures

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
    # The package's own estimate (its shadow probes), to set beside what the truth measures.
    estimate: AccuracyEstimate | None = None
    # By coverage group (from the batch's workspace, with a store), and the package's own
    # coverage table to set beside them.
    groups: dict[str, Metrics] = field(default_factory=dict)
    coverage: Coverage | None = None


ESTIMATED: tuple[Literal["wrong_person_rate", "wrong_address_rate", "recall"], ...] = (
    "wrong_person_rate",
    "wrong_address_rate",
    "recall",
)


def covers(measured: Metrics, estimated: Mapping[str, Interval] | None) -> dict[str, bool | None]:
    """Whether each rate ``estimated`` has the ``measured`` rate inside its 95 % interval
    (None where either side is missing)."""
    out: dict[str, bool | None] = {}
    for name in ESTIMATED:
        rate = getattr(measured, name)
        est = estimated.get(name) if estimated is not None else None
        low, high = (est["low"], est["high"]) if est is not None else (None, None)
        known = rate is not None and low is not None and high is not None
        out[name] = low <= rate <= high if known else None
    return out


def estimate_covers(ev: Evaluation) -> dict[str, bool | None]:
    """``covers`` for the whole batch."""
    return covers(ev.overall, cast("Mapping[str, Interval] | None", ev.estimate))


def group_estimates(ev: Evaluation) -> dict[str, GroupFigures]:
    """The package's coverage figures of each group the truth measured."""
    figures = {g["group"]: g for g in ev.coverage["groups"]} if ev.coverage else {}
    return {name: figures[name] for name in ev.groups if name in figures}


def group_covers(ev: Evaluation) -> dict[str, dict[str, bool | None]]:
    """``covers`` for each coverage group the truth measured."""
    figures = group_estimates(ev)
    return {
        name: covers(m, cast("Mapping[str, Interval] | None", figures.get(name)))
        for name, m in ev.groups.items()
    }


@dataclass(frozen=True, slots=True)
class RowResult:
    """How one joined truth row came out."""

    expected: str
    got: str  # an Outcome value, REJECTED or MISSING
    right: bool
    person: Person | None  # None unless disclosed
    codes_equal: bool
    incomplete: bool = False  # disclosed an address that does not parse (no house, no ZIP…)


def tally(n: Counter[str], r: RowResult) -> None:
    """Count ``r`` into ``n``, the running counts of one group of rows by the names of
    ``Metrics``' fields."""
    n["rows"] += 1
    n["findable"] += r.expected == Outcome.DISCLOSED
    n["pending"] += r.got == Outcome.REVIEW
    n["expected_rejected"] += r.expected == REJECTED
    n["rejected"] += r.got == REJECTED
    both = r.expected == REJECTED and r.got == REJECTED
    n["both_rejected"] += both
    n["codes_equal"] += both and r.codes_equal
    if r.got != Outcome.DISCLOSED:
        return
    n["disclosed"] += 1
    n["right"] += r.right
    n["found"] += r.right and r.expected == Outcome.DISCLOSED
    n["wrong_person"] += r.person == "wrong"
    n["right_person_not_latest"] += r.person == "right" and not r.right
    n["right_address_wrong_person"] += r.person == "wrong" and r.right
    n["unattributed"] += r.person == "unknown" and not r.right
    n["incomplete"] += r.incomplete


def metrics(n: Counter[str], check: PersonCheck) -> Metrics:
    """``n`` as ``Metrics``; the counts that need the person checked are None without."""
    m = Metrics(**{f.name: n[f.name] for f in fields(Metrics)})
    if check == "address":
        return replace(m, right_person_not_latest=None, right_address_wrong_person=None)
    return m


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


# --- the JSON document -------------------------------------------------------------------------

_RATES = tuple(name for name, v in vars(Metrics).items() if isinstance(v, property))


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
        "accuracy_estimate": ev.estimate,
        "estimate_covers": estimate_covers(ev),
        "groups": {name: metrics_dict(m) for name, m in ev.groups.items()},
        "group_covers": group_covers(ev),
        "not_joined": {
            "generated_ids": ev.generated_ids,
            "truth_unjoinable": ev.truth_unjoinable,
            "truth_not_in_package": ev.truth_not_in_package,
            "package_not_in_truth": ev.package_not_in_truth,
        },
    }
