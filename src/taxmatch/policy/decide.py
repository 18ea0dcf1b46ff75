"""The disclosure decision for one validated record. Pure.

A matcher summarises what it found about a record as a ``MatchSummary``; ``decide`` turns
that into an outcome of docs/domain.md. The order of the rules is the law's order of concern:
no confident unique person means nobody's address goes out; a person the custodian may
not disclose about is never disclosed; an address must come from the requested periods
and be recent enough.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from taxmatch.contracts import Outcome
from taxmatch.policy.model import Policy


@dataclass(frozen=True, slots=True)
class MatchSummary:
    """What a matcher found for one record."""

    candidates: int  # distinct persons at or above the review threshold
    score: float  # match probability of the best person (0 when none)
    margin_log2: float  # best person's match weight minus the runner-up's (inf when alone)
    first_name_agrees: bool  # exact, nickname, or initial where the file has only an initial
    address_corroborated: bool  # the requester's address is in the person's address history
    filing_year: int | None  # the person's latest filing within the requested periods
    ineligible: bool  # deceased, TIN flagged, or on the custodian's hold list
    # The request's date of birth or suffix contradicts the person's: another person.
    identifier_conflict: bool = False
    # The person files with a generational suffix the request does not give, and no date
    # of birth confirms them: the same-name father or son may be the one asked about.
    suffix_unconfirmed: bool = False
    # The filing's address is complete enough to deliver (house or box, street, ZIP).
    address_usable: bool = True


NO_CANDIDATE = MatchSummary(0, 0.0, 0.0, False, False, None, False)


def address_age_years(tax_year: int, as_of: date) -> float:
    """Age of the address on a tax year's filing, counted from the end of that year."""
    return (as_of - date(tax_year, 12, 31)).days / 365.25


def decide(m: MatchSummary, policy: Policy, as_of: date) -> Outcome:
    rules = policy.matching
    if m.candidates == 0 or m.score < rules.review_threshold:
        return Outcome.NO_MATCH
    if m.candidates > 1 or m.margin_log2 < rules.min_margin_log2:
        return Outcome.AMBIGUOUS
    if not (m.first_name_agrees and m.address_corroborated) or m.identifier_conflict:
        # A name + identifier hit without the requester's address never discloses; nor
        # does a person whose date of birth or suffix contradicts the request.
        return Outcome.NO_MATCH
    if m.suffix_unconfirmed:
        return Outcome.AMBIGUOUS
    if m.score < rules.disclose_threshold:
        return Outcome.REVIEW
    if m.ineligible:
        return Outcome.INELIGIBLE
    if m.filing_year is None:
        return Outcome.NO_FILING_IN_PERIOD
    if not m.address_usable:
        return Outcome.REVIEW  # an officer looks at an address the file cannot deliver
    if address_age_years(m.filing_year, as_of) > rules.max_address_age_years:
        return Outcome.STALE
    return Outcome.DISCLOSED
