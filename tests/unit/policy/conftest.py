"""Fixtures for the policy tests: one valid record and its batch context."""

from __future__ import annotations

from datetime import date
from importlib import resources

import pytest

from taxmatch.contracts import Envelope, Official, RawRecord
from taxmatch.policy.model import Policy, parse_policy
from taxmatch.policy.validate import BatchContext, make_context

AS_OF = date(2026, 11, 30)

VALID_FIELDS: dict[str, str] = {
    "request_id": "REQ-0001",
    "first_name": "Maria",
    "middle_name": "Elena",
    "last_name": "Garcia Lopez",
    "suffix": "",
    "street_address": "123 N Main St",
    "unit": "Apt 4",
    "city": "Seattle",
    "state": "WA",
    "zip": "98101",
    "tax_periods": "2023;2024",
    "statute": "8 U.S.C. 1253(a)(1)",
    "removal_order_number": "A-123456789",
    "removal_order_date": "2025-01-15",
    "case_number": "ICE-2026-000123",
    "officer_id": "OFC-0001",
    "relevance": "Subject failed to depart after a final order and was last reported here",
    "date_of_birth": "",
    "tin": "",
    "a_number": "",
}


def default_policy() -> Policy:
    text = resources.files("taxmatch.policy").joinpath("default_policy.yaml").read_text()
    return parse_policy(text)


def envelope(**changes: object) -> Envelope:
    base: dict[str, object] = {
        "requesting_agency": "ICE",
        "requesting_official": Official(name="A. Director", title="Director"),
        "request_letter_id": "LTR-1",
        "signed_on": date(2026, 11, 2),
        "recipient_officers": ("OFC-0001", "OFC-0002"),
        "attestation": "solely for use in the investigation",
    }
    base.update(changes)
    return Envelope.model_validate(base)


def record(row_number: int = 1, malformed: tuple[str, ...] = (), **changes: str) -> RawRecord:
    fields = dict(VALID_FIELDS)
    fields.update(changes)
    return RawRecord(row_number, fields, malformed)


@pytest.fixture
def policy() -> Policy:
    return default_policy()


@pytest.fixture
def ctx(policy: Policy) -> BatchContext:
    return make_context(envelope(), policy, AS_OF)
