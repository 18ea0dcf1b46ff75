"""Statutory validation of one request record (26 U.S.C. § 6103(i)(2) and the agreement).

Pure: takes a raw record, the envelope, the policy and an as-of date; returns a verdict
with every reason code that applies (several per record where several apply) and the
names of the offending fields. Never reads files, never logs, never puts a value in
anything it returns except the normalised request of a valid record.

Checks that need the whole batch (duplicates, boilerplate relevance, the per-officer
cap) are in ``taxmatch.policy.batch``; batch-level codes (R07, R12) in ``check_envelope``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import NamedTuple

from taxmatch.contracts import (
    REQUEST_COLUMNS,
    ROW_FIELD,
    Address,
    Envelope,
    RawRecord,
    ReasonCode,
    ValidRequest,
    Verdict,
)
from taxmatch.normalise.address import AddressFields, address_fields, no_address_given
from taxmatch.normalise.name_placeholder import is_placeholder_first, is_placeholder_last
from taxmatch.normalise.names import PersonName, name_fields, normalise_name
from taxmatch.normalise.statutes import TAX_TITLE, normalise_statute, statute_title
from taxmatch.normalise.text import fold, word_count
from taxmatch.policy.model import Policy

R = ReasonCode

_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/\-]{0,63}$")
_YEAR = re.compile(r"^\d{4}$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_REMOVAL_ORDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-/.]{3,39}$")
_CASE_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-/.:_ ]{2,63}$")
_TIN = re.compile(r"^\d{3}-?\d{2}-?\d{4}$")
_A_NUMBER = re.compile(r"^A?-?\d{8,9}$", re.IGNORECASE)
# Letters of any script, spaces, hyphens, apostrophes, periods and commas: anything else
# in a name (digits, formula characters, brackets) makes the record malformed.
_NAME_CHARS = re.compile(r"^[^\W\d_](?:[^\W\d_]|[ '\u2019.,\-])*$")

GENERATED_ID_PREFIX = "#row-"


def generated_id(row_number: int) -> str:
    """The id a row is reported under when its own request_id is unusable.

    ``#`` is not allowed in a requester's request_id, so a generated id never collides.
    """
    return f"{GENERATED_ID_PREFIX}{row_number}"


def usable_request_id(raw: RawRecord) -> str | None:
    """The requester's id when it is well formed, else None."""
    rid = raw.fields.get("request_id", "")
    if "request_id" in raw.malformed or not _REQUEST_ID.match(rid):
        return None
    return rid


@dataclass(frozen=True, slots=True)
class BatchContext:
    """Everything per-record validation needs that is the same for the whole batch."""

    policy: Policy
    envelope: Envelope
    as_of: date
    batch_codes: frozenset[ReasonCode]
    officers: frozenset[str]
    # The policy's figures each record is checked against, read once per batch.
    statutes: frozenset[str] = field(init=False)
    lookback_years: int = field(init=False)
    min_words: int = field(init=False)
    min_age_days: int = field(init=False)

    def __post_init__(self) -> None:
        policy = self.policy
        object.__setattr__(self, "statutes", frozenset(policy.statutes))
        object.__setattr__(self, "lookback_years", policy.tax_periods.lookback_years)
        object.__setattr__(self, "min_words", policy.relevance.min_words)
        object.__setattr__(self, "min_age_days", policy.removal_order.min_age_days)


def check_envelope(envelope: Envelope, policy: Policy, as_of: date) -> frozenset[ReasonCode]:
    """Batch-level codes: R07 (official not authorised), R12 (safeguards not current)."""
    codes: set[ReasonCode] = set()
    agency = policy.agencies.get(envelope.requesting_agency)
    if agency is None:
        return frozenset({R.R07, R.R12})
    titles = {fold(t) for t in agency.authorised_titles}
    if fold(envelope.requesting_official.title) not in titles:
        codes.add(R.R07)
    if agency.safeguards_certified_until < as_of:
        codes.add(R.R12)
    if envelope.signed_on > as_of:
        codes.add(R.R07)
    return frozenset(codes)


def make_context(envelope: Envelope, policy: Policy, as_of: date) -> BatchContext:
    return BatchContext(
        policy=policy,
        envelope=envelope,
        as_of=as_of,
        batch_codes=check_envelope(envelope, policy, as_of),
        officers=frozenset(o.strip() for o in envelope.recipient_officers if o.strip()),
    )


@lru_cache(maxsize=1 << 14)
def parse_iso_date(text: str) -> date | None:
    """A strict ``YYYY-MM-DD`` date, or None."""
    m = _ISO_DATE.match(text)
    if m is None:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


@lru_cache(maxsize=1 << 12)
def parse_tax_periods(text: str, as_of: date, lookback_years: int) -> tuple[int, ...] | None:
    """Explicit ``;``-separated years within policy, or None when any is unacceptable.

    Refused: empty, ranges or open ends ("2023-", "2019-2023"), words, a year after the
    as-of year, a year older than ``as_of.year - lookback_years``.
    """
    parts = [p.strip() for p in text.split(";")]
    if not text.strip() or any(not _YEAR.match(p) for p in parts):
        return None
    years = sorted({int(p) for p in parts})
    oldest = as_of.year - lookback_years
    if years[0] < oldest or years[-1] > as_of.year:
        return None
    return tuple(years)


def _name_code(value: str, required: bool, placeholder: Callable[[str], bool]) -> ReasonCode | None:
    """R01 for a required name that is empty once folded or a word standing where a name
    should be (``normalise.name_placeholder``: "RESPONDENT", "MALE CHILD"); R13 for a name
    given with characters no name has."""
    if required and (not (folded := fold(value)) or placeholder(folded)):
        return R.R01
    if value and not _NAME_CHARS.match(value):
        return R.R13
    return None


def _no_placeholder(folded: str) -> bool:
    return False


# Names recur across a batch: each is judged once (a cache per kind, keyed on the name
# alone, is cheaper to ask than one keyed on the name and its kind).
@lru_cache(maxsize=1 << 16)
def _first_name_code(value: str) -> ReasonCode | None:
    return _name_code(value, True, is_placeholder_first)


@lru_cache(maxsize=1 << 16)
def _last_name_code(value: str) -> ReasonCode | None:
    return _name_code(value, True, is_placeholder_last)


@lru_cache(maxsize=1 << 16)
def _optional_name_code(value: str) -> ReasonCode | None:
    return _name_code(value, False, _no_placeholder)


_NAMES = (
    ("first_name", _first_name_code),
    ("last_name", _last_name_code),
    ("middle_name", _optional_name_code),
    ("suffix", _optional_name_code),
)


@lru_cache(maxsize=1 << 10)
def _statute(raw: str) -> tuple[str | None, bool]:
    """The statute normalised, and whether it is of the tax title (never allowed). Few
    distinct spellings recur across a batch: each is read once."""
    statute = normalise_statute(raw)
    return statute, statute is not None and statute_title(statute) == TAX_TITLE


@lru_cache(maxsize=1 << 14)
def _order_date_refused(text: str, as_of: date, min_age_days: int) -> bool:
    """R09's date rule: not a date, or an order younger than ``min_age_days`` at ``as_of``.
    Order dates recur across a batch: each is judged once."""
    order_date = parse_iso_date(text)
    return order_date is None or (as_of - order_date).days < min_age_days


class Checked(NamedTuple):
    """What ``check_record`` found: every reason code and offending field (none: valid)
    and, for a valid record, its standardised address (``Address``'s fields), tax periods,
    statute and birth date."""

    request_id: str
    usable_id: str | None  # ``usable_request_id``
    codes: set[ReasonCode]
    fields: list[str]
    address: AddressFields | None
    tax_periods: tuple[int, ...] | None
    statute: str | None
    date_of_birth: date | None


def validate_record(raw: RawRecord, ctx: BatchContext) -> Verdict:
    """Every per-record reason code that applies to ``raw``; the normalised request if none."""
    c = check_record(raw, ctx)
    if c.codes:
        return Verdict(raw.row_number, c.request_id, frozenset(c.codes), tuple(c.fields), None)
    f = raw.fields
    assert c.address is not None
    assert c.tax_periods is not None
    assert c.statute is not None
    person = request_name(f)
    request = ValidRequest(
        row_number=raw.row_number,
        request_id=c.request_id,
        first_name=person.first,
        middle_name=person.middle,
        last_name=person.last,
        suffix=person.suffix,
        address=Address(*c.address),
        tax_periods=c.tax_periods,
        date_of_birth=c.date_of_birth,
        tin=request_tin(f),
        officer_id=f["officer_id"],
        case_number=fold(f.get("case_number", "")),
        statute=c.statute,
    )
    return Verdict(raw.row_number, c.request_id, frozenset(), (), request)


def request_name(fields: dict[str, str]) -> PersonName:
    """A valid record's normalised name."""
    return normalise_name(*_name_parts(fields))


def request_name_fields(fields: dict[str, str]) -> tuple[str, str, str, str]:
    """``request_name``'s first, middle, last and suffix (``name_fields``)."""
    return name_fields(*_name_parts(fields))


def _name_parts(fields: dict[str, str]) -> tuple[str, str, str, str]:
    return (
        fields["first_name"],
        fields.get("middle_name", ""),
        fields["last_name"],
        fields.get("suffix", ""),
    )


def request_tin(fields: dict[str, str]) -> str:
    """A valid record's TIN as digits ("" when none was given)."""
    return fields.get("tin", "").replace("-", "")


def check_record(raw: RawRecord, ctx: BatchContext) -> Checked:
    """Every per-record check on ``raw`` (``validate_record`` without building its result)."""
    get = raw.fields.get
    codes: set[ReasonCode] = set(ctx.batch_codes)
    bad: list[str] = []

    def flag(code: ReasonCode, *fields: str) -> None:
        codes.add(code)
        for name in fields:
            if name not in bad:
                bad.append(name)

    # R13: what the reader could not read cleanly, and ids of the wrong shape.
    if raw.malformed:
        flag(R.R13, *raw.malformed)
    rid = usable_request_id(raw)
    if rid is None and "request_id" not in raw.malformed:
        flag(R.R13, "request_id")

    # R01: first and last name required, and a name (not a placeholder word); any name given
    # must be made of name characters.
    for name, name_code in _NAMES:
        code = name_code(get(name, ""))
        if code is not None:
            flag(code, name)

    # R02 / R03: the requester's address.
    address, problems = address_fields(
        get("street_address", ""),
        get("unit", ""),
        get("city", ""),
        get("state", ""),
        get("zip", ""),
    )
    if problems:
        if no_address_given(problems):
            flag(R.R02, "street_address", "city", "state", "zip")
        else:
            flag(R.R03, *sorted({field for field, _ in problems}))

    # R04: tax periods.
    periods = parse_tax_periods(get("tax_periods", ""), ctx.as_of, ctx.lookback_years)
    if periods is None:
        flag(R.R04, "tax_periods")

    # R05: statute on the allow-list; title 26 never.
    statute, tax_title = _statute(get("statute", ""))
    if statute is None or tax_title or statute not in ctx.statutes:
        flag(R.R05, "statute")

    # R06: a specific reason, long enough (boilerplate share: policy.batch).
    if word_count(get("relevance", "")) < ctx.min_words:
        flag(R.R06, "relevance")

    # R08: the officer must be a named recipient (per-officer cap: policy.batch).
    if get("officer_id", "") not in ctx.officers:
        flag(R.R08, "officer_id")

    # R09: final removal order, old enough.
    if not _REMOVAL_ORDER.match(get("removal_order_number", "")):
        flag(R.R09, "removal_order_number")
    if _order_date_refused(get("removal_order_date", ""), ctx.as_of, ctx.min_age_days):
        flag(R.R09, "removal_order_date")

    # R11: investigation case number.
    if not _CASE_NUMBER.match(get("case_number", "")):
        flag(R.R11, "case_number")

    # Optional identifiers: when given they must be well formed (R13), never required.
    dob_text = get("date_of_birth", "")
    dob = parse_iso_date(dob_text) if dob_text else None
    if dob_text and (dob is None or dob > ctx.as_of):
        flag(R.R13, "date_of_birth")
    tin = get("tin", "")
    if tin and not _TIN.match(tin):
        flag(R.R13, "tin")
    a_number = get("a_number", "")
    if a_number and not _A_NUMBER.match(a_number):
        flag(R.R13, "a_number")

    request_id = rid if rid is not None else generated_id(raw.row_number)
    if codes:
        return Checked(request_id, rid, codes, bad, None, None, None, None)
    return Checked(request_id, rid, codes, bad, address, periods, statute, dob)


_FIELD_RANK = {name: i for i, name in enumerate((*REQUEST_COLUMNS, ROW_FIELD))}


@lru_cache(maxsize=1 << 12)
def field_order(fields: tuple[str, ...]) -> tuple[str, ...]:
    """Offending field names in a stable order: the request contract's, then the rest."""
    rank = _FIELD_RANK
    return tuple(sorted(set(fields), key=lambda n: (rank.get(n, len(rank)), n)))
