"""The policy: the custodian's rules, versioned and hashed. Pure: parses text, no I/O.

A policy decides what a valid request is and when a match may be disclosed. It is the
custodian's, never the requester's, and every decision records the policy's version and
sha256 so it can be reproduced.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from taxmatch.normalise.statutes import normalise_statute

DisclosureField = Literal["street_address", "unit", "city", "state", "zip", "tax_year"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AgencyPolicy(_Strict):
    authorised_titles: tuple[str, ...] = Field(min_length=1)
    safeguards_certified_until: date
    max_records_per_officer: int = Field(ge=1)


class TaxPeriodPolicy(_Strict):
    lookback_years: int = Field(ge=0, le=50)


class RemovalOrderPolicy(_Strict):
    min_age_days: int = Field(ge=0)


class RelevancePolicy(_Strict):
    min_words: int = Field(ge=1)
    max_identical_share: float = Field(gt=0, le=1)


class MatchingPolicy(_Strict):
    disclose_threshold: float = Field(gt=0, le=1)
    review_threshold: float = Field(gt=0, le=1)
    min_margin_log2: float = Field(ge=0)
    max_address_age_years: float = Field(gt=0)


class DisclosurePolicy(_Strict):
    fields: tuple[DisclosureField, ...]
    phone: bool = False


class ReviewPolicy(_Strict):
    # A release of reviewed rows from a batch of more input rows than this needs a second
    # person (a supervisor who neither prepared it nor decided its rows): the two-person rule.
    batch_release_threshold: int = Field(default=1000, ge=0)


class ConsolePolicy(_Strict):
    # Log-in lockout and session idling of the oversight console (docs/console.md).
    lock_after: int = Field(default=5, ge=1, le=100)  # failed log-ins in a row
    lock_minutes: int = Field(default=15, ge=1, le=24 * 60)
    idle_minutes: int = Field(default=30, ge=1, le=8 * 60)  # a session unused this long ends


class LookupsPolicy(_Strict):
    # A lookup sent without an envelope runs under the envelope (the signed attestation)
    # of the agency's latest batch only when this is true; otherwise it is refused (422).
    # Off unless a policy says so: the packaged policy does (docs/api.md).
    reuse_last_envelope: bool = False


class AccuracyPolicy(_Strict):
    # Known-answer requests run beside every batch (docs/accuracy.md); 0 turns them off.
    shadow_probes: int = Field(default=0, ge=0, le=100_000)
    # A batch whose estimated precision is below this is held for a supervisor's release.
    min_precision: float | None = Field(default=None, gt=0, le=1)
    # A coverage group whose probes' wrong-address rate is above this with 95 %
    # confidence is flagged, and its disclosures go to REVIEW (docs/accuracy.md).
    group_max_wrong_address: float | None = Field(default=None, ge=0, lt=1)


class LimitsPolicy(_Strict):
    max_field_length: int = Field(default=1000, ge=16)


class Policy(_Strict):
    version: str = Field(min_length=1)
    agencies: dict[str, AgencyPolicy] = Field(min_length=1)
    statutes: tuple[str, ...] = Field(min_length=1)
    tax_periods: TaxPeriodPolicy
    removal_order: RemovalOrderPolicy
    relevance: RelevancePolicy
    matching: MatchingPolicy
    disclosure: DisclosurePolicy
    limits: LimitsPolicy = LimitsPolicy()
    review: ReviewPolicy = ReviewPolicy()
    console: ConsolePolicy = ConsolePolicy()
    lookups: LookupsPolicy = LookupsPolicy()
    accuracy: AccuracyPolicy = AccuracyPolicy()

    @field_validator("statutes")
    @classmethod
    def _statutes_normalise(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for raw in value:
            norm = normalise_statute(raw)
            if norm is None:
                raise ValueError("a statute on the allow-list cannot be parsed")
            out.append(norm)
        return tuple(out)


class PolicyIssue(ValueError):
    """The policy text fails its schema; ``key`` names the offending key."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


def parse_policy(text: str) -> Policy:
    """Parse and check a policy document. Raises ``PolicyIssue`` naming the key."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "document"
        raise PolicyIssue(where, "not valid YAML") from None
    if not isinstance(data, dict):
        raise PolicyIssue("document", "must be a mapping")
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "document"
        raise PolicyIssue(key, str(err["msg"]).lower()) from None
    if policy.matching.review_threshold > policy.matching.disclose_threshold:
        raise PolicyIssue("matching.review_threshold", "must not exceed disclose_threshold")
    return policy


def policy_sha256(text: str) -> str:
    """The policy's content hash, recorded with every decision."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
