"""Statutory validation: one table-driven test per reason code, and docs/domain.md's
anti-patterns as named regression tests."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taxmatch.contracts import REQUEST_COLUMNS, ROW_FIELD, RawRecord, ReasonCode
from taxmatch.policy.model import Policy
from taxmatch.policy.validate import (
    BatchContext,
    check_envelope,
    generated_id,
    make_context,
    parse_tax_periods,
    validate_record,
)

from .conftest import AS_OF, envelope, record

R = ReasonCode


def codes(ctx: BatchContext, **changes: str) -> set[ReasonCode]:
    return set(validate_record(record(**changes), ctx).reasons)


def test_valid_record_passes_and_is_normalised(ctx: BatchContext) -> None:
    v = validate_record(record(), ctx)
    assert v.is_valid
    assert v.request is not None
    assert v.request.request_id == "REQ-0001"
    assert v.request.tax_periods == (2023, 2024)
    assert v.request.statute == "8 U.S.C. 1253(a)(1)"
    assert v.request.address.zip5 == "98101"
    assert v.request.address.house_number == "123"
    assert v.fields == ()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"first_name": ""}, "first_name"),
        ({"last_name": ""}, "last_name"),
        ({"first_name": "   "}, "first_name"),
        ({"last_name": "..."}, "last_name"),
        # a word standing where the name should be names nobody
        ({"first_name": "Respondent"}, "first_name"),
        ({"first_name": "MALE CHILD"}, "first_name"),
        ({"first_name": "Mr."}, "first_name"),
        ({"last_name": "of the house"}, "last_name"),
        ({"last_name": "Unknown"}, "last_name"),
    ],
)
def test_r01_name_missing(ctx: BatchContext, changes: dict[str, str], field: str) -> None:
    v = validate_record(record(**changes), ctx)
    assert v.reasons == {R.R01}
    assert field in v.fields
    assert v.fields == (field,)


@pytest.mark.parametrize(
    "changes",
    [{"first_name": "Son"}, {"first_name": "Na"}, {"last_name": "House"}, {"middle_name": "Mr"}],
)
def test_r01_names_that_look_like_words_pass(ctx: BatchContext, changes: dict[str, str]) -> None:
    assert validate_record(record(**changes), ctx).is_valid


def test_r02_address_missing(ctx: BatchContext) -> None:
    v = validate_record(record(street_address="", unit="", city="", state="", zip=""), ctx)
    assert v.reasons == {R.R02}


@pytest.mark.parametrize(
    "changes",
    [
        {"street_address": "UNKNOWN ADDRESS"},
        {"street_address": "FAILED TO PROVIDE"},
        {"street_address": "N/A"},
        {"street_address": "Don't Care 12345"},
        {"street_address": "98101"},
        {"street_address": "Main St"},
        {"state": "ZZ"},
        {"zip": "1234"},
        {"zip": "98l01"},
        {"city": ""},
    ],
)
def test_r03_address_invalid(ctx: BatchContext, changes: dict[str, str]) -> None:
    v = validate_record(record(**changes), ctx)
    assert R.R03 in v.reasons
    assert R.R02 not in v.reasons
    assert v.request is None


@pytest.mark.parametrize(
    "periods", ["", "2023-", "2019-2023", "last year", "2027", "2019", "2023,2024", "23", ";"]
)
def test_r04_tax_periods(ctx: BatchContext, periods: str) -> None:
    assert codes(ctx, tax_periods=periods) == {R.R04}


def test_r04_bounds_follow_as_of_and_lookback() -> None:
    assert parse_tax_periods("2020;2026", AS_OF, 6) == (2020, 2026)
    assert parse_tax_periods("2019", AS_OF, 6) is None
    assert parse_tax_periods("2027", AS_OF, 6) is None
    assert parse_tax_periods(" 2024 ; 2023 ;2024", AS_OF, 6) == (2023, 2024)


@pytest.mark.parametrize(
    "statute",
    ["", "26 U.S.C. 7201", "26 USC 7206(1)", "civil penalty", "18 U.S.C. 1001", "8 U.S.C."],
)
def test_r05_statute_refused(ctx: BatchContext, statute: str) -> None:
    assert codes(ctx, statute=statute) == {R.R05}


@pytest.mark.parametrize(
    "statute", ["8 USC § 1253(a)(1)", "8 u.s.c. §1253 (a) (1)", "8 U.S.C. §1326(a)"]
)
def test_r05_spelling_variants_accepted(ctx: BatchContext, statute: str) -> None:
    assert codes(ctx, statute=statute) == set()


def test_r05_title_26_refused_even_when_listed(policy: Policy) -> None:
    listed = policy.model_copy(update={"statutes": (*policy.statutes, "26 U.S.C. 7201")})
    ctx = make_context(envelope(), listed, AS_OF)
    assert codes(ctx, statute="26 U.S.C. 7201") == {R.R05}


@pytest.mark.parametrize("relevance", ["", "needed", "to locate the subject now"])
def test_r06_relevance_missing_or_short(ctx: BatchContext, relevance: str) -> None:
    assert codes(ctx, relevance=relevance) == {R.R06}


@pytest.mark.parametrize(
    "env_changes",
    [{"requesting_official": {"name": "X", "title": "Deputy Analyst"}},
     {"signed_on": date(2027, 1, 1)}],
)  # fmt: skip
def test_r07_official_not_authorised_rejects_every_record(
    policy: Policy, env_changes: dict[str, object]
) -> None:
    ctx = make_context(envelope(**env_changes), policy, AS_OF)
    assert R.R07 in ctx.batch_codes
    assert validate_record(record(), ctx).reasons == {R.R07}
    assert R.R07 in validate_record(record(first_name=""), ctx).reasons


def test_r07_r12_unknown_agency(policy: Policy) -> None:
    assert check_envelope(envelope(requesting_agency="XYZ"), policy, AS_OF) == {R.R07, R.R12}


@pytest.mark.parametrize("officer", ["", "OFC-9999", "ofc-0001"])
def test_r08_officer_not_named(ctx: BatchContext, officer: str) -> None:
    assert codes(ctx, officer_id=officer) == {R.R08}


def test_r08_envelope_without_officers(policy: Policy) -> None:
    ctx = make_context(envelope(recipient_officers=()), policy, AS_OF)
    assert validate_record(record(), ctx).reasons == {R.R08}


@pytest.mark.parametrize(
    "changes",
    [
        {"removal_order_number": ""},
        {"removal_order_number": "x"},
        {"removal_order_number": "A 123 456"},
        {"removal_order_date": ""},
        {"removal_order_date": "15/01/2025"},
        {"removal_order_date": "2025-02-30"},
        {"removal_order_date": "2026-10-31"},  # 30 days before as-of: too young
        {"removal_order_date": "2027-01-01"},
    ],
)
def test_r09_removal_order(ctx: BatchContext, changes: dict[str, str]) -> None:
    assert codes(ctx, **changes) == {R.R09}


def test_r09_exactly_min_age_is_accepted(ctx: BatchContext) -> None:
    assert codes(ctx, removal_order_date="2026-09-01") == set()  # 90 days


@pytest.mark.parametrize("case", ["", "  ", "-"])
def test_r11_case_number(ctx: BatchContext, case: str) -> None:
    assert codes(ctx, case_number=case) == {R.R11}


def test_r12_safeguards_expired(policy: Policy) -> None:
    assert R.R12 in check_envelope(envelope(), policy, date(2027, 10, 1))
    ctx = make_context(envelope(), policy, date(2027, 10, 1))
    assert R.R12 in validate_record(record(tax_periods="2024"), ctx).reasons


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"request_id": ""}, "request_id"),
        ({"request_id": "has space"}, "request_id"),
        ({"request_id": "#row-1"}, "request_id"),
        ({"first_name": "=cmd|' /C calc'!A0"}, "first_name"),
        ({"last_name": "Smith2"}, "last_name"),
        ({"tin": "12345"}, "tin"),
        ({"date_of_birth": "1980-13-01"}, "date_of_birth"),
        ({"a_number": "ABC"}, "a_number"),
    ],
)
def test_r13_malformed_values(ctx: BatchContext, changes: dict[str, str], field: str) -> None:
    v = validate_record(record(**changes), ctx)
    assert v.reasons == {R.R13}
    assert field in v.fields


def test_r13_reader_flags_and_generated_id(ctx: BatchContext) -> None:
    v = validate_record(record(row_number=7, malformed=(ROW_FIELD,)), ctx)
    assert v.reasons == {R.R13}
    assert v.fields == (ROW_FIELD,)
    v = validate_record(record(row_number=9, request_id=""), ctx)
    assert v.request_id == generated_id(9) == "#row-9"


def test_several_codes_at_once(ctx: BatchContext) -> None:
    v = validate_record(
        record(first_name="", street_address="N/A", tax_periods="", statute="", case_number=""),
        ctx,
    )
    assert v.reasons == {R.R01, R.R03, R.R04, R.R05, R.R11}
    assert set(v.fields) >= {"first_name", "street_address", "tax_periods", "statute"}


def test_optional_identifiers_accepted_when_well_formed(ctx: BatchContext) -> None:
    v = validate_record(
        record(tin="123-45-6789", date_of_birth="1980-02-29", a_number="A123456789"), ctx
    )
    assert v.is_valid
    assert v.request is not None
    assert v.request.tin == "123456789"
    assert v.request.date_of_birth == date(1980, 2, 29)


# --- docs/domain.md anti-patterns ---------------------------------------------------------


@pytest.mark.parametrize(
    "placeholder",
    ["UNKNOWN ADDRESS", "FAILED TO PROVIDE", "N/A", "Don't Care 12345", "unknown", "NONE"],
)
def test_antipattern_2_placeholder_address_is_not_valid(
    ctx: BatchContext, placeholder: str
) -> None:
    """Anti-pattern 2: treating any non-blank address as valid."""
    assert R.R03 in codes(ctx, street_address=placeholder)


def test_antipattern_2_zip_code_alone_is_not_an_address(ctx: BatchContext) -> None:
    assert R.R03 in codes(ctx, street_address="", unit="", city="", state="", zip="98101")
    assert R.R03 in codes(ctx, street_address="98101", city="", state="")


def test_antipattern_5_recipient_with_open_safeguards_findings(policy: Policy) -> None:
    """Anti-pattern 5: sending to a recipient whose safeguards review is not current."""
    ctx = make_context(envelope(), policy, date(2027, 10, 1))
    assert all(R.R12 in validate_record(record(row_number=i), ctx).reasons for i in range(3))


# --- properties ----------------------------------------------------------------------

_text = st.text(max_size=40)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(REQUEST_COLUMNS), _text), st.integers(1, 10**6))
def test_validate_is_total_and_never_reports_values(fields: dict[str, str], row: int) -> None:
    from taxmatch.policy.validate import make_context as mk

    from .conftest import default_policy

    ctx = mk(envelope(), default_policy(), AS_OF)
    full = {c: fields.get(c, "") for c in REQUEST_COLUMNS}
    v = validate_record(RawRecord(row, full), ctx)
    assert v.is_valid == (v.request is not None)
    assert set(v.fields) <= {*REQUEST_COLUMNS, ROW_FIELD}
    if not v.is_valid:
        assert v.fields or v.reasons <= {R.R07, R.R12}
    assert v.request_id == full["request_id"] or v.request_id == generated_id(row)
