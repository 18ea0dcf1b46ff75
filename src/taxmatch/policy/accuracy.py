"""A batch's accuracy estimate from its shadow probes, and the policy floor on it. Pure.

Shadow probes (``taxmatch.pipeline.probes``) are known-answer requests built from the
master file and run through the batch's matcher and decision rule. Their counts become
rates with 95 % Wilson score intervals; ``model_expected_wrong`` is Σ(1 − p) over the
batch's disclosures, the false matches the model itself expects. Counts and rates only:
nothing here can hold a value of a record.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from math import exp, lgamma, log, log1p, sqrt

from typing_extensions import TypedDict  # pydantic validates typing's only from 3.12

Z95 = 1.959963984540054  # the standard normal's 97.5th percentile
# A floor is not judged on fewer disclosed probes: one wrong of a handful is noise (a
# reference of a few dozen people), not a measurement.
MIN_DISCLOSED_FOR_HOLD = 100


class Interval(TypedDict):
    """A rate as a fraction with its 95 % interval; all None when nothing was counted."""

    estimate: float | None
    low: float | None
    high: float | None


class AccuracyEstimate(TypedDict):
    """``summary.json``'s ``accuracy_estimate``."""

    probes: int
    wrong_person_rate: Interval
    wrong_address_rate: Interval
    recall: Interval
    model_expected_wrong: float


class AccuracyHold(TypedDict):
    """``summary.json``'s ``accuracy_hold``: why the batch's disclosures wait for a
    supervisor's release."""

    reason: str
    min_precision: float
    estimated_precision: float


@dataclass(frozen=True, slots=True)
class ProbeCounts:
    """How a batch's shadow probes came out. ``findable``: probes of a person in the
    master with a deliverable address in the requested periods (the rest name nobody)."""

    probes: int = 0
    findable: int = 0
    disclosed: int = 0
    wrong_person: int = 0
    wrong_address: int = 0  # disclosures whose address is not the person's (wrong person too)
    found: int = 0  # right disclosures of findable probes


def total(counts: Iterable[ProbeCounts]) -> ProbeCounts:
    """The sum of ``counts``, field by field."""
    names = [f.name for f in fields(ProbeCounts)]
    sums = dict.fromkeys(names, 0)
    for c in counts:
        for name in names:
            sums[name] += getattr(c, name)
    return ProbeCounts(**sums)


def _pmf(i: int, n: int, p: float) -> float:
    """P(X = i) for X ~ Binomial(n, p), from logs (no overflow for large n)."""
    return exp(lgamma(n + 1) - lgamma(i + 1) - lgamma(n - i + 1) + i * log(p) + (n - i) * log1p(-p))


def at_least(k: int, n: int, p: float) -> float:
    """P(X ≥ k) for X ~ Binomial(n, p): the chance of ``k`` or more hits in ``n`` trials
    at rate ``p``. The smaller tail is summed term by term away from the mean (above
    it: P(X ≥ k); below it: 1 − P(X < k)), so a tiny tail keeps its digits and a term
    far from the mean that underflows to 0 is one that does not count."""
    if k <= 0 or p >= 1.0:
        return 1.0
    if k > n or p <= 0.0:
        return 0.0
    upper = k > n * p
    i, step = (k, 1) if upper else (k - 1, -1)
    term, tail = _pmf(i, n, p), 0.0
    while 0 <= i <= n:
        tail += term
        # the next term away from the mean: P(X = i + 1) or P(X = i - 1) from P(X = i)
        term *= (n - i) / (i + 1) * p / (1 - p) if upper else i / (n - i + 1) * (1 - p) / p
        i += step
        if term <= tail * 1e-17:
            break
    return min(1.0, tail) if upper else max(0.0, 1.0 - tail)


def wilson(hits: int, n: int, z: float = Z95) -> Interval:
    """``hits / n`` with its Wilson score interval (good near 0 and 1, unlike the
    normal approximation, which gives a zero-width interval for 0 of n)."""
    if n <= 0:
        return {"estimate": None, "low": None, "high": None}
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # At 0 or n the bound is exactly 0 or 1; rounding would leave it a hair inside.
    low = 0.0 if hits == 0 else max(0.0, min(p, centre - half))
    high = 1.0 if hits == n else min(1.0, max(p, centre + half))
    return {"estimate": p, "low": low, "high": high}


def percent(value: float | None, digits: int = 2, unit: str = " %") -> str:
    """A rate as a percentage ("1.25 %"), as every report shows one; "n/a" when there is none."""
    return "n/a" if value is None else f"{100 * value:.{digits}f}{unit}"


def percent_range(rate: Interval) -> str:
    """A rate's 95 % interval as "low – high" in percent; "n/a" when nothing was counted."""
    return "n/a" if rate["low"] is None else f"{percent(rate['low'])} – {percent(rate['high'])}"


def estimate(counts: ProbeCounts, model_expected_wrong: float) -> AccuracyEstimate:
    return {
        "probes": counts.probes,
        "wrong_person_rate": wilson(counts.wrong_person, counts.disclosed),
        "wrong_address_rate": wilson(counts.wrong_address, counts.disclosed),
        "recall": wilson(counts.found, counts.findable),
        "model_expected_wrong": round(model_expected_wrong, 6),
    }


def hold_for(counts: ProbeCounts, min_precision: float | None) -> AccuracyHold | None:
    """The hold a batch is under when its estimated precision (1 − the wrong-address
    rate among the probes' disclosures) is below the policy's floor; None otherwise: no
    floor, or fewer than ``MIN_DISCLOSED_FOR_HOLD`` probes disclosed."""
    if min_precision is None or counts.disclosed < MIN_DISCLOSED_FOR_HOLD:
        return None
    precision = round(1 - counts.wrong_address / counts.disclosed, 6)
    if precision >= min_precision:
        return None
    return {
        "reason": (
            f"estimated precision {precision:.4f} from {counts.probes} shadow probes is below "
            f"the policy floor accuracy.min_precision {min_precision:.4f}"
        ),
        "min_precision": min_precision,
        "estimated_precision": precision,
    }
