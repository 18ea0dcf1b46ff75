"""Types that cross stages: closed sets, column contracts and per-record values.

Leaf module: imports nothing from taxmatch. Every value here is immutable. Nothing in
this module may hold or format personal data for display; fields carry data, never logs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

PACKAGE_SCHEMA = "taxmatch/package/v1"


class ReasonCode(StrEnum):
    """Why a record was rejected (docs/domain.md). A rejection discloses nothing."""

    R01 = "R01"  # name missing (first or last)
    R02 = "R02"  # requester address missing
    R03 = "R03"  # address invalid
    R04 = "R04"  # tax period missing, malformed, open-ended, future or too old
    R05 = "R05"  # statute missing or not allowed
    R06 = "R06"  # relevance missing or generic
    R07 = "R07"  # requesting official not authorised (batch level)
    R08 = "R08"  # no recipient officer, or officer over the per-officer cap
    R09 = "R09"  # removal order number/date missing, malformed or too young
    R10 = "R10"  # duplicate request
    R11 = "R11"  # case number missing
    R12 = "R12"  # safeguards certification not current (batch level)
    R13 = "R13"  # malformed record


REASON_DESCRIPTIONS: dict[ReasonCode, str] = {
    ReasonCode.R01: "name missing (first or last)",
    ReasonCode.R02: "requester address missing",
    ReasonCode.R03: (
        "address invalid (unparseable, incomplete, placeholder, ZIP only, unknown state, "
        "malformed ZIP)"
    ),
    ReasonCode.R04: (
        "tax period missing, malformed, open-ended, in the future, or older than policy allows"
    ),
    ReasonCode.R05: "statute missing or not on the allow-list of criminal non-tax statutes",
    ReasonCode.R06: "relevance reason missing or generic",
    ReasonCode.R07: "requesting official not authorised",
    ReasonCode.R08: "no recipient officer named, or more records per officer than policy allows",
    ReasonCode.R09: "removal order number or date missing or malformed, or order too young",
    ReasonCode.R10: "duplicate request",
    ReasonCode.R11: "investigation case number missing",
    ReasonCode.R12: "requesting agency's safeguards certification not current",
    ReasonCode.R13: "malformed record",
}


class Outcome(StrEnum):
    """Outcome of a record that passed validation (docs/domain.md)."""

    DISCLOSED = "DISCLOSED"
    AMBIGUOUS = "AMBIGUOUS"
    NO_MATCH = "NO_MATCH"
    NO_FILING_IN_PERIOD = "NO_FILING_IN_PERIOD"
    STALE = "STALE"
    INELIGIBLE = "INELIGIBLE"
    REVIEW = "REVIEW"


class Disposition(StrEnum):
    """Which package file a record lands in. Exactly one per input row."""

    DISCLOSED = "disclosed"
    REJECTED = "rejected"
    UNMATCHED = "unmatched"
    PENDING = "pending"


def disposition_of(outcome: Outcome) -> Disposition:
    """The package file for a validated record's outcome."""
    special = {Outcome.DISCLOSED: Disposition.DISCLOSED, Outcome.REVIEW: Disposition.PENDING}
    return special.get(outcome, Disposition.UNMATCHED)


# --- input column contracts (README.md, Inputs) ----------------------------------------

REQUEST_REQUIRED_COLUMNS: tuple[str, ...] = (
    "request_id",
    "first_name",
    "last_name",
    "street_address",
    "city",
    "state",
    "zip",
    "tax_periods",
    "statute",
    "removal_order_number",
    "removal_order_date",
    "case_number",
    "officer_id",
    "relevance",
)
REQUEST_OPTIONAL_COLUMNS: tuple[str, ...] = (
    "middle_name",
    "suffix",
    "unit",
    "date_of_birth",
    "tin",
    "a_number",
)
REQUEST_COLUMNS: tuple[str, ...] = REQUEST_REQUIRED_COLUMNS + REQUEST_OPTIONAL_COLUMNS

MASTER_REQUIRED_COLUMNS: tuple[str, ...] = (
    "tin",
    "tax_year",
    "first_name",
    "last_name",
    "street_address",
    "city",
    "state",
    "zip",
)
MASTER_OPTIONAL_COLUMNS: tuple[str, ...] = (
    "middle_name",
    "suffix",
    "date_of_birth",
    "unit",
    "phone",
    "date_of_death",
)
MASTER_COLUMNS: tuple[str, ...] = MASTER_REQUIRED_COLUMNS + MASTER_OPTIONAL_COLUMNS

# Marker for a whole row that could not be parsed (ragged, undecodable line).
ROW_FIELD = "__row__"

# --- output column contracts -----------------------------------------------------------

DISCLOSED_COLUMNS: tuple[str, ...] = (
    "request_id",
    "disclosure_id",
    "street_address",
    "unit",
    "city",
    "state",
    "zip",
    "tax_year",
    "match_probability",
)
REJECTED_COLUMNS: tuple[str, ...] = ("request_id", "reason_codes", "fields")
UNMATCHED_COLUMNS: tuple[str, ...] = ("request_id", "outcome")
PENDING_COLUMNS: tuple[str, ...] = ("request_id",)
TRUTH_COLUMNS: tuple[str, ...] = (
    "request_id",
    "tin",
    "expected_outcome",
    "expected_reason_codes",
    "street_address",
    "unit",
    "city",
    "state",
    "zip",
    "tax_year",
    "stratum",
    "person_tins",  # every TIN the true person filed under, ";"-separated
)


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One input row as read: raw strings by column, before any validation.

    ``row_number`` is 1-based over data rows (the header is not counted).
    ``malformed`` names fields (or ``ROW_FIELD``) that could not be read cleanly:
    bad encoding, NUL bytes, over-long values, wrong type, ragged row.
    """

    row_number: int
    fields: dict[str, str]
    malformed: tuple[str, ...] = ()


class RequestReader(Protocol):
    """What the pipeline reads a request file through (``files.readers.read_requests``
    opens one): the file's ``RawRecord`` rows in chunks, in file order, every iteration
    from the start; ``bytes_read`` of ``total_bytes`` so far, for progress."""

    @property
    def columns(self) -> tuple[str, ...]: ...

    @property
    def total_bytes(self) -> int: ...

    @property
    def bytes_read(self) -> int: ...

    def __iter__(self) -> Iterator[list[RawRecord]]: ...

    def count_records(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Address:
    """A USPS Pub. 28 standardised address. Empty strings where a part is absent."""

    house_number: str
    street: str  # standardised street line without the house number or unit, e.g. "N MAIN ST"
    unit: str  # e.g. "APT 4"; "" when none
    # a PO box's number ("12"), or a rural route or highway contract box's whole line
    # ("RR 2 BOX 152", never a box number: those have no space); "" otherwise
    po_box: str
    city: str
    state: str
    zip5: str

    @property
    def street_line(self) -> str:
        """Line 1 as USPS would print it."""
        if self.po_box:
            return self.po_box if " " in self.po_box else f"PO BOX {self.po_box}"
        return f"{self.house_number} {self.street}".strip()

    @property
    def one_line(self) -> str:
        """The address on one line, its parts that are there: line 1, unit, city, state,
        ZIP, comma-separated (as an officer's pages show it)."""
        parts = (self.street_line, self.unit, self.city, self.state, self.zip5)
        return ", ".join(part for part in parts if part)


@dataclass(frozen=True, slots=True)
class ValidRequest:
    """A request that passed every per-record check, normalised for matching."""

    row_number: int
    request_id: str
    first_name: str
    middle_name: str
    last_name: str
    suffix: str
    address: Address
    tax_periods: tuple[int, ...]
    date_of_birth: date | None
    tin: str
    officer_id: str
    case_number: str
    statute: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """Validation result for one record: no codes means valid."""

    row_number: int
    request_id: str  # the requester's id, or a generated "#row-N" id when unusable
    reasons: frozenset[ReasonCode]
    fields: tuple[str, ...]  # names of offending fields, never values
    request: ValidRequest | None

    @property
    def is_valid(self) -> bool:
        return not self.reasons


class Official(BaseModel):
    """The requesting official who signed the letter."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=200)


# An envelope names every officer who may receive the batch's disclosures. At the default
# policy's 50 records per officer, a batch of 7.3 M rows names 146 000 of them; the file
# (14 to 20 bytes an officer, indented or not) stays under ``ENVELOPE_MAX_BYTES``.
MAX_RECIPIENT_OFFICERS = 500_000
ENVELOPE_MAX_BYTES = 16 * 1024 * 1024  # an envelope file or upload part, at most


class Envelope(BaseModel):
    """One per batch: who asks, under which letter, and who may receive (README.md, Inputs)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    requesting_agency: str = Field(min_length=1, max_length=64)
    requesting_official: Official
    request_letter_id: str = Field(min_length=1, max_length=128)
    signed_on: date
    recipient_officers: tuple[str, ...] = Field(max_length=MAX_RECIPIENT_OFFICERS)
    attestation: str = Field(max_length=10_000)


_CODE_BITS: dict[ReasonCode, int] = {code: 1 << i for i, code in enumerate(ReasonCode)}


def codes_to_mask(codes: frozenset[ReasonCode] | set[ReasonCode]) -> int:
    """Reason codes as a bit mask (compact storage for millions of rows)."""
    return sum(_CODE_BITS[code] for code in codes)  # a set: each bit at most once


def mask_to_codes(mask: int) -> tuple[ReasonCode, ...]:
    """The codes of a bit mask, in code order."""
    return tuple(code for code, bit in _CODE_BITS.items() if mask & bit)


def format_codes(mask: int) -> str:
    """``R03;R04`` as the package writes them."""
    return ";".join(code.value for code in mask_to_codes(mask))
