"""A filing that names its door but left its ZIP, city or state blank (``fill``): the
blank told by the door itself. Pure; ``rules.judge`` reads it for the latest filing only,
where ``mend.place`` discloses no line.

A door (house number and street) in a named town has one ZIP, and a ZIP one town: the
blank is no slip to weigh against another spelling, only a part the filer did not write.
So a blank ZIP takes the ZIP nearly every filing at that door in that town carries (the
person's other years and everyone else's, at least ``ZIP_CONSENSUS_OTHERS`` filings and
``DOOR_ZIP_SHARE`` of them; ZIPs filed more evenly, or a town not named in full, and it
stays blank), and a blank city or state the town the person filed that ZIP with in most
years (a tie, none)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from taxmatch.match.evidence import Address, Elsewhere, Evidence, Filing, Place
from taxmatch.match.mend import place
from taxmatch.match.thresholds import DOOR_ZIP_SHARE, ZIP_CONSENSUS_OTHERS
from taxmatch.match.variant import named_town


def filled_place(slip: Filing, evidence: Evidence, found: Place) -> Place:
    """``found`` (``mend.place`` of ``slip``), or, where it discloses no line (the filing
    cannot be delivered and nothing of the person's history completes it), the filing
    with its blank filled (``fill``) as ``mend.place`` judges it written out in full,
    recorded as mended ``blank``: every doubt of ``place`` stands (a door in doubt stays
    undeliverable, REVIEW), and a blank ZIP is not filled for a filing without a unit at
    a door where others file with one (the unit is missing, as ``rules.unit_missing``
    says of a filed ZIP)."""
    if found.usable is True or found.line1 is not None:
        return found
    filled = fill(slip, evidence)
    if filled is None or _unit_missing(slip, filled, evidence):
        return found
    judged = place(filled, evidence)
    if judged.usable is not True:
        return found
    return judged._replace(
        address_mended=judged.address_mended or "blank", mended_from=slip.one_line
    )


def _unit_missing(slip: Filing, filled: Filing, evidence: Evidence) -> bool:
    """A filled ZIP at whose door others file with a unit, for a filing without one."""
    if slip.unit or filled.zip5 == slip.zip5:
        return False
    return any(e[0] and e[1] == filled.zip5 for e in evidence.elsewhere.get(slip.key, ()))


def fill(slip: Filing, evidence: Evidence) -> Filing | None:
    """``slip`` with its blank ZIP, or its blank city or state, filled as the module says;
    None when nothing is blank or the door does not tell."""
    if not (slip.house_number and slip.street) or slip.po_box:
        return None
    if not slip.zip5 and slip.city and slip.state:
        found = door_zip(slip, evidence.addresses, evidence.elsewhere.get(slip.key, ()))
        return None if found is None else slip._replace(zip5=found)
    if slip.zip5 and not (slip.city and slip.state):
        town = zip_town(slip, evidence.addresses)
        return None if town is None else slip._replace(city=town[0], state=town[1])
    return None


def door_zip(
    slip: Filing, addresses: Iterable[Address], elsewhere: Iterable[Elsewhere]
) -> str | None:
    """The ZIP the filings at the slip's house number and street in the town it names
    (``variant.named_town``: city and state exactly, neither blank) carry, the person's
    and others': at least ``ZIP_CONSENSUS_OTHERS`` of them and ``DOOR_ZIP_SHARE`` of all;
    None when no ZIP holds that share (two ZIPs filed alike) or for fewer filings."""
    filings: Counter[str] = Counter()
    for a in addresses:
        if (
            a.zip5
            and _door(a.house_number, a.street, slip)
            and named_town(slip.city, slip.state, a)
        ):
            filings[a.zip5] += a.n_filings or 1
    for _unit, zip5, city, state, n, _other in elsewhere:
        if zip5 and city == slip.city and state == slip.state:
            filings[zip5] += n or 1
    if not filings:
        return None
    (zip5, n), *_ = filings.most_common(1)
    return zip5 if n >= ZIP_CONSENSUS_OTHERS and n >= DOOR_ZIP_SHARE * filings.total() else None


def zip_town(slip: Filing, addresses: Iterable[Address]) -> tuple[str, str] | None:
    """The town (city and state, both filed, and the part the slip filled the same) the
    person filed the slip's ZIP with in most years, alone at the top; None when the
    person never named it so or two towns tie."""
    years: Counter[tuple[str, str]] = Counter()
    for a in addresses:
        if a.zip5 == slip.zip5 and a.city and a.state and _agrees(a, slip):
            years[(a.city, a.state)] += a.n_years or 1
    top = years.most_common(2)
    if not top or (len(top) == 2 and top[0][1] == top[1][1]):
        return None
    return top[0][0]


def _agrees(a: Address, slip: Filing) -> bool:
    """``a``'s town has the part of the town the slip did fill (its city or its state)."""
    return (not slip.city or a.city == slip.city) and (not slip.state or a.state == slip.state)


def _door(house_number: str | None, street: str | None, slip: Filing) -> bool:
    return house_number == slip.house_number and street == slip.street
