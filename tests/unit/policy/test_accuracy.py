"""The accuracy estimate: Wilson intervals, the summary's shape and the policy floor."""

from __future__ import annotations

from fractions import Fraction
from math import comb

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taxmatch.policy.accuracy import (
    MIN_DISCLOSED_FOR_HOLD,
    ProbeCounts,
    at_least,
    estimate,
    hold_for,
    percent,
    percent_range,
    wilson,
)


@given(st.integers(min_value=1, max_value=100_000), st.floats(min_value=0, max_value=1))
def test_wilson_holds_its_estimate_inside_zero_one(n: int, share: float) -> None:
    hits = round(n * share)
    i = wilson(hits, n)
    assert i["estimate"] == hits / n
    assert i["low"] is not None
    assert i["high"] is not None
    assert 0.0 <= i["low"] <= i["estimate"] <= i["high"] <= 1.0


def test_wilson_known_values() -> None:
    # 0 of 1000: the upper bound is z² / (n + z²), not the normal approximation's 0.
    assert wilson(0, 1000)["high"] == pytest.approx(0.0038267, abs=1e-6)
    mid = wilson(50, 100)
    assert mid["low"] == pytest.approx(0.4038, abs=1e-4)
    assert mid["high"] == pytest.approx(0.5962, abs=1e-4)
    assert wilson(0, 0) == {"estimate": None, "low": None, "high": None}


def test_estimate_has_the_summary_shape() -> None:
    counts = ProbeCounts(
        probes=100, findable=90, disclosed=80, wrong_person=1, wrong_address=2, found=78
    )
    est = estimate(counts, 0.1234567)
    rates = ["wrong_person_rate", "wrong_address_rate", "recall"]
    assert list(est) == ["probes", *rates, "model_expected_wrong"]
    assert est["probes"] == 100
    assert est["wrong_person_rate"]["estimate"] == 1 / 80
    assert est["wrong_address_rate"]["estimate"] == 2 / 80
    assert est["recall"]["estimate"] == 78 / 90
    assert est["model_expected_wrong"] == 0.123457


def test_hold_only_below_the_floor() -> None:
    counts = ProbeCounts(probes=500, findable=450, disclosed=400, wrong_address=10, found=390)
    # precision 0.975
    assert hold_for(counts, None) is None
    assert hold_for(counts, 0.97) is None
    assert hold_for(counts, 0.975) is None
    hold = hold_for(counts, 0.98)
    assert hold is not None
    assert hold["estimated_precision"] == 0.975
    assert hold["min_precision"] == 0.98
    assert "500 shadow probes" in hold["reason"]
    # No disclosure among the probes: no estimate, no hold.
    nothing = ProbeCounts(probes=5, findable=5)
    assert hold_for(nothing, 0.99) is None


def test_no_hold_on_a_handful_of_disclosed_probes() -> None:
    few = ProbeCounts(probes=12, findable=10, disclosed=MIN_DISCLOSED_FOR_HOLD - 1, wrong_address=9)
    assert hold_for(few, 0.99) is None
    enough = ProbeCounts(
        probes=120, findable=110, disclosed=MIN_DISCLOSED_FOR_HOLD, wrong_address=9
    )
    assert hold_for(enough, 0.99) is not None


def _exact_tail(k: int, n: int, p: Fraction) -> Fraction:
    return sum((comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1)), Fraction(0))


@settings(deadline=None, max_examples=60)
@given(
    st.integers(0, 150).flatmap(lambda n: st.tuples(st.integers(0, n + 1), st.just(n))),
    st.sampled_from([0.001, 0.01, 0.05, 0.3, 0.5, 0.9, 0.99]),
)
def test_at_least_is_the_binomial_tail(kn: tuple[int, int], p: float) -> None:
    k, n = kn
    exact = float(_exact_tail(k, n, Fraction(p)))
    assert at_least(k, n, p) == pytest.approx(exact, rel=1e-9, abs=1e-15)


def test_at_least_far_from_the_mean() -> None:
    # Far below the mean the tail is all but certain; far above, all but impossible
    # (a term that underflows must not read as either).
    assert at_least(1, 80_000, 0.01) == 1.0
    assert at_least(1, 2000, 0.5) == 1.0
    assert 0.0 <= at_least(5_000, 80_000, 0.01) < 1e-300
    assert at_least(0, 10, 0.3) == 1.0
    assert at_least(11, 10, 0.3) == 0.0


def test_percent_shows_a_rate_in_percent_and_none_as_n_a() -> None:
    assert percent(None) == "n/a"
    assert percent(0.0125) == "1.25 %"
    assert percent(0.05, 0) == "5 %"
    assert percent(0.123, 1) == "12.3 %"
    assert percent(0.1234, unit="") == "12.34"


@given(st.floats(min_value=0, max_value=1), st.integers(min_value=0, max_value=4))
def test_percent_rounds_to_its_digits(rate: float, digits: int) -> None:
    shown = percent(rate, digits)
    number, unit = shown.split(" ")
    assert unit == "%"
    assert len(number.partition(".")[2]) == digits
    assert abs(float(number) - 100 * rate) <= 0.5 * 10**-digits + 1e-9


@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=1, max_value=10_000))
def test_percent_range_shows_the_interval_low_to_high(hits: int, n: int) -> None:
    rate = wilson(min(hits, n), n)
    low, high = percent_range(rate).split(" – ")
    assert low == percent(rate["low"])
    assert high == percent(rate["high"])
    assert float(low.removesuffix(" %")) <= float(high.removesuffix(" %"))


def test_percent_range_of_nothing_counted_is_n_a() -> None:
    assert percent_range(wilson(0, 0)) == "n/a"
