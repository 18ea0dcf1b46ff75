"""The disclosure decision rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from taxmatch.contracts import Outcome
from taxmatch.policy.decide import NO_CANDIDATE, MatchSummary, address_age_years, decide
from taxmatch.policy.model import Policy

AS_OF = date(2026, 11, 30)
CONFIDENT = MatchSummary(1, 0.9999, 20.0, True, True, 2024, False)


@pytest.mark.parametrize(
    ("summary", "outcome"),
    [
        (CONFIDENT, Outcome.DISCLOSED),
        (NO_CANDIDATE, Outcome.NO_MATCH),
        (replace(CONFIDENT, score=0.5), Outcome.NO_MATCH),
        (replace(CONFIDENT, candidates=2), Outcome.AMBIGUOUS),
        (replace(CONFIDENT, margin_log2=1.0), Outcome.AMBIGUOUS),
        (replace(CONFIDENT, score=0.99), Outcome.REVIEW),
        (replace(CONFIDENT, ineligible=True), Outcome.INELIGIBLE),
        (replace(CONFIDENT, filing_year=None), Outcome.NO_FILING_IN_PERIOD),
        (replace(CONFIDENT, filing_year=2021), Outcome.STALE),
        (replace(CONFIDENT, filing_year=2023), Outcome.DISCLOSED),
    ],
)
def test_decide(policy: Policy, summary: MatchSummary, outcome: Outcome) -> None:
    assert decide(summary, policy, AS_OF) is outcome


def test_antipattern_1_name_and_tin_without_address_never_discloses(policy: Policy) -> None:
    """Anti-pattern 1: releasing on a name + TIN hit without comparing addresses."""
    hit = replace(CONFIDENT, address_corroborated=False, score=1.0)
    assert decide(hit, policy, AS_OF) is not Outcome.DISCLOSED


def test_household_member_with_other_first_name_never_discloses(policy: Policy) -> None:
    assert decide(replace(CONFIDENT, first_name_agrees=False), policy, AS_OF) is Outcome.NO_MATCH


def test_address_age() -> None:
    assert address_age_years(2023, AS_OF) == pytest.approx(2.92, abs=0.01)
    assert address_age_years(2022, AS_OF) > 3


def test_conflicting_identifier_never_discloses(policy: Policy) -> None:
    """A date of birth or suffix that contradicts the person's: another person."""
    assert decide(replace(CONFIDENT, identifier_conflict=True), policy, AS_OF) is Outcome.NO_MATCH


def test_unconfirmed_suffix_is_ambiguous(policy: Policy) -> None:
    """The file says JR, the request says nothing and gives no date of birth."""
    got = decide(replace(CONFIDENT, suffix_unconfirmed=True), policy, AS_OF)
    assert got is Outcome.AMBIGUOUS


def test_undeliverable_address_is_held_for_review(policy: Policy) -> None:
    assert decide(replace(CONFIDENT, address_usable=False), policy, AS_OF) is Outcome.REVIEW
