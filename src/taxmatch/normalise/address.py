"""Requester and master-file addresses to USPS Pub. 28 form, or to a set of problems. Pure.

Every line is segmented by one deterministic rule (house number, street, unit) and the
street is rendered from the USPS tables, so the result never depends on which parser
looked at it. A strict grammar accepts the common well-formed shapes at once; any other
line is accepted only if ``usaddress`` labels the rendered line as house number + street.
A line neither accepts is reported, never guessed: a wrong address is worse than none.

The street line itself is read in ``address_line`` (tokens, segments, acceptance).

This module never does I/O, never logs and never raises on any input string; problems
name the field, never its value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from itertools import product
from typing import NamedTuple

from taxmatch.contracts import Address
from taxmatch.normalise.address_line import (
    UNIT_ID,
    fast_accepts,
    house_shape_known,
    lenient_accepts,
    line_tokens,
    military_box,
    render_street,
    route_box,
    segment,
    usaddress_accepts,
)
from taxmatch.normalise.placeholder import is_placeholder
from taxmatch.normalise.text import fold
from taxmatch.normalise.usps import (
    CITY_WORDS,
    DIRECTIONALS,
    MILITARY_CITIES,
    MILITARY_STATES,
    PO_BOX_KEYWORDS,
    STATE_CODES,
    STATE_NAMES,
    UNIT_DESIGNATORS,
    UNIT_DESIGNATORS_ALONE,
    UNIT_POUND,
)

STREET, UNIT, CITY, STATE, ZIP = "street_address", "unit", "city", "state", "zip"


class AddressProblem(StrEnum):
    """Why an address cannot be used (all but MISSING become R03; MISSING becomes R02)."""

    MISSING = "MISSING"
    PLACEHOLDER = "PLACEHOLDER"
    UNPARSEABLE = "UNPARSEABLE"
    NO_HOUSE_NUMBER = "NO_HOUSE_NUMBER"
    NO_STREET = "NO_STREET"
    ZIP_ONLY = "ZIP_ONLY"
    NO_CITY = "NO_CITY"
    UNKNOWN_STATE = "UNKNOWN_STATE"
    MALFORMED_ZIP = "MALFORMED_ZIP"


Problem = tuple[str, AddressProblem]


# An ``Address``'s fields in its order (house number, street, unit, PO box, city, state,
# ZIP): what ``address_fields`` gives, for callers that need no ``Address`` object.
AddressFields = tuple[str, str, str, str, str, str, str]


def no_address_given(problems: frozenset[Problem]) -> bool:
    """Every address field was empty: the request gave no address at all."""
    return bool(problems) and (STREET, AddressProblem.MISSING) in problems


@dataclass(frozen=True, slots=True)
class AddressParse:
    """A standardised address (set only when there are no problems) or its problems."""

    address: Address | None
    problems: frozenset[Problem]


# --- street line ----------------------------------------------------------------------

_ZIP_LINE = re.compile(r"\d{5}(?:-?\d{4})?")
_MAX_TOKENS = 24


def _standardise_unit(tokens: tuple[str, ...], *, bare_id: bool) -> str | None:
    """USPS unit text ("APT 4", "# 4", "UNIT 5B", "REAR", "BLDG 2 APT 3") or None."""
    parts: list[str] = []
    i, n = 0, len(tokens)
    if bare_id and n == 1 and UNIT_ID.fullmatch(tokens[0]) and any(c.isdigit() for c in tokens[0]):
        return f"{UNIT_POUND} {tokens[0]}"
    while i < n:
        token = tokens[i]
        if token in UNIT_DESIGNATORS_ALONE and i == n - 1:
            parts.append(UNIT_DESIGNATORS_ALONE[token])
            i += 1
            continue
        if token in UNIT_DESIGNATORS:
            designator, i = UNIT_DESIGNATORS[token], i + 1
            if i < n and tokens[i] == UNIT_POUND:
                i += 1
        elif token == UNIT_POUND:
            designator, i = UNIT_POUND, i + 1
        else:
            return None
        if i >= n or not UNIT_ID.fullmatch(tokens[i]):
            return None
        parts.append(f"{designator} {tokens[i]}")
        i += 1
    return " ".join(parts)


class _Line(NamedTuple):
    house: str
    street: str
    unit: str
    po_box: str
    problems: tuple[AddressProblem, ...]


def _fail(*problems: AddressProblem) -> _Line:
    return _Line("", "", "", "", problems)


_PO_BOX_FIRST = frozenset(keyword[0] for keyword in PO_BOX_KEYWORDS)


def _po_box(tokens: tuple[str, ...]) -> str | None:
    """The box number when the line is a PO box ("P.O. Box 12", "POB 12"), the whole
    standard line of a rural route or highway contract box ("RR 2 BOX 152", "HC 68 BOX
    19A"; ``route_box``), else None.

    "" when the line opens like a PO box but has no single box number after it.
    """
    route = route_box(tokens)
    if route is not None:
        return route
    if not tokens or tokens[0] not in _PO_BOX_FIRST:
        return None
    for keyword in PO_BOX_KEYWORDS:
        k = len(keyword)
        if tokens[:k] == keyword:
            rest = tokens[k:]
            if len(rest) == 1 and UNIT_ID.fullmatch(rest[0]):
                return rest[0]
            return ""
    return None


def opens_as_po_box(line: str) -> bool:
    """Whether a street line is written as a PO box ("P.O. Box 12", "POB 12"), even one
    without a usable box number."""
    return _po_box(line_tokens(line)) is not None


@lru_cache(maxsize=1 << 16)
def _parse_line(line: str, use_fast: bool = True) -> _Line:
    """Segment, render and accept one street line. ``use_fast=False`` is for tests."""
    if use_fast:
        number, space, rest = line.strip().partition(" ")
        if space and number.isascii() and number.isdigit():
            common = _after_number(rest)
            if common is not None:
                return _Line(number, common.street, common.unit, "", ())
    return _read_line(line, use_fast)


@lru_cache(maxsize=1 << 16)
def _after_number(rest: str) -> _Line | None:
    """The line "1 <rest>" when the strict grammar (``fast_accepts``) takes it with "1" as
    its house number, else None.

    Most lines are an all-digit house number before a street that recurs with other
    numbers. Such a number is one token whatever its digits; no rule before acceptance
    looks at them (a lone number is a placeholder only when no street follows) and the
    grammar asks only that they be digits. So such a line reads as "1 <rest>" does, with
    its own number. A line the grammar does not take is read whole: ``usaddress`` weighs
    the digits.
    """
    found = _segment_line(f"1 {rest}")
    if isinstance(found, _Line) or found.house != "1" or not fast_accepts("1", found.street):
        return None
    return _accept(found, True)


class _Segments(NamedTuple):
    house: str
    street: tuple[str, ...]
    unit: tuple[str, ...]
    tokens: int


def _segment_line(line: str) -> _Line | _Segments:
    """A street line's segments, or the problems that stop it before acceptance."""
    tokens = line_tokens(line)
    if not line.strip():
        return _fail(AddressProblem.NO_HOUSE_NUMBER, AddressProblem.NO_STREET)
    if is_placeholder(line, " ".join(tokens)):
        return _fail(AddressProblem.PLACEHOLDER)
    if len(tokens) == 1 and _ZIP_LINE.fullmatch(tokens[0]):
        return _fail(AddressProblem.ZIP_ONLY)
    box = _po_box(tokens)
    if box is not None:
        return _Line("", "", "", box, ()) if box else _fail(AddressProblem.UNPARSEABLE)
    house, street_tokens, unit_tokens = segment(tokens)
    if not house or not street_tokens:
        no_house = (AddressProblem.NO_HOUSE_NUMBER,) if not house else ()
        no_street = (AddressProblem.NO_STREET,) if not street_tokens else ()
        return _fail(*no_house, *no_street)
    return _Segments(house, street_tokens, unit_tokens, len(tokens))


def _read_line(line: str, use_fast: bool) -> _Line:
    """Segment, render and accept one street line, token by token."""
    found = _segment_line(line)
    return found if isinstance(found, _Line) else _accept(found, use_fast)


def _accept(found: _Segments, use_fast: bool) -> _Line:
    """The line of these segments, or UNPARSEABLE when no reading accepts it."""
    house, street_tokens, unit_tokens, count = found
    unit = _standardise_unit(unit_tokens, bare_id=False)
    if unit is None:
        unit = " ".join(unit_tokens)  # kept as written (see _parse_unit)
    street = render_street(street_tokens)
    accepted = use_fast and fast_accepts(house, street_tokens)
    if not accepted and count <= _MAX_TOKENS:
        accepted = usaddress_accepts(f"{house} {street}", house.count(" ") + 1)
        if not accepted and not house.isdigit() and house_shape_known(house):
            # A fraction, grid or hyphenated house number is judged by its own pattern;
            # usaddress, which knows "12 1/2" but not "12 1/3", judges only the street.
            accepted = usaddress_accepts(f"1 {street}", 1)
        if not accepted and len(street_tokens) >= 3 and street_tokens[-1] in DIRECTIONALS:
            # After some types ("FOX RUN HWY E") usaddress reads the trailing directional
            # as a unit: the street is judged without it.
            accepted = usaddress_accepts(f"1 {render_street(street_tokens[:-1])}", 1)
    if not accepted:
        accepted = lenient_accepts(house, street_tokens)
    if not accepted:
        return _fail(AddressProblem.UNPARSEABLE)
    return _Line(house, street, unit, "", ())


# --- unit, city, state, ZIP -----------------------------------------------------------


@lru_cache(maxsize=1 << 14)
def _parse_unit(raw: str) -> str:
    """The unit field's text: never a problem of its own (see ``parse_address``)."""
    # "N/A" in the unit field says "no unit"; the street line still has to stand.
    if not raw.strip() or is_placeholder(raw, fold(raw), repeated=False):  # "# 111" is one
        return ""
    tokens = line_tokens(raw)
    # A unit in a shape Pub. 28 does not know ("APT NO 304", "OFFICE 3") is kept as
    # written: the unit never decides whether the street address stands.
    return _standardise_unit(tokens, bare_id=True) or " ".join(tokens)


@lru_cache(maxsize=1 << 15)
def _parse_city(raw: str) -> tuple[str, AddressProblem | None]:
    folded = fold(raw)
    if not raw.strip():
        return "", AddressProblem.NO_CITY
    if is_placeholder(raw, folded):
        return "", AddressProblem.PLACEHOLDER
    if not any(c.isalpha() for c in folded):
        return "", AddressProblem.UNPARSEABLE
    return " ".join(CITY_WORDS.get(w, w) for w in folded.split()), None


@lru_cache(maxsize=1024)
def _parse_state(raw: str) -> tuple[str, AddressProblem | None]:
    folded = fold(raw)
    if not raw.strip():
        return "", AddressProblem.UNKNOWN_STATE
    compact = folded.replace(" ", "")
    if len(compact) == 2 and compact in STATE_CODES:
        return compact, None
    if folded in STATE_NAMES:
        return STATE_NAMES[folded], None
    if is_placeholder(raw, folded):
        return "", AddressProblem.PLACEHOLDER
    return "", AddressProblem.UNKNOWN_STATE


_ZIP = re.compile(r"(\d{5})(?:[- ]?\d{4})?")
_NOT_ZIPS = frozenset({"00000", "99999"})  # sentinels, never assigned to a delivery area


@lru_cache(maxsize=1 << 15)
def _parse_zip(raw: str) -> tuple[str, AddressProblem | None]:
    text = raw.strip()
    m = _ZIP.fullmatch(text)
    if m is not None and m.group(1) not in _NOT_ZIPS:
        return m.group(1), None
    if text and is_placeholder(raw, fold(raw), repeated=False):
        return "", AddressProblem.PLACEHOLDER
    return "", AddressProblem.MALFORMED_ZIP


def parse_address(
    street_address: str, unit: str, city: str, state: str, zip_code: str
) -> AddressParse:
    """Standardise one address, or say per field what is wrong with it."""
    fields, problems = address_fields(street_address, unit, city, state, zip_code)
    if fields is None:
        return _MISSING if problems is _MISSING.problems else AddressParse(None, problems)
    return AddressParse(Address(*fields), _NO_PROBLEMS)


def address_fields(
    street_address: str, unit: str, city: str, state: str, zip_code: str
) -> tuple[AddressFields | None, frozenset[Problem]]:
    """``parse_address`` as plain values: the standardised address's fields (``Address``'s,
    in its order) and no problems, or None and the problems. Building no objects per
    address, it is what a batch's validation calls for each of its rows."""
    if street_address.strip() or unit.strip() or city.strip() or state.strip():
        line = _parse_line(street_address)
    elif zip_code.strip():
        line = _fail(AddressProblem.ZIP_ONLY)  # a ZIP code alone is no address (docs/domain.md)
    else:
        return None, _MISSING.problems
    unit_text = _parse_unit(unit)
    city_text, city_problem = _parse_city(city)
    state_code, state_problem = _parse_state(state)
    zip5, zip_problem = _parse_zip(zip_code)
    if military_box(line.po_box) and (city_text, state_code) not in _MILITARY_POST:
        line = _fail(AddressProblem.UNPARSEABLE)  # delivered only through APO/FPO/DPO
    unit_problem = None
    if line.unit and unit_text and line.unit != unit_text:
        unit_problem = AddressProblem.UNPARSEABLE  # two different units given
    if line.problems or not (city_problem is state_problem is zip_problem is unit_problem is None):
        rest = (
            (UNIT, unit_problem),
            (CITY, city_problem),
            (STATE, state_problem),
            (ZIP, zip_problem),
        )
        problems = {(STREET, p) for p in line.problems} | {(f, p) for f, p in rest if p is not None}
        return None, frozenset(problems)
    fields = (line.house, line.street, line.unit or unit_text, line.po_box, city_text, state_code)
    return (*fields, zip5), _NO_PROBLEMS


_NO_PROBLEMS: frozenset[Problem] = frozenset()
_MILITARY_POST = frozenset(product(MILITARY_CITIES, MILITARY_STATES))
_MISSING = AddressParse(None, frozenset({(STREET, AddressProblem.MISSING)}))


def salvage_address(
    street_address: str, unit: str, city: str, state: str, zip_code: str
) -> Address:
    """What a master-file address that ``parse_address`` refuses still says, field by field.

    A street line that parses on its own (another field is refused: no city, an unknown
    state, a malformed ZIP) keeps its house number, street, unit or PO box: the door is
    the filer's own and corroborates a request, though the address, lacking a part, is
    not deliverable as it stands. A line that does not parse is kept folded as filed,
    with no house number, so it neither corroborates a request nor counts as
    deliverable. The unit, city, state and ZIP are standardised on their own where they
    can be, and empty where they cannot.
    """
    unit_text = _parse_unit(unit)
    city_text, city_problem = _parse_city(city)
    state_code, _ = _parse_state(state)
    zip5, _ = _parse_zip(zip_code)
    parsed = _parse_line(street_address)
    if military_box(parsed.po_box) and (city_text, state_code) not in _MILITARY_POST:
        parsed = _fail(AddressProblem.UNPARSEABLE)  # a military box elsewhere is no box
    if not parsed.problems and not (parsed.unit and unit_text and parsed.unit != unit_text):
        house, street, box = parsed.house, parsed.street, parsed.po_box
        unit_text = parsed.unit or unit_text
    else:
        house, street, box = "", " ".join(line_tokens(street_address)), ""
    return Address(
        house_number=house,
        street=street,
        unit=unit_text,
        po_box=box,
        city=city_text if city_problem is None else fold(city),
        state=state_code,
        zip5=zip5,
    )
