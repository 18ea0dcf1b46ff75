"""Records broken on purpose, one kind per way a real request fails validation.

Each corruption names the reason codes it must draw (docs/domain.md) and the fields it
touches. Every per-record code R01-R06, R08-R11 and R13 has several kinds; R10 kinds make
a second row (the later of two duplicates is rejected, the first stays valid); R07 and
R12 are batch-level and come from the envelope instead. Pure; never logs a value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from random import Random

from taxmatch.contracts import ReasonCode

R = ReasonCode
Fields = dict[str, str]
_ADDRESS = frozenset({"street_address", "unit", "city", "state", "zip"})
BOGUS_OFFICER_FLOOR = 900_000


@dataclass(frozen=True, slots=True)
class Corruption:
    name: str
    codes: tuple[ReasonCode, ...]
    fields: frozenset[str]
    apply: Callable[[Fields, Random, date], None]


def _set(**values: str) -> Callable[[Fields, Random, date], None]:
    def apply(row: Fields, rng: Random, as_of: date) -> None:
        row.update(values)

    return apply


def _one_of(field: str, *options: str) -> Callable[[Fields, Random, date], None]:
    def apply(row: Fields, rng: Random, as_of: date) -> None:
        row[field] = options[rng.randrange(len(options))]

    return apply


def _no_house_number(row: Fields, rng: Random, as_of: date) -> None:
    head, _, rest = row["street_address"].partition(" ")
    row["street_address"] = rest if head.isdigit() and rest else "Main St"


def _open_period(row: Fields, rng: Random, as_of: date) -> None:
    row["tax_periods"] = f"{as_of.year - rng.randint(1, 4)}-"


def _future(row: Fields, rng: Random, as_of: date) -> None:
    row["tax_periods"] = str(as_of.year + rng.randint(1, 2))


def _too_old(row: Fields, rng: Random, as_of: date) -> None:
    row["tax_periods"] = str(as_of.year - rng.randint(8, 12))


def _young_order(row: Fields, rng: Random, as_of: date) -> None:
    row["removal_order_date"] = (as_of - timedelta(days=rng.randint(1, 60))).isoformat()


def _bogus_officer(row: Fields, rng: Random, as_of: date) -> None:
    row["officer_id"] = f"OFC-{rng.randint(BOGUS_OFFICER_FLOOR, 999_999)}"


def _control_character(row: Fields, rng: Random, as_of: date) -> None:
    last = row["last_name"]
    cut = rng.randint(1, max(1, len(last) - 1))
    row["last_name"] = last[:cut] + "\x07" + last[cut:]


def _overlong(row: Fields, rng: Random, as_of: date) -> None:
    row["middle_name"] = ("Abcdefghij" * 200)[:2000]


def _k(
    name: str, code: ReasonCode, fields: set[str], apply: Callable[[Fields, Random, date], None]
) -> Corruption:
    return Corruption(name, (code,), frozenset(fields), apply)


CORRUPTIONS: tuple[Corruption, ...] = (
    _k("r01_first_blank", R.R01, {"first_name"}, _set(first_name="")),
    _k("r01_last_blank", R.R01, {"last_name"}, _set(last_name="  ")),
    _k(
        "r02_no_address",
        R.R02,
        set(_ADDRESS),
        _set(street_address="", unit="", city="", state="", zip=""),
    ),
    _k(
        "r03_unknown_address",
        R.R03,
        {"street_address"},
        _set(street_address="UNKNOWN ADDRESS", unit=""),
    ),
    _k(
        "r03_failed_to_provide",
        R.R03,
        {"street_address"},
        _set(street_address="FAILED TO PROVIDE", unit=""),
    ),
    _k("r03_not_applicable", R.R03, {"street_address"}, _set(street_address="N/A", unit="")),
    _k(
        "r03_dont_care", R.R03, {"street_address"}, _set(street_address="Don't Care 12345", unit="")
    ),
    _k("r03_zip_only", R.R03, set(_ADDRESS), _set(street_address="", unit="", city="", state="")),
    _k("r03_unknown_state", R.R03, {"state"}, _set(state="ZZ")),
    _k("r03_malformed_zip", R.R03, {"zip"}, _one_of("zip", "1234", "9021", "ABCDE")),
    _k("r03_no_house_number", R.R03, {"street_address"}, _no_house_number),
    _k("r04_blank", R.R04, {"tax_periods"}, _set(tax_periods="")),
    _k("r04_open_ended", R.R04, {"tax_periods"}, _open_period),
    _k(
        "r04_words",
        R.R04,
        {"tax_periods"},
        _one_of("tax_periods", "last year", "all", "recent years"),
    ),
    _k("r04_future", R.R04, {"tax_periods"}, _future),
    _k("r04_too_old", R.R04, {"tax_periods"}, _too_old),
    _k("r05_blank", R.R05, {"statute"}, _set(statute="")),
    _k(
        "r05_tax_title",
        R.R05,
        {"statute"},
        _one_of("statute", "26 U.S.C. 7201", "26 USC § 7206(1)"),
    ),
    _k(
        "r05_civil",
        R.R05,
        {"statute"},
        _one_of("statute", "civil penalty", "administrative removal"),
    ),
    _k(
        "r05_not_allowed",
        R.R05,
        {"statute"},
        _one_of("statute", "18 U.S.C. 1001", "8 U.S.C. 1227(a)(1)"),
    ),
    _k("r06_blank", R.R06, {"relevance"}, _set(relevance="")),
    _k(
        "r06_short",
        R.R06,
        {"relevance"},
        _one_of("relevance", "needed", "investigation", "see case file"),
    ),
    _k("r08_unknown_officer", R.R08, {"officer_id"}, _bogus_officer),
    _k("r08_no_officer", R.R08, {"officer_id"}, _set(officer_id="")),
    _k("r09_number_blank", R.R09, {"removal_order_number"}, _set(removal_order_number="")),
    _k(
        "r09_number_malformed",
        R.R09,
        {"removal_order_number"},
        _one_of("removal_order_number", "TBD", "N/A", "?"),
    ),
    _k("r09_date_blank", R.R09, {"removal_order_date"}, _set(removal_order_date="")),
    _k(
        "r09_date_malformed",
        R.R09,
        {"removal_order_date"},
        _one_of("removal_order_date", "2024-02-30", "2023-13-45", "not available"),
    ),
    _k("r09_order_too_young", R.R09, {"removal_order_date"}, _young_order),
    _k("r11_case_blank", R.R11, {"case_number"}, _set(case_number="")),
    _k("r13_overlong_field", R.R13, {"middle_name"}, _overlong),
    _k("r13_control_character", R.R13, {"last_name"}, _control_character),
    _k("r13_formula", R.R13, {"first_name"}, _set(first_name="=cmd|' /C calc'!A0")),
    _k(
        "r13_bad_date_of_birth",
        R.R13,
        {"date_of_birth"},
        _one_of("date_of_birth", "31/02/1980", "unknown"),
    ),
    _k("r13_bad_tin", R.R13, {"tin"}, _one_of("tin", "12-345", "SSN ON FILE")),
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
    return options[rng.randrange(len(options))] if options else None


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
