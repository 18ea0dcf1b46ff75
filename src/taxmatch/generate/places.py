"""Synthetic US addresses: real cities, states and ZIP codes with invented streets, in
USPS Pub. 28 standard form, and the variant spellings the noise module writes them in.
Pure functions of the ``random.Random`` passed in; never logs or prints an address.
"""

from __future__ import annotations

from dataclasses import dataclass
from random import Random

from taxmatch.generate.tables import City, Weighted, streets

# USPS standard suffix -> (relative frequency, the spellings found in the wild, full word first).
_SUFFIXES: dict[str, tuple[float, tuple[str, ...]]] = {
    "ST": (35, ("STREET", "STR", "ST.")),
    "AVE": (25, ("AVENUE", "AV", "AVE.")),
    "DR": (15, ("DRIVE", "DRV", "DR.")),
    "RD": (12, ("ROAD", "RD.")),
    "LN": (6, ("LANE", "LN.")),
    "CT": (5, ("COURT", "CRT")),
    "BLVD": (5, ("BOULEVARD", "BLV", "BOUL")),
    "PL": (3, ("PLACE", "PL.")),
    "WAY": (4, ("WY",)),
    "CIR": (3, ("CIRCLE", "CIRC")),
    "TER": (2, ("TERRACE", "TERR")),
    "PKWY": (2, ("PARKWAY", "PKY")),
    "TRL": (1.5, ("TRAIL",)),
    "HWY": (1, ("HIGHWAY",)),
    "LOOP": (1, ("LP",)),
    "SQ": (0.5, ("SQUARE",)),
}
_DIRECTIONALS: dict[str, tuple[float, tuple[str, ...]]] = {
    "N": (5, ("NORTH", "N.")),
    "S": (5, ("SOUTH", "S.")),
    "E": (5, ("EAST", "E.")),
    "W": (5, ("WEST", "W.")),
    "NE": (1, ("NORTHEAST", "N.E.")),
    "NW": (1, ("NORTHWEST", "N.W.")),
    "SE": (1, ("SOUTHEAST", "S.E.")),
    "SW": (1, ("SOUTHWEST", "S.W.")),
}
_UNITS: dict[str, tuple[float, tuple[str, ...]]] = {
    "APT": (70, ("APARTMENT", "APT.", "#", "UNIT")),
    "UNIT": (14, ("APT", "#")),
    "#": (6, ("APT", "UNIT")),
    "STE": (4, ("SUITE", "STE.", "#")),
    "LOT": (3, ("#", "SPACE")),
    "FL": (1, ("FLOOR",)),
    "RM": (1, ("ROOM", "#")),
}
_SUFFIX_WEIGHTS = Weighted([(k, w) for k, (w, _) in _SUFFIXES.items()])
_DIRECTIONAL_WEIGHTS = Weighted([(k, w) for k, (w, _) in _DIRECTIONALS.items()])
UNIT_DESIGNATORS = Weighted([(k, w) for k, (w, _) in _UNITS.items()])
UNIT_VARIANTS: dict[str, tuple[str, ...]] = {k: v for k, (_, v) in _UNITS.items()}
TOKEN_VARIANTS: dict[str, tuple[str, ...]] = {
    **{k: v for k, (_, v) in (_SUFFIXES | _DIRECTIONALS).items()},
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
    "SAINT": ("ST", "ST."),
    "FORT": ("FT", "FT."),
    "MOUNT": ("MT", "MT."),
    "NORTH": ("N",),
    "JR": ("JR.",),
}
# Every spelling of a suffix, directional or ordinal: words a typo must not touch, or the
# line stops being an address anyone could parse.
STRUCTURAL_WORDS: frozenset[str] = frozenset(TOKEN_VARIANTS) | frozenset(
    v for options in TOKEN_VARIANTS.values() for v in options
)


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
        parts.append(_DIRECTIONAL_WEIGHTS.pick(rng))
    name = streets().pick(rng)
    parts.append(name)
    if name != "BROADWAY":
        parts.append("BLVD" if name == "MARTIN LUTHER KING JR" else _SUFFIX_WEIGHTS.pick(rng))
    if rng.random() < 0.03:
        parts.append(_DIRECTIONAL_WEIGHTS.pick(rng))
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


def new_place(rng: Random, city: City, *, unit_share: float = 0.3) -> Place:
    """A fresh residential address in ``city``."""
    unit = new_unit(rng) if rng.random() < unit_share else ""
    return Place(
        street=new_street(rng),
        unit=unit,
        city=city.name,
        state=city.state,
        zip5=rng.choice(city.zips),
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


def new_phone(rng: Random, city: City) -> str:
    """A 10-digit NANP number in the city's area code (exchange never 555-01xx style)."""
    return f"{city.area_code}{rng.randint(201, 989)}{rng.randrange(10000):04d}"
