"""Another door of the person's that the latest filing may have meant: the same door
written with a slip in the street or the house number, in the same ZIP or in another ZIP
of the same town (``door_variant``). Pure; ``mend`` reads it to mend a slip where the
person's history is strong and to send the row to REVIEW where it is not."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from taxmatch.match.evidence import Address, Filer, Filing, Key
from taxmatch.match.similarity import distance, jaro_winkler, other_zip, same
from taxmatch.match.thresholds import CITY_JW, MEND_SIMILAR, VARIANT_HOUSE_EDITS
from taxmatch.normalise.usps import DIRECTIONALS, STREET_TYPES, street_spelling

# The words of a street that name its type or direction, each to its one spelling.
_KNOWN = {**STREET_TYPES, **DIRECTIONALS}


class Door(Protocol):
    """The address fields of a history address or of a filing."""

    @property
    def house_number(self) -> str | None: ...
    @property
    def street(self) -> str | None: ...
    @property
    def unit(self) -> str | None: ...
    @property
    def po_box(self) -> str | None: ...
    @property
    def zip5(self) -> str | None: ...
    @property
    def city(self) -> str | None: ...
    @property
    def state(self) -> str | None: ...


def same_town(a: Door, b: Door) -> bool:
    """The same state, and the same city or one mistyped (``CITY_JW``)."""
    return in_town(a.city, a.state, b)


def in_town(city: str | None, state: str | None, b: Door) -> bool:
    """``city`` and ``state`` are ``b``'s town: the same state, and the same city or one
    mistyped (``CITY_JW``). A blank city or state is no town: two doors without one may be
    anywhere."""
    if not (city and b.city and state):
        return False
    return same(state, b.state) and (same(city, b.city) or jaro_winkler(city, b.city) >= CITY_JW)


def named_town(city: str | None, state: str | None, b: Door) -> bool:
    """``city`` and ``state`` are exactly ``b``'s, neither blank: the town the requester
    wrote, not one a typo away (two towns of one state can be a letter or a word apart:
    EAST and WEST ORANGE, MIDDLETOWN and MIDDLETON)."""
    return bool(city and state) and same(city, b.city) and same(state, b.state)


def door_variant(a: Door, slip: Door) -> bool:
    """``a`` is the slip's door written otherwise, not the same door: the same PO box (or
    none on both), the same unit or the slip's dropped, the same ZIP or another ZIP of the
    same town, and either the same house number on a street at least ``MEND_SIMILAR``
    alike (not the same street, nor one spelt two ways: ``usps.street_spelling``), or the
    same street with a house number at most ``VARIANT_HOUSE_EDITS`` edits off. A new
    door filed one year a slip or two from one the person filed is either a typo or a
    move nearby, which only the history tells."""
    if not (a.house_number and slip.house_number and same(a.po_box, slip.po_box)):
        return False
    if not (same(a.unit, slip.unit) or slip.unit == ""):
        return False
    if not (same(a.zip5, slip.zip5) or (other_zip(a.zip5, slip.zip5) and same_town(a, slip))):
        return False
    if same(a.house_number, slip.house_number):
        alike = jaro_winkler(a.street, slip.street) >= MEND_SIMILAR
        return alike and not _one_street(a.street, slip.street)
    edits = distance(a.house_number, slip.house_number)
    return same(a.street, slip.street) and edits is not None and edits <= VARIANT_HOUSE_EDITS


def street_respelt(a: Door, slip: Door) -> bool:
    """``a`` is the slip's door with the street alone spelt otherwise: the same house
    number, PO box (or none), ZIP and unit (or the slip's dropped), on a street at least
    ``MEND_SIMILAR`` alike that is not the same street nor one spelt two ways, nor
    another street of the name (``_named_apart``: OAK AVE and OAK DR). At one house
    number in one ZIP that is one door misspelt on one side, not two doors."""
    if not (same(a.zip5, slip.zip5) and same(a.house_number, slip.house_number)):
        return False
    return door_variant(a, slip) and not _named_apart(a.street, slip.street)


def house_renamed(a: Address, slip: Filing) -> bool:
    """``a``, filed before the slip's year only, is the slip's house number, unit (or the
    slip's dropped) and ZIP on a street that is not the slip's, however unlike: a move
    seldom keeps the house number and the ZIP, a typo in the street always does, so a
    one-year door at the house number of another door the person filed is a misspelt
    street as likely as a move, which only an officer tells. (Two doors filed in the
    slip's year are two filings, each judged as filed.)"""
    return (
        bool(a.house_number)
        and a.last_year is not None
        and a.last_year < slip.tax_year
        and same(a.house_number, slip.house_number)
        and same(a.zip5, slip.zip5)
        and same(a.po_box, slip.po_box)
        and (same(a.unit, slip.unit) or slip.unit == "")
        and not _one_street(a.street, slip.street)
    )


def _named_apart(a: str | None, b: str | None) -> bool:
    """Two streets of one name told apart by a word both write as a street type or a
    directional (OAK AVE and OAK DR, 5TH ST N and 5TH ST S): two streets, no typo."""
    x, y = (a or "").split(), (b or "").split()
    return len(x) == len(y) and any(
        u in _KNOWN and v in _KNOWN and _KNOWN[u] != _KNOWN[v] for u, v in zip(x, y, strict=True)
    )


def _one_street(a: str | None, b: str | None) -> bool:
    """The same street, or one street spelt two ways (``SAINT`` and ``ST``)."""
    return a is not None and b is not None and street_spelling(a) == street_spelling(b)


def household_variant(
    slip: Door, key: Key, filers: Iterable[Filer], co_filed: Mapping[str, frozenset[Key]]
) -> bool:
    """Another filer writes the slip's door otherwise (``door_variant``), and filed at one
    of the person's other addresses (``co_filed``): the person's household is at that
    door. Where nobody files at the slip but the person, the slip is the person's typo
    of the household's door, or theirs of it, which the file cannot tell."""
    return any(
        door_variant(f, slip) and any(k != key for k in co_filed.get(f.person_id, ()))
        for f in filers
    )


def line_and_zip_slip(a: Door, slip: Door) -> bool:
    """A ``door_variant`` in another ZIP with at most one slip in the line (the same house
    number, or one character off): the line and the ZIP both mistyped on one filing."""
    if not (other_zip(a.zip5, slip.zip5) and door_variant(a, slip)):
        return False
    edits = distance(a.house_number, slip.house_number)
    return edits is not None and edits <= 1
