"""USPS Publication 28 tables: street suffixes, directionals, unit designators, states. Pure.

Suffixes and directionals are built once at import from the tables ``usaddress-scourgify``
ships; unit designators, states and territories are listed here in full. Every table maps
a folded spelling to its USPS standard form, and every standard form maps to itself, so
applying a table twice gives the same result. This module holds data only: it never does
I/O, never logs and never holds personal data.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from scourgify.address_constants import DIRECTIONAL_REPLACEMENTS, STREET_TYPE_ABBREVIATIONS


def _closed(mapping: dict[str, str]) -> MappingProxyType[str, str]:
    """The mapping plus every abbreviation mapped to itself (idempotent lookups)."""
    return MappingProxyType(mapping | {v: v for v in mapping.values() if v not in mapping})


# Single-word street suffixes (Pub. 28 C1). Multi-word forms ("COUNTY ROAD") stay part of
# the street name: they are prefixes ("COUNTY ROAD 5"), never trailing suffixes.
# Plus a few common non-USPS spellings seen in requests ("MAPLE BLV", "OAK LP").
STREET_TYPES: Final = _closed(
    {k: v for k, v in STREET_TYPE_ABBREVIATIONS.items() if " " not in k and " " not in v}
    | {"BLV": "BLVD", "LP": "LOOP", "HW": "HWY", "EXPWY": "EXPY"}
)
# Well-known street names that carry no suffix ("1619 BROADWAY").
SUFFIXLESS_STREETS: Final = frozenset({"BROADWAY", "BOWERY", "EMBARCADERO", "ESPLANADE"})


def _ordinal(n: int) -> str:
    return f"{n}{'TH' if 10 < n % 100 < 14 else {1: 'ST', 2: 'ND', 3: 'RD'}.get(n % 10, 'TH')}"


_UNITS = (
    "FIRST",
    "SECOND",
    "THIRD",
    "FOURTH",
    "FIFTH",
    "SIXTH",
    "SEVENTH",
    "EIGHTH",
    "NINTH",
    "TENTH",
    "ELEVENTH",
    "TWELFTH",
    "THIRTEENTH",
    "FOURTEENTH",
    "FIFTEENTH",
    "SIXTEENTH",
    "SEVENTEENTH",
    "EIGHTEENTH",
    "NINETEENTH",
)
_TENS = ("TWENTY", "THIRTY", "FORTY", "FIFTY", "SIXTY", "SEVENTY", "EIGHTY", "NINETY")
# Ordinal street names written in words, as numbers ("FOURTH AVE" is "4TH AVE"; "TWENTY
# FIRST ST", or "TWENTY-FIRST", is "21ST ST"): one number, one door.
ORDINAL_WORDS: Final = MappingProxyType(
    {w: _ordinal(n) for n, w in enumerate(_UNITS, start=1)}
    | {f"{t[:-1]}IETH": _ordinal(10 * n) for n, t in enumerate(_TENS, start=2)}
    | {
        f"{t} {w}": _ordinal(10 * n + k)
        for n, t in enumerate(_TENS, start=2)
        for k, w in enumerate(_UNITS[:9], start=1)
    }
)

# Spellings of one street name that parsing leaves apart (USPS would print either): "9490
# FT HILL RD" and "9490 FORT HILL RD" are one door, as are "4TH" and "FOURTH".
STREET_SAME_WORDS: Final = MappingProxyType(
    {**ORDINAL_WORDS, "SAINT": "ST", "FORT": "FT", "MOUNT": "MT"}
)


def street_spelling(line: str) -> str:
    """``line`` with each word of ``STREET_SAME_WORDS`` spelt one way (word by word)."""
    return " ".join(STREET_SAME_WORDS.get(word, word) for word in line.split())


# Plus "SO" for SOUTH, the common Pacific Northwest spelling ("3800 34TH AVE SO").
DIRECTIONALS: Final = _closed(dict(DIRECTIONAL_REPLACEMENTS) | {"SO": "S"})

# Secondary unit designators (Pub. 28 C2) that need an identifier ("APT 4"). KEY is left
# out: it is also a street suffix (KY) and the suffix reading is the common one.
UNIT_DESIGNATORS: Final = _closed(
    {
        "APARTMENT": "APT",
        "BUILDING": "BLDG",
        "BLD": "BLDG",
        "DEPARTMENT": "DEPT",
        "FLOOR": "FL",
        "FLR": "FL",
        "HANGAR": "HNGR",
        "HANGER": "HNGR",
        "LOT": "LOT",
        "PIER": "PIER",
        "ROOM": "RM",
        "SLIP": "SLIP",
        "SPACE": "SPC",
        "STOP": "STOP",
        "SUITE": "STE",
        "SUIT": "STE",
        "TRAILER": "TRLR",
        "UNIT": "UNIT",
    }
)
# Designators that stand alone, without an identifier ("REAR").
UNIT_DESIGNATORS_ALONE: Final = _closed(
    {
        "BASEMENT": "BSMT",
        "FRONT": "FRNT",
        "LOBBY": "LBBY",
        "LOWER": "LOWR",
        "OFFICE": "OFC",
        "PENTHOUSE": "PH",
        "REAR": "REAR",
        "SIDE": "SIDE",
        "UPPER": "UPPR",
    }
)
# USPS: when the designator is unknown, the identifier follows a "#".
UNIT_POUND: Final = "#"

# Full state, district and territory names (Pub. 28 B) by USPS code. Only full names are
# accepted: short forms ("CAL", "IND", "MISS", "DEL") are ambiguous in free text.
_STATE_NAMES: dict[str, str] = {
    "ALABAMA": "AL", "ALASKA": "AK", "ARIZONA": "AZ", "ARKANSAS": "AR", "CALIFORNIA": "CA",
    "COLORADO": "CO", "CONNECTICUT": "CT", "DELAWARE": "DE", "FLORIDA": "FL",
    "GEORGIA": "GA", "HAWAII": "HI", "IDAHO": "ID", "ILLINOIS": "IL", "INDIANA": "IN",
    "IOWA": "IA", "KANSAS": "KS", "KENTUCKY": "KY", "LOUISIANA": "LA", "MAINE": "ME",
    "MARYLAND": "MD", "MASSACHUSETTS": "MA", "MICHIGAN": "MI", "MINNESOTA": "MN",
    "MISSISSIPPI": "MS", "MISSOURI": "MO", "MONTANA": "MT", "NEBRASKA": "NE",
    "NEVADA": "NV", "NEW HAMPSHIRE": "NH", "NEW JERSEY": "NJ", "NEW MEXICO": "NM",
    "NEW YORK": "NY", "NORTH CAROLINA": "NC", "NORTH DAKOTA": "ND", "OHIO": "OH",
    "OKLAHOMA": "OK", "OREGON": "OR", "PENNSYLVANIA": "PA", "RHODE ISLAND": "RI",
    "SOUTH CAROLINA": "SC", "SOUTH DAKOTA": "SD", "TENNESSEE": "TN", "TEXAS": "TX",
    "UTAH": "UT", "VERMONT": "VT", "VIRGINIA": "VA", "WASHINGTON": "WA",
    "WEST VIRGINIA": "WV", "WISCONSIN": "WI", "WYOMING": "WY",
    "DISTRICT OF COLUMBIA": "DC", "WASHINGTON DC": "DC", "WASHINGTON D C": "DC",
    "PUERTO RICO": "PR", "GUAM": "GU", "VIRGIN ISLANDS": "VI", "US VIRGIN ISLANDS": "VI",
    "U S VIRGIN ISLANDS": "VI", "UNITED STATES VIRGIN ISLANDS": "VI",
    "AMERICAN SAMOA": "AS", "NORTHERN MARIANA ISLANDS": "MP",
    "ARMED FORCES AMERICAS": "AA", "ARMED FORCES EUROPE": "AE", "ARMED FORCES PACIFIC": "AP",
}  # fmt: skip
# The 50 states, DC, the inhabited territories and the military "states" AA/AE/AP.
STATE_CODES: Final = frozenset(_STATE_NAMES.values())
STATE_NAMES: Final = MappingProxyType(_STATE_NAMES)

# PO box keywords, as token sequences after folding ("P.O. Box" folds to "P O BOX").
PO_BOX_KEYWORDS: Final = (
    ("PO", "BOX"),
    ("P", "O", "BOX"),
    ("POB",),
    ("P", "O", "B"),
    ("POST", "OFFICE", "BOX"),
    ("PO", "BX"),
    ("P", "O", "BX"),
    ("POBOX",),
)

# Rural route and highway contract boxes (Pub. 28, 24), as written: the route's words and
# the standard one ("STAR ROUTE" is the older name of a highway contract route).
ROUTE_BOX_KINDS: Final = (
    (("RR",), "RR"),
    (("R", "R"), "RR"),
    (("RURAL", "ROUTE"), "RR"),
    (("RURAL", "RTE"), "RR"),
    (("RFD",), "RR"),
    (("R", "F", "D"), "RR"),
    (("HC",), "HC"),
    (("H", "C"), "HC"),
    (("HIGHWAY", "CONTRACT"), "HC"),
    (("HWY", "CONTRACT"), "HC"),
    (("STAR", "ROUTE"), "HC"),
)

# Military and diplomatic boxes (Pub. 28, 225): "PSC 802 BOX 74", "CMR 450 BOX 123",
# "UNIT 2050 BOX 4190", delivered only through APO, FPO or DPO in AA, AE or AP.
MILITARY_BOX_KINDS: Final = ((("PSC",), "PSC"), (("CMR",), "CMR"), (("UNIT",), "UNIT"))
MILITARY_CITIES: Final = frozenset({"APO", "FPO", "DPO"})
MILITARY_STATES: Final = frozenset({"AA", "AE", "AP"})

# City words USPS spells out in the preferred city name ("ST LOUIS" -> "SAINT LOUIS").
CITY_WORDS: Final = MappingProxyType({"ST": "SAINT", "STE": "SAINTE", "FT": "FORT", "MT": "MOUNT"})
