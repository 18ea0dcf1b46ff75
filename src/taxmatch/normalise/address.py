"""Requester and master-file addresses to USPS Pub. 28 form, or to a set of problems. Pure.

Every line is segmented by one deterministic rule (house number, street, unit) and the
street is rendered from the USPS tables, so the result never depends on which parser
looked at it. A strict grammar accepts the common well-formed shapes at once; any other
line is accepted only if ``usaddress`` labels the rendered line as house number + street.
A line neither accepts is reported, never guessed: a wrong address is worse than none.

This module never does I/O, never logs and never raises on any input string; problems
name the field, never its value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple

import usaddress

from taxmatch.contracts import Address
from taxmatch.normalise.text import fold, fold_keeping
from taxmatch.normalise.usps import (
    CITY_WORDS,
    DIRECTIONALS,
    PO_BOX_KEYWORDS,
    STATE_CODES,
    STATE_NAMES,
    STREET_TYPES,
    SUFFIXLESS_STREETS,
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


@dataclass(frozen=True, slots=True)
class AddressParse:
    """A standardised address (set only when there are no problems) or its problems."""

    address: Address | None
    problems: frozenset[Problem]

    @property
    def is_missing(self) -> bool:
        """Every address field was empty: the request gave no address at all."""
        return (STREET, AddressProblem.MISSING) in self.problems


# --- placeholders ---------------------------------------------------------------------

# Placeholder text, matched as whole words anywhere in a folded field: "UNKNOWN ADDRESS",
# "DONT CARE 12345" and "123 N/A" are all placeholders, not addresses.
_PLACEHOLDER_WORDS = frozenset(
    {
        "UNKNOWN", "UNK", "HOMELESS", "REFUSED", "DECLINED", "WITHHELD", "REDACTED", "TBD",
        "TBA", "NONE", "NULL", "NIL", "NA", "UNAVAILABLE", "SAME", "ADDRESS", "PLACEHOLDER",
        "DUMMY", "FAKE", "ASDF", "BLANK", "EMPTY", "UNSPECIFIED", "UNDISCLOSED",
    }
)  # fmt: skip
_PLACEHOLDER_PHRASES = re.compile(
    r"\b(?:FAILED TO PROVIDE|NOT PROVIDED|NOT GIVEN|NOT KNOWN|DONT CARE|DO NOT CARE|DONT KNOW"
    r"|DO NOT KNOW|TO BE DETERMINED|N A|NOT APPLICABLE|NOT AVAILABLE|NO FIXED ABODE)\b"
)
# The last word of every phrase above: the phrase search runs only when one is present.
_PHRASE_ENDS = frozenset(
    {"PROVIDE", "PROVIDED", "GIVEN", "KNOWN", "CARE", "KNOW", "DETERMINED", "A", "APPLICABLE"}
    | {"AVAILABLE", "ABODE"}
)
# A whole field that is one character repeated ("X", "0000", "AAAA"), outside ZIP.
_REPEATED = re.compile(r"(.)\1*")


def _is_placeholder(raw: str, folded: str, *, repeated: bool = True) -> bool:
    """Placeholder text in a field; ``folded`` is the field after folding."""
    if "?" in raw or not folded:
        return True  # "?" anywhere, or text that is only punctuation ("-", "--")
    words = folded.split()
    if not _PLACEHOLDER_WORDS.isdisjoint(words) or "XXX" in folded:
        return True
    if not _PHRASE_ENDS.isdisjoint(words) and _PLACEHOLDER_PHRASES.search(folded):
        return True
    if not repeated or len(words) > 1:
        return False
    return (len(folded) >= 3 or folded == "X") and _REPEATED.fullmatch(folded) is not None


# --- street line ----------------------------------------------------------------------

_HOUSE = re.compile(r"\d+[A-Z]?(?:-\d+[A-Z]?|-[A-Z])?|[NSEW]\d+(?:[NSEW]\d+|[A-Z])?")
# Grid house numbers written in two parts ("N59W 28135", Wisconsin style).
_GRID_HEAD = re.compile(r"[NSEW]\d+[NSEW]")
# A house number the lenient rule accepts: digits, an optional letter, an optional grid
# prefix ("123", "123B", "N1680", "N59W28135").
_PLAIN_HOUSE = re.compile(r"(?:[NSEW]\d+[NSEW])?[NSEW]?\d+[A-Z]?")
_FRACTION = re.compile(r"[1-9]/[2-9]")
_ZIP_LINE = re.compile(r"\d{5}(?:-?\d{4})?")
_UNIT_ID = re.compile(r"[A-Z0-9]{1,6}(?:-[A-Z0-9]{1,6})?")
_ORDINAL = re.compile(r"\d+(?:ST|ND|RD|TH)")
_INITIAL_DOT = re.compile(r"(?<![A-Z0-9])([A-Z])\.")  # "P.O." -> "PO", "N.W." -> "NW"
_STRAY_SLASH = re.compile(r"(?<!\d)/|/(?!\d)")
_STRAY_HYPHEN = re.compile(r"(?<![A-Z0-9])-|-(?![A-Z0-9])|(?<=[A-Z])-(?=[A-Z])")
_MAX_TOKENS = 24

_STREET_LABELS = frozenset(
    {
        "StreetNamePreDirectional", "StreetNamePreModifier", "StreetNamePreType", "StreetName",
        "StreetNamePostType", "StreetNamePostDirectional", "StreetNamePostModifier",
    }
)  # fmt: skip
_HOUSE_LABELS = frozenset({"AddressNumber", "AddressNumberPrefix", "AddressNumberSuffix"})


def line_tokens(line: str) -> tuple[str, ...]:
    """Folded tokens of an address line, keeping "#", fractions and numeric hyphens."""
    text = fold_keeping(line, "#/-.")
    if "." in text:
        text = _INITIAL_DOT.sub(r"\1", text).replace(".", " ")
    if "/" in text:
        text = _STRAY_SLASH.sub(" ", text)
    if "-" in text:
        text = _STRAY_HYPHEN.sub(" ", text)
    if "#" in text:
        text = text.replace("#", " # ")
    return tuple(text.split())


def _leading_unit(tokens: tuple[str, ...]) -> int:
    """Length of a unit ("APT 4", "APT # 4", "# 4") that opens a line before a house number."""
    if not tokens or not (tokens[0] in UNIT_DESIGNATORS or tokens[0] == UNIT_POUND):
        return 0
    k = 2 if len(tokens) > 2 and tokens[0] != UNIT_POUND and tokens[1] == UNIT_POUND else 1
    if len(tokens) > k + 2 and _UNIT_ID.fullmatch(tokens[k]) and _HOUSE.fullmatch(tokens[k + 1]):
        return k + 1
    return 0


def _join_house(tokens: tuple[str, ...]) -> tuple[str, ...]:
    """One house-number token from the two a line sometimes splits it into: a grid number
    ("N59W 28135" -> "N59W28135") or a letter suffix ("27 B NE 45TH AVE" -> "27B NE 45TH
    AVE"). The letter is joined only when a street of two or more words follows that does
    not open with a street type, so "123 A ST" and "100 N MAIN ST" keep their street."""
    if len(tokens) >= 2 and _GRID_HEAD.fullmatch(tokens[0]) and tokens[1].isdigit():
        return (tokens[0] + tokens[1], *tokens[2:])
    if (
        len(tokens) >= 4
        and tokens[0].isdigit()
        and len(tokens[1]) == 1
        and tokens[1].isalpha()
        and tokens[1] not in DIRECTIONALS
        and tokens[2] not in STREET_TYPES
        and tokens[2] not in UNIT_DESIGNATORS
        and tokens[1:3] not in _ROUTE_PREFIXES  # "1875 C R 420" is County Road 420
    ):
        return (tokens[0] + tokens[1], *tokens[2:])
    return tokens


def _segment(tokens: tuple[str, ...]) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """(house number, street tokens, unit tokens): the one segmentation rule for lines."""
    lead = _leading_unit(tokens)
    if lead:  # "APT 4 123 MAIN ST": the unit goes after the street, where USPS puts it
        tokens = tokens[lead:] + tokens[:lead]
    tokens = _join_house(tokens)
    n = len(tokens)
    start = 0
    house = ""
    if n and _HOUSE.fullmatch(tokens[0]):
        house, start = tokens[0], 1
        if n > 1 and _FRACTION.fullmatch(tokens[1]):
            house, start = f"{house} {tokens[1]}", 2
    for j in range(start + 1, n):
        token = tokens[j]
        if token in UNIT_DESIGNATORS or token == UNIT_POUND:
            return house, tokens[start:j], tokens[j:]
        if token in UNIT_DESIGNATORS_ALONE and j == n - 1 and j >= start + 2:
            return house, tokens[start:j], tokens[j:]
    return house, tokens[start:], ()


def _render_street(tokens: tuple[str, ...]) -> str:
    """USPS form of the street tokens: abbreviate the suffix and directionals only when
    the name keeps at least one word ("123 NORTH ST" keeps NORTH as the street name)."""
    rest = list(tokens)
    post_dir = suffix = pre_dir = ""
    if len(rest) >= 2 and rest[-1] in DIRECTIONALS:
        post_dir = DIRECTIONALS[rest.pop()]
    if len(rest) >= 2 and rest[-1] in STREET_TYPES:
        suffix = STREET_TYPES[rest.pop()]
    if len(rest) >= 2 and rest[0] in DIRECTIONALS:
        pre_dir = DIRECTIONALS[rest.pop(0)]
    return " ".join(part for part in (pre_dir, *rest, suffix, post_dir) if part)


def _is_plain_word(token: str) -> bool:
    return len(token) >= 2 and token.isalpha() and token not in _NOT_NAME_WORDS


_NOT_NAME_WORDS = frozenset(DIRECTIONALS) | frozenset(UNIT_DESIGNATORS)


def _fast_accepts(house: str, street: tuple[str, ...]) -> bool:
    """The common unambiguous shapes: 123 [DIR] NAME TYPE, 123 NAME TYPE DIR, 123 [DIR]
    BROADWAY [DIR].

    NAME is one ordinal ("23RD"), one or two plain words ("LAKE SHORE"), or three or four
    that include no street type ("MARTIN LUTHER KING JR"). A test checks that usaddress labels these
    shapes the same way; a directional on both sides, or after HWY, is left to usaddress,
    which sometimes reads the trailing one as a unit.
    """
    if not house.isdigit():
        return False
    pre = 1 if len(street) >= 2 and street[0] in DIRECTIONALS else 0
    post = 1 if len(street) - pre >= 2 and street[-1] in DIRECTIONALS else 0
    if pre and post:
        return False
    body = street[pre : len(street) - post]
    if len(body) == 1:
        return body[0] in SUFFIXLESS_STREETS
    name, suffix = body[:-1], STREET_TYPES.get(body[-1])
    if suffix is None or (post and suffix == "HWY"):
        return False
    if len(name) == 1 and _ORDINAL.fullmatch(name[0]):
        return True
    if not all(_is_plain_word(t) for t in name):
        return False
    return len(name) <= 2 or (len(name) <= 4 and not any(t in STREET_TYPES for t in name))


# Route-style street names: a prefix, then one route number ("COUNTY ROAD 12", "TWP RD 223",
# "C R 420", "HWY 441", "US 101").
_ROUTE_PREFIXES = frozenset(
    {
        ("COUNTY", "ROAD"), ("COUNTY", "RD"), ("CO", "RD"), ("CO", "ROAD"), ("CTY", "RD"),
        ("CR",), ("C", "R"), ("TWP", "RD"), ("TWP", "ROAD"), ("TOWNSHIP", "ROAD"),
        ("TOWNSHIP", "RD"), ("HWY",), ("HIGHWAY",), ("STATE", "HWY"), ("STATE", "HIGHWAY"),
        ("STATE", "ROUTE"), ("STATE", "ROAD"), ("STATE", "RD"), ("SR",), ("US", "HWY"),
        ("US", "HIGHWAY"), ("US", "ROUTE"), ("US",), ("ROUTE",), ("RTE",), ("RT",), ("FM",),
        ("RR",), ("RURAL", "ROUTE"), ("PRIVATE", "ROAD"), ("PRIVATE", "RD"), ("FOREST", "ROAD"),
        ("INTERSTATE",),
    }
)  # fmt: skip
_ROUTE_ID = re.compile(r"\d{1,5}[A-Z]?|[A-Z]\d{1,4}")
_SHORT_TAIL = 3  # letters of a final word that may be a cut-off street type ("ROA", "R")


def _lenient_accepts(house: str, street: tuple[str, ...]) -> bool:
    """House number + street name in shapes neither the grammar nor usaddress takes.

    - a route: "10212 COUNTY ROAD 1010", "1384 TWP RD 223", "219A ROUTE 22";
    - a grid street: "36370 E 1975 N" (a number between two directionals);
    - a street name of words and ordinals whose last word may be a cut-off or unknown
      street type: "744 OROZCO R", "4312 RIVER TRACE ROA", "15610 PATTON", "3800 34TH AV S".

    Never accepted: a unit designator in the street, a number after a street word
    ("123 MAIN ST 4" is a street or a unit), a street type followed by a longer word or a
    state code ("123 MAIN ST SPRINGFIELD IL" is a whole address on one line), or a street
    with no word of three letters.
    """
    if not _PLAIN_HOUSE.fullmatch(house):
        return False
    pre = 1 if len(street) >= 2 and street[0] in DIRECTIONALS else 0
    post = 1 if len(street) - pre >= 2 and street[-1] in DIRECTIONALS else 0
    body = street[pre : len(street) - post]
    if not 1 <= len(body) <= 5 or any(t in _NOT_NAME_WORDS or t == UNIT_POUND for t in body):
        return False
    if body[:-1] in _ROUTE_PREFIXES and _ROUTE_ID.fullmatch(body[-1]):
        return True
    if pre and post and len(body) == 1 and body[0].isdigit():
        return True
    if not all(t.isalpha() or _ORDINAL.fullmatch(t) for t in body):
        return False
    last = body[-1]
    if any(t in STREET_TYPES for t in body[1:-1]) and (
        len(last) > _SHORT_TAIL or last in STATE_CODES or last in STREET_TYPES
    ):
        return False
    return any(len(t) >= 3 and t.isalpha() and t not in STREET_TYPES for t in body)


@lru_cache(maxsize=1 << 16)
def _usaddress_accepts(line: str, house_tokens: int) -> bool:
    """usaddress labels the first ``house_tokens`` tokens as the house number and every
    other token as part of the street name."""
    try:
        labelled = usaddress.parse(line)
    except Exception:  # third-party parser: any failure means "not accepted"
        return False
    tokens = line.split()
    if [token for token, _ in labelled] != tokens:
        return False
    labels = [label for _, label in labelled]
    return all(lab in _HOUSE_LABELS for lab in labels[:house_tokens]) and all(
        lab in _STREET_LABELS for lab in labels[house_tokens:]
    )


def _standardise_unit(tokens: tuple[str, ...], *, bare_id: bool) -> str | None:
    """USPS unit text ("APT 4", "# 4", "UNIT 5B", "REAR", "BLDG 2 APT 3") or None."""
    parts: list[str] = []
    i, n = 0, len(tokens)
    if bare_id and n == 1 and _UNIT_ID.fullmatch(tokens[0]) and any(c.isdigit() for c in tokens[0]):
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
        if i >= n or not _UNIT_ID.fullmatch(tokens[i]):
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
    """The box number when the line is a PO box ("P.O. Box 12", "POB 12"), else None.

    "" when the line opens like a PO box but has no single box number after it.
    """
    if not tokens or tokens[0] not in _PO_BOX_FIRST:
        return None
    for keyword in PO_BOX_KEYWORDS:
        k = len(keyword)
        if tokens[:k] == keyword:
            rest = tokens[k:]
            if len(rest) == 1 and _UNIT_ID.fullmatch(rest[0]):
                return rest[0]
            return ""
    return None


@lru_cache(maxsize=1 << 16)
def _parse_line(line: str, use_fast: bool = True) -> _Line:
    """Segment, render and accept one street line. ``use_fast=False`` is for tests."""
    tokens = line_tokens(line)
    if not line.strip():
        return _fail(AddressProblem.NO_HOUSE_NUMBER, AddressProblem.NO_STREET)
    if _is_placeholder(line, " ".join(tokens)):
        return _fail(AddressProblem.PLACEHOLDER)
    if len(tokens) == 1 and _ZIP_LINE.fullmatch(tokens[0]):
        return _fail(AddressProblem.ZIP_ONLY)
    box = _po_box(tokens)
    if box is not None:
        return _Line("", "", "", box, ()) if box else _fail(AddressProblem.UNPARSEABLE)
    house, street_tokens, unit_tokens = _segment(tokens)
    if not house or not street_tokens:
        no_house = (AddressProblem.NO_HOUSE_NUMBER,) if not house else ()
        no_street = (AddressProblem.NO_STREET,) if not street_tokens else ()
        return _fail(*no_house, *no_street)
    unit = _standardise_unit(unit_tokens, bare_id=False)
    if unit is None:
        unit = " ".join(unit_tokens)  # kept as written (see _parse_unit)
    street = _render_street(street_tokens)
    accepted = use_fast and _fast_accepts(house, street_tokens)
    if not accepted and len(tokens) <= _MAX_TOKENS:
        accepted = _usaddress_accepts(f"{house} {street}", house.count(" ") + 1)
    if not accepted:
        accepted = _lenient_accepts(house, street_tokens)
    if not accepted:
        return _fail(AddressProblem.UNPARSEABLE)
    return _Line(house, street, unit, "", ())


def standardise_street(line: str) -> str:
    """USPS Pub. 28 line 1 without the unit: "123 North Main Street" -> "123 N MAIN ST".

    Total and idempotent on any text; a PO box becomes "PO BOX <n>". For a line that
    ``parse_address`` accepts this equals ``Address.street_line``.
    """
    tokens = line_tokens(line)
    box = _po_box(tokens)
    if box:
        return f"PO BOX {box}"
    house, street_tokens, _ = _segment(tokens)
    return " ".join(part for part in (house, _render_street(street_tokens)) if part)


# --- unit, city, state, ZIP -----------------------------------------------------------


@lru_cache(maxsize=4096)
def _parse_unit(raw: str) -> tuple[str, AddressProblem | None]:
    if not raw.strip():
        return "", None
    if _is_placeholder(raw, fold(raw), repeated=False):  # "# 111" is a real unit
        # "N/A" in the unit field says "no unit"; the street line still has to stand.
        return "", None
    tokens = line_tokens(raw)
    unit = _standardise_unit(tokens, bare_id=True)
    # A unit in a shape Pub. 28 does not know ("APT NO 304", "OFFICE 3") is kept as
    # written: the unit never decides whether the street address stands.
    return (unit or " ".join(tokens), None)


@lru_cache(maxsize=1 << 15)
def _parse_city(raw: str) -> tuple[str, AddressProblem | None]:
    folded = fold(raw)
    if not raw.strip():
        return "", AddressProblem.NO_CITY
    if _is_placeholder(raw, folded):
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
    if _is_placeholder(raw, folded):
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
    if text and _is_placeholder(raw, fold(raw), repeated=False):
        return "", AddressProblem.PLACEHOLDER
    return "", AddressProblem.MALFORMED_ZIP


_NO_PROBLEMS: frozenset[Problem] = frozenset()


def parse_address(
    street_address: str, unit: str, city: str, state: str, zip_code: str
) -> AddressParse:
    """Standardise one address, or say per field what is wrong with it."""
    if not (
        street_address.strip() or unit.strip() or city.strip() or state.strip() or zip_code.strip()
    ):
        return AddressParse(None, frozenset({(STREET, AddressProblem.MISSING)}))
    line = _parse_line(street_address)
    if not (street_address.strip() or unit.strip() or city.strip() or state.strip()):
        line = _fail(AddressProblem.ZIP_ONLY)  # a ZIP code alone (docs/domain.md anti-pattern 2)
    unit_text, unit_problem = _parse_unit(unit)
    city_text, city_problem = _parse_city(city)
    state_code, state_problem = _parse_state(state)
    zip5, zip_problem = _parse_zip(zip_code)
    if line.unit and unit_text and line.unit != unit_text:
        unit_problem = AddressProblem.UNPARSEABLE  # two different units given
    if line.problems or unit_problem or city_problem or state_problem or zip_problem:
        fields = ((UNIT, unit_problem), (CITY, city_problem), (STATE, state_problem))
        problems = {(STREET, p) for p in line.problems}
        problems.update((f, p) for f, p in (*fields, (ZIP, zip_problem)) if p is not None)
        return AddressParse(None, frozenset(problems))
    address = Address(
        house_number=line.house,
        street=line.street,
        unit=line.unit or unit_text,
        po_box=line.po_box,
        city=city_text,
        state=state_code,
        zip5=zip5,
    )
    return AddressParse(address, _NO_PROBLEMS)


def salvage_address(
    street_address: str, unit: str, city: str, state: str, zip_code: str
) -> Address:
    """What a master-file address that ``parse_address`` refuses still says, field by field.

    The street line is kept folded as filed, with no house number, so it neither
    corroborates a request nor counts as deliverable; the unit, city, state and ZIP are
    standardised on their own where they can be, and empty where they cannot.
    """
    line = " ".join(line_tokens(street_address))
    unit_text, _ = _parse_unit(unit)
    city_text, city_problem = _parse_city(city)
    state_code, _ = _parse_state(state)
    zip5, _ = _parse_zip(zip_code)
    return Address(
        house_number="",
        street=line,
        unit=unit_text,
        po_box="",
        city=city_text if city_problem is None else fold(city),
        state=state_code,
        zip5=zip5,
    )
