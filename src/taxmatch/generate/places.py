"""Synthetic US addresses: real cities, states and ZIP codes with invented streets.

An address is built in USPS Pub. 28 standard form (``123 N MAIN ST``, ``APT 4B``, upper
case); the variant tables here (``STREET`` for ``ST``, ``NORTH`` for ``N``, ``#`` for
``APT``) let the noise module write the same place the way people and clerks do.
Pure functions of the ``random.Random`` passed in; never logs or prints an address.
"""

from __future__ import annotations

from dataclasses import dataclass
from random import Random

from taxmatch.generate.tables import City, Weighted, cities, streets

# USPS standard suffix -> the spellings found in the wild (the full word first).
SUFFIX_VARIANTS: dict[str, tuple[str, ...]] = {
    "ST": ("STREET", "STR", "ST."),
    "AVE": ("AVENUE", "AV", "AVE."),
    "DR": ("DRIVE", "DRV", "DR."),
    "RD": ("ROAD", "RD."),
    "LN": ("LANE", "LN."),
    "CT": ("COURT", "CRT"),
    "BLVD": ("BOULEVARD", "BLV", "BOUL"),
    "PL": ("PLACE", "PL."),
    "WAY": ("WY",),
    "CIR": ("CIRCLE", "CIRC"),
    "TER": ("TERRACE", "TERR"),
    "PKWY": ("PARKWAY", "PKY"),
    "TRL": ("TRAIL",),
    "HWY": ("HIGHWAY",),
    "LOOP": ("LP",),
    "SQ": ("SQUARE",),
}
_SUFFIXES: Weighted[str] = Weighted(
    [
        ("ST", 35),
        ("AVE", 25),
        ("DR", 15),
        ("RD", 12),
        ("LN", 6),
        ("CT", 5),
        ("BLVD", 5),
        ("PL", 3),
        ("WAY", 4),
        ("CIR", 3),
        ("TER", 2),
        ("PKWY", 2),
        ("TRL", 1.5),
        ("HWY", 1),
        ("LOOP", 1),
        ("SQ", 0.5),
    ]
)
DIRECTIONAL_VARIANTS: dict[str, tuple[str, ...]] = {
    "N": ("NORTH", "N."),
    "S": ("SOUTH", "S."),
    "E": ("EAST", "E."),
    "W": ("WEST", "W."),
    "NE": ("NORTHEAST", "N.E."),
    "NW": ("NORTHWEST", "N.W."),
    "SE": ("SOUTHEAST", "S.E."),
    "SW": ("SOUTHWEST", "S.W."),
}
_DIRECTIONALS: Weighted[str] = Weighted(
    [("N", 5), ("S", 5), ("E", 5), ("W", 5), ("NE", 1), ("NW", 1), ("SE", 1), ("SW", 1)]
)
ORDINAL_VARIANTS: dict[str, tuple[str, ...]] = {
    "1ST": ("FIRST",),
    "2ND": ("SECOND",),
    "3RD": ("THIRD",),
    "4TH": ("FOURTH",),
    "5TH": ("FIFTH",),
    "6TH": ("SIXTH",),
    "7TH": ("SEVENTH",),
    "8TH": ("EIGHTH",),
    "9TH": ("NINTH",),
    "10TH": ("TENTH",),
}
WORD_VARIANTS: dict[str, tuple[str, ...]] = {
    "SAINT": ("ST", "ST."),
    "FORT": ("FT", "FT."),
    "MOUNT": ("MT", "MT."),
    "NORTH": ("N",),
    "JR": ("JR.",),
}
TOKEN_VARIANTS: dict[str, tuple[str, ...]] = {
    **SUFFIX_VARIANTS,
    **DIRECTIONAL_VARIANTS,
    **ORDINAL_VARIANTS,
    **WORD_VARIANTS,
}
# Every spelling of a suffix, directional or ordinal: words a typo must not touch, or the
# line stops being an address anyone could parse.
STRUCTURAL_WORDS: frozenset[str] = frozenset(TOKEN_VARIANTS) | frozenset(
    v for options in TOKEN_VARIANTS.values() for v in options
)
UNIT_DESIGNATORS: Weighted[str] = Weighted(
    [("APT", 70), ("UNIT", 14), ("#", 6), ("STE", 4), ("LOT", 3), ("FL", 1), ("RM", 1)]
)
UNIT_VARIANTS: dict[str, tuple[str, ...]] = {
    "APT": ("APARTMENT", "APT.", "#", "UNIT"),
    "UNIT": ("APT", "#"),
    "#": ("APT", "UNIT"),
    "STE": ("SUITE", "STE.", "#"),
    "LOT": ("#", "SPACE"),
    "FL": ("FLOOR",),
    "RM": ("ROOM", "#"),
}


@dataclass(frozen=True, slots=True)
class Place:
    """One true address in USPS standard form. ``street`` is line 1 (or ``PO BOX n``)."""

    street: str
    unit: str
    city: str
    state: str
    zip5: str
    zip4: str


def _house_number(rng: Random) -> str:
    r = rng.random()
    if r < 0.10:
        return str(rng.randint(1, 99))
    if r < 0.45:
        return str(rng.randint(100, 999))
    if r < 0.88:
        return str(rng.randint(1000, 9999))
    return str(rng.randint(10000, 29999))


def new_street(rng: Random) -> str:
    """``[house] [predir] NAME [SUFFIX] [postdir]`` in standard form."""
    parts = [_house_number(rng)]
    if rng.random() < 0.18:
        parts.append(_DIRECTIONALS.pick(rng))
    name = streets().pick(rng)
    parts.append(name)
    if name != "BROADWAY":
        parts.append("BLVD" if name == "MARTIN LUTHER KING JR" else _SUFFIXES.pick(rng))
    if rng.random() < 0.03:
        parts.append(_DIRECTIONALS.pick(rng))
    return " ".join(parts)


def new_unit(rng: Random) -> str:
    designator = UNIT_DESIGNATORS.pick(rng)
    r = rng.random()
    if r < 0.55:
        number = str(rng.randint(1, 40 if designator == "LOT" else 350))
    elif r < 0.85:
        number = f"{rng.randint(1, 30)}{'ABCDEFGH'[rng.randrange(8)]}"
    else:
        number = "ABCDEFGH"[rng.randrange(8)]
    return f"# {number}" if designator == "#" else f"{designator} {number}"


def pick_city(rng: Random) -> City:
    return cities().pick(rng)


def new_place(rng: Random, city: City, *, unit_share: float = 0.3) -> Place:
    """A fresh residential address in ``city``."""
    unit = new_unit(rng) if rng.random() < unit_share else ""
    return Place(
        street=new_street(rng),
        unit=unit,
        city=city.name,
        state=city.state,
        zip5=city.zips[rng.randrange(len(city.zips))],
        zip4=f"{rng.randrange(1, 10000):04d}",
    )


def po_box_place(rng: Random, home: Place) -> Place:
    """A post-office box in the town of ``home``."""
    return Place(
        street=f"PO BOX {rng.randint(1, 9999)}",
        unit="",
        city=home.city,
        state=home.state,
        zip5=home.zip5,
        zip4=f"{rng.randrange(1, 10000):04d}",
    )


def city_of(place: Place) -> City:
    """The table row of the place's city (falls back to a one-ZIP city)."""
    return _city_index().get(
        (place.city, place.state), City(place.city, place.state, "555", (place.zip5,))
    )


_CITY_INDEX: dict[tuple[str, str], City] = {}


def _city_index() -> dict[tuple[str, str], City]:
    if not _CITY_INDEX:
        for city in cities().items:
            _CITY_INDEX[(city.name, city.state)] = city
    return _CITY_INDEX


def new_phone(rng: Random, city: City) -> str:
    """A 10-digit NANP number in the city's area code (exchange never 555-01xx style)."""
    return f"{city.area_code}{rng.randint(201, 989)}{rng.randrange(10000):04d}"
