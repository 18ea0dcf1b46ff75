"""Records broken on purpose, one kind per way a real request fails validation.

Every per-record code R01-R06, R08-R11 and R13 has several kinds (docs/domain.md); R07
and R12 are batch-level and come from the envelope instead. Pure; never logs a value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from random import Random

from taxmatch.contracts import ReasonCode

Fields = dict[str, str]
_ADDRESS = frozenset({"street_address", "unit", "city", "state", "zip"})
BOGUS_OFFICER_FLOOR = 900_000


Apply = Callable[[Fields, Random, date], None]


@dataclass(frozen=True, slots=True)
class Corruption:
    name: str
    codes: tuple[ReasonCode, ...]
    fields: frozenset[str]
    apply: Apply


def _set(**values: str) -> tuple[frozenset[str], Apply]:
    def apply(row: Fields, rng: Random, as_of: date) -> None:
        row.update(values)

    return frozenset(values), apply


def _draw(field: str, value: Callable[[Fields, Random, date], str]) -> tuple[frozenset[str], Apply]:
    def apply(row: Fields, rng: Random, as_of: date) -> None:
        row[field] = value(row, rng, as_of)

    return frozenset({field}), apply


def _one_of(field: str, *options: str) -> tuple[frozenset[str], Apply]:
    return _draw(field, lambda row, rng, as_of: rng.choice(options))


def _no_house_number(row: Fields, rng: Random, as_of: date) -> str:
    head, _, rest = row["street_address"].partition(" ")
    return rest if head.isdigit() and rest else "Main St"


def _control_character(row: Fields, rng: Random, as_of: date) -> str:
    last = row["last_name"]
    cut = rng.randint(1, max(1, len(last) - 1))
    return last[:cut] + "\x07" + last[cut:]


# Each kind's reason code is named by its prefix (``r03_...`` draws R03).
_KINDS: dict[str, tuple[frozenset[str], Apply]] = {
    "r01_first_blank": _set(first_name=""),
    "r01_last_blank": _set(last_name="  "),
    "r02_no_address": _set(street_address="", unit="", city="", state="", zip=""),
    "r03_unknown_address": _set(street_address="UNKNOWN ADDRESS", unit=""),
    "r03_failed_to_provide": _set(street_address="FAILED TO PROVIDE", unit=""),
    "r03_not_applicable": _set(street_address="N/A", unit=""),
    "r03_dont_care": _set(street_address="Don't Care 12345", unit=""),
    "r03_zip_only": _set(street_address="", unit="", city="", state=""),
    "r03_unknown_state": _set(state="ZZ"),
    "r03_malformed_zip": _one_of("zip", "1234", "9021", "ABCDE"),
    "r03_no_house_number": _draw("street_address", _no_house_number),
    "r04_blank": _set(tax_periods=""),
    "r04_open_ended": _draw("tax_periods", lambda _, rng, d: f"{d.year - rng.randint(1, 4)}-"),
    "r04_words": _one_of("tax_periods", "last year", "all", "recent years"),
    "r04_future": _draw("tax_periods", lambda _, rng, d: str(d.year + rng.randint(1, 2))),
    "r04_too_old": _draw("tax_periods", lambda _, rng, d: str(d.year - rng.randint(8, 12))),
    "r05_blank": _set(statute=""),
    "r05_tax_title": _one_of("statute", "26 U.S.C. 7201", "26 USC § 7206(1)"),
    "r05_civil": _one_of("statute", "civil penalty", "administrative removal"),
    "r05_not_allowed": _one_of("statute", "18 U.S.C. 1001", "8 U.S.C. 1227(a)(1)"),
    "r06_blank": _set(relevance=""),
    "r06_short": _one_of("relevance", "needed", "investigation", "see case file"),
    "r08_unknown_officer": _draw(
        "officer_id", lambda _, rng, d: f"OFC-{rng.randint(BOGUS_OFFICER_FLOOR, 999_999)}"
    ),
    "r08_no_officer": _set(officer_id=""),
    "r09_number_blank": _set(removal_order_number=""),
    "r09_number_malformed": _one_of("removal_order_number", "TBD", "N/A", "?"),
    "r09_date_blank": _set(removal_order_date=""),
    "r09_date_malformed": _one_of(
        "removal_order_date", "2024-02-30", "2023-13-45", "not available"
    ),
    "r09_order_too_young": _draw(
        "removal_order_date", lambda _, rng, d: (d - timedelta(days=rng.randint(1, 60))).isoformat()
    ),
    "r11_case_blank": _set(case_number=""),
    "r13_overlong_field": _set(middle_name=("Abcdefghij" * 200)[:2000]),
    "r13_control_character": _draw("last_name", _control_character),
    "r13_formula": _set(first_name="=cmd|' /C calc'!A0"),
    "r13_bad_date_of_birth": _one_of("date_of_birth", "31/02/1980", "unknown"),
    "r13_bad_tin": _one_of("tin", "12-345", "SSN ON FILE"),
}
CORRUPTIONS: tuple[Corruption, ...] = tuple(
    Corruption(name, (ReasonCode(name[:3].upper()),), fields, apply)
    for name, (fields, apply) in _KINDS.items()
)
# Duplicates need a second row; the generator builds it (same request_id, or the same
# person and case again). Only the later row in file order carries R10.
DUPLICATE_ID = "r10_duplicate_request_id"
DUPLICATE_PERSON_CASE = "r10_duplicate_person_case"
DUPLICATES: tuple[str, ...] = (DUPLICATE_ID, DUPLICATE_PERSON_CASE)
BY_NAME: dict[str, Corruption] = {c.name: c for c in CORRUPTIONS}
KIND_NAMES: tuple[str, ...] = tuple(c.name for c in CORRUPTIONS) + DUPLICATES


def second_corruption(first: Corruption, rng: Random) -> Corruption | None:
    """Another corruption that can sit on the same row without changing the first's codes."""
    address = bool(first.fields & _ADDRESS)
    options = [
        c
        for c in CORRUPTIONS
        if c.codes != first.codes
        and not (c.fields & first.fields)
        and not (address and c.fields & _ADDRESS)
        and not (
            {"first_name", "last_name"} & c.fields and {"first_name", "last_name"} & first.fields
        )
    ]
    return rng.choice(options) if options else None


def corrupt(row: Fields, kind: str, rng: Random, as_of: date, tags: list[str]) -> list[ReasonCode]:
    """Apply ``kind`` (sometimes with a second, compatible kind); return the codes drawn."""
    first = BY_NAME[kind]
    first.apply(row, rng, as_of)
    codes = list(first.codes)
    tags.append(kind)
    if rng.random() < 0.08:
        extra = second_corruption(first, rng)
        if extra is not None:
            extra.apply(row, rng, as_of)
            codes.extend(extra.codes)
            tags.append(extra.name)
    return codes
