"""Mending a slip on the filing an address is disclosed from, from the person's own
history (``place``). Pure; called by ``taxmatch.match.rules.judge`` only."""

from __future__ import annotations

from collections.abc import Callable

from taxmatch.match.evidence import Address, Evidence, Filing, Place
from taxmatch.match.similarity import distance, jaro_winkler, other_zip, same, sql_and, sql_or
from taxmatch.match.thresholds import (
    MAX_SLIP_SUPPORT,
    MEND_SIMILAR,
    ZIP_CONSENSUS_OTHERS,
    ZIP_CONSENSUS_YEARS,
)
from taxmatch.match.variant import (
    door_variant,
    house_renamed,
    household_variant,
    in_town,
    line_and_zip_slip,
    same_town,
    street_respelt,
)


def text_order(*values: str | None) -> tuple[tuple[bool, str], ...]:
    """Ascending, missing values last (as SQL orders them)."""
    return tuple([(v is None, v or "") for v in values])


def _filled(value: str | None) -> bool | None:
    """SQL's ``value <> ''``: unknown for a missing value."""
    return None if value is None else value != ""


def _descending(value: int | None) -> tuple[bool, int]:
    """Descending, missing values last."""
    return (value is None, -(value or 0))


def _mends(
    a: Address, slip: Filing, years: int, support: int, shared: Callable[[Address], bool]
) -> bool:
    """Whether the person's own address ``a`` is what the slip ``slip`` meant:
    - a unit dropped: the same house and street with a unit, filed in more years;
    - a typo: the same house and street give or take one typo, filed in more years;
    - a one-off (filed one year) a few characters from an address the person filed in
      other years or that others share.
    A typo or one-off must be the person's own or their household's (``shared``: every
    other filer at the slip filed at ``a`` too) and the slip no real, busy address;
    - a ZIP slip (``zip_slip``) on an address filed one year, where the person filed the
      same house, street and town in another ZIP in at least ``ZIP_CONSENSUS_YEARS``
      other years, or in one where others file too (``_others_file``);
    - a ZIP and a line slip on one filing (``variant.line_and_zip_slip``) on an address
      filed one year, where the person filed the door in at least
      ``ZIP_CONSENSUS_YEARS`` years."""
    if years == 1 and zip_slip(a, slip):
        agreed = (a.n_years or 0) >= ZIP_CONSENSUS_YEARS or _others_file(a)
        return agreed and support <= MAX_SLIP_SUPPORT and shared(a)
    if years == 1 and line_and_zip_slip(a, slip):
        agreed = (a.n_years or 0) >= ZIP_CONSENSUS_YEARS
        return agreed and support <= MAX_SLIP_SUPPORT and shared(a)
    if not (same(a.zip5, slip.zip5) and (a.house_number or a.po_box)) or a.key == slip.key:
        return False
    same_place = sql_and(
        _eq(a.house_number, slip.house_number),
        _eq(a.street, slip.street),
        _eq(a.unit, slip.unit),
        _eq(a.po_box, slip.po_box),
    )
    if same_place is not False:
        return False  # not a different address
    more_years = a.n_years is not None and a.n_years > years
    if (
        same(a.po_box, slip.po_box)
        and same(a.house_number, slip.house_number)
        and same(a.street, slip.street)
        and slip.unit == ""
        and bool(a.unit)
        and more_years
    ):
        return True
    typo = (
        same(a.po_box, slip.po_box)
        and (
            same(a.house_number, slip.house_number)
            or distance(a.house_number, slip.house_number) == 1
        )
        and (same(a.street, slip.street) or jaro_winkler(a.street, slip.street) >= MEND_SIMILAR)
        and (same(a.unit, slip.unit) or slip.unit == "")
        and more_years
    )
    return (typo or _one_off(a, slip, years)) and support <= MAX_SLIP_SUPPORT and shared(a)


def _others_file(a: Address) -> bool:
    """Others file at ``a`` (``ZIP_CONSENSUS_OTHERS`` filings or more besides the
    person's): a real address, not the person's slip. One is not enough: a joint return
    carries the person's address, slip and all, for a second filer."""
    return (a.support or 0) - (a.n_filings or 0) >= ZIP_CONSENSUS_OTHERS


def _zip_doubt(slip: Filing, evidence: Evidence, support: int) -> bool:
    """The slip, filed one year, is a door the person also filed under another ZIP:
    which ZIP is right the history does not say. A busy slip (more than
    ``MAX_SLIP_SUPPORT`` filings) is a real address."""
    return support <= MAX_SLIP_SUPPORT and any(zip_slip(a, slip) for a in evidence.addresses)


def _variant_doubt(slip: Filing, evidence: Evidence, support: int) -> bool:
    """The slip, filed one year and no busy address, is another door of the person's
    written otherwise (``variant.door_variant``: a street or house-number slip, in the
    same ZIP or another of the same town) that ``_mends`` did not settle, or the latest
    year holds another filing at such a variant of it: a typo, or a move nearby, that the
    history cannot tell apart (unless others file at the slip and never filed at the
    other door: then a real address the person moved to)."""
    if support > MAX_SLIP_SUPPORT:
        return False
    shared = _sharing(slip, evidence, support)
    return any(
        (door_variant(a, slip) or house_renamed(a, slip)) and shared(a) for a in evidence.addresses
    ) or any(f.tax_year == slip.tax_year and door_variant(f, slip) for f in evidence.filings)


def _elsewhere_doubt(slip: Filing, evidence: Evidence, mine: Address | None) -> bool:
    """The slip, filed one year and no busy address, is a door (house number, street,
    unit or the slip's dropped) where others file under another ZIP of the same town
    (``other_zip``) at least as often as others file at the slip: the ZIP is the filer's
    slip or the others', and another person's filings never mend the person's, so an
    officer looks. Others filing at the slip's ZIP more often make it the door's ZIP."""
    support = 1 if mine is None or mine.support is None else mine.support
    if support > MAX_SLIP_SUPPORT:
        return False
    at_slip = support - (1 if mine is None or mine.n_filings is None else mine.n_filings)
    elsewhere = sum(
        e[4] or 0
        for e in evidence.elsewhere.get(slip.key, frozenset())
        if (same(e[0], slip.unit) or slip.unit == "")
        and other_zip(e[1], slip.zip5)
        and in_town(e[2], e[3], slip)
    )
    return elsewhere > 0 and elsewhere >= at_slip


def _household_doubt(slip: Filing, evidence: Evidence, support: int) -> bool:
    """The slip, filed one year, is a door nobody else files at, that the person's
    household files written otherwise (``variant.household_variant``), or anyone files
    with the street alone spelt otherwise (``variant.street_respelt``)."""
    alone = support <= MAX_SLIP_SUPPORT and not evidence.neighbours.get(slip.key)
    others = evidence.variants.get(slip.key, frozenset())
    household = household_variant(slip, slip.key, others, evidence.co_filed)
    return alone and (household or any(street_respelt(f, slip) for f in others))


def zip_slip(a: Address, slip: Filing) -> bool:
    """``a`` is the slip's house number, street (or PO box), unit and town
    (``variant.same_town``) in another ZIP (``other_zip``): the same door, so a slip in
    the ZIP, not a move."""
    return (
        bool(a.house_number or a.po_box)
        and other_zip(a.zip5, slip.zip5)
        and same(a.house_number, slip.house_number)
        and same(a.street, slip.street)
        and same(a.po_box, slip.po_box)
        and (same(a.unit, slip.unit) or slip.unit == "")
        and same_town(a, slip)
    )


def _one_off(a: Address, slip: Filing, years: int) -> bool:
    """The slip was filed one year, a few characters from ``a``, which the person filed
    in other years or others share."""
    if years != 1 or a.po_box is None or slip.po_box is None:
        return False
    if not ((a.support or 0) >= 2 or (a.n_years or 0) >= 2):
        return False
    if (a.po_box == "") != (slip.po_box == ""):
        return False
    near = distance(a.house_number, slip.house_number)
    text = _line(slip)
    if near is None or near > 2 or text is None:
        return False
    text_distance = distance(_line(a), text)
    return text_distance is not None and text_distance <= max(1, len(text) // 4)


def _eq(a: str | None, b: str | None) -> bool | None:
    """SQL's ``a = b``: unknown when either is missing."""
    return None if a is None or b is None else a == b


def _line(row: Address | Filing) -> str | None:
    """The address line with its unit, as the mending compares them."""
    return None if row.line1 is None or row.unit is None else f"{row.line1} {row.unit}"


def _sharing(slip: Filing, evidence: Evidence, support: int) -> Callable[[Address], bool]:
    """Whether every other filer at the slip filed at an address too (the person's own
    household moving with them), for a slip that is no busy address."""
    others = evidence.neighbours.get(slip.key, frozenset())
    if support > MAX_SLIP_SUPPORT:
        others = frozenset()

    def shared(a: Address) -> bool:
        return all(a.key in evidence.co_filed.get(o, frozenset()) for o in others)

    return shared


def _consensus(slip: Filing, evidence: Evidence, years: int, support: int) -> Address | None:
    """The address the slip meant, if the person's history shows one (``_mends``)."""
    shared = _sharing(slip, evidence, support)
    found = [a for a in evidence.addresses if _mends(a, slip, years, support, shared)]
    return min(  # SQL's ORDER BY … LIMIT 1
        found,
        default=None,
        key=lambda a: (
            _descending(a.n_years),
            _descending(a.support),
            _descending(a.last_year),
            text_order(a.line1, a.unit, a.house_number, a.street),
        ),
    )


def _history_unit(slip: Filing, evidence: Evidence) -> str:
    """The unit the person filed with at the slip's house and street, most often."""
    found = [
        a
        for a in evidence.addresses
        if same(a.house_number, slip.house_number)
        and same(a.street, slip.street)
        and same(a.zip5, slip.zip5)
        and a.unit
    ]
    history = min(found, default=None, key=lambda a: (_descending(a.n_years), text_order(a.unit)))
    return "" if history is None or history.unit is None else history.unit


def _complete(slip: Filing, evidence: Evidence) -> Address | None:
    """A complete address the person filed whose line is nearly the slip's, or, when the
    slip kept only part of one (``_part_of``), the one such address."""
    complete = [
        a
        for a in evidence.addresses
        if a.zip5 and a.city and a.state and ((a.house_number and a.street) or a.po_box)
    ]
    found = [a for a in complete if jaro_winkler(a.line1, slip.line1) >= MEND_SIMILAR]
    if not found:
        found = _one_door([a for a in complete if _part_of(a, slip)])
    chosen = min(
        found,
        default=None,
        key=lambda a: (
            _descending(a.n_years),
            _descending(a.last_year),
            text_order(a.line1, a.unit, a.city, a.state, a.zip5, a.house_number, a.street),
        ),
    )
    return None if chosen is None else _settled(chosen, complete)


def _settled(a: Address, complete: list[Address]) -> Address:
    """``a``, or where its street is a misspelling of one the person filed at the same
    house number, unit, PO box and ZIP in more years (``MEND_SIMILAR``), that form (the
    one filed in most years): a line is completed to the door as the person files it."""
    forms = [
        b
        for b in complete
        if same(b.house_number, a.house_number)
        and same(b.unit, a.unit)
        and same(b.po_box, a.po_box)
        and same(b.zip5, a.zip5)
        and jaro_winkler(b.street, a.street) >= MEND_SIMILAR
        and (b.n_years or 0) > (a.n_years or 0)
    ]
    return min(forms, default=a, key=lambda b: (_descending(b.n_years), text_order(b.street)))


def _one_door(parts: list[Address]) -> list[Address]:
    """The addresses a partial slip fits (``_part_of``) if they are one door: one house
    number and street, or one house number on a street the person filed in more years
    than each mistyped form of it (``MEND_SIMILAR``), which then give way to it. Two
    house numbers, or two streets neither of which is the other's typo: which one is not
    said (none)."""
    if len({(a.house_number, a.street) for a in parts}) <= 1:
        return parts
    top = min(parts, key=lambda a: (_descending(a.n_years), text_order(a.street)))
    door = [a for a in parts if same(a.street, top.street)]
    typos = all(
        same(a.house_number, top.house_number)
        and jaro_winkler(a.street, top.street) >= MEND_SIMILAR
        and (a.n_years or 0) < (top.n_years or 0)
        for a in parts
        if a not in door
    )
    return door if typos and all(same(a.house_number, top.house_number) for a in door) else []


def _part_of(a: Address, slip: Filing) -> bool:
    """The slip (no house number: noise or a typist dropped part of the line) kept only
    ``a``'s street, or only its house number, in the same ZIP when it has one."""
    if slip.house_number or not slip.line1 or not (a.house_number and a.street):
        return False
    if slip.zip5 and slip.zip5 != a.zip5:
        return False
    return slip.line1 == a.house_number or jaro_winkler(a.street, slip.line1) >= MEND_SIMILAR


def _deliverable(slip: Filing) -> bool | None:
    """A house number and street, or a PO box, and a ZIP, city and state: unknown when a
    part is missing (as SQL reads it)."""
    return sql_and(
        sql_or(sql_and(_filled(slip.house_number), _filled(slip.street)), _filled(slip.po_box)),
        _filled(slip.zip5),
        _filled(slip.city),
        _filled(slip.state),
    )


def place(slip: Filing, evidence: Evidence) -> Place:
    """The address to disclose from the latest filing ``slip``, mended from the person's
    own history where the filing holds a slip: a dropped unit, a typo, a one-off, a ZIP
    typo (or, where the history is split on the ZIP, not deliverable: REVIEW); and a
    filing whose address cannot be delivered replaced by a complete one the person filed
    in other years whose line is nearly the same."""
    key = slip.key  # SQL's join: a missing part matches no address
    mine = None if None in key else next((a for a in evidence.addresses if a.key == key), None)
    years = 1 if mine is None or mine.n_years is None else mine.n_years
    support = 1 if mine is None or mine.support is None else mine.support
    usable = _deliverable(slip)
    consensus = None if usable is False else _consensus(slip, evidence, years, support)
    complete = None if usable is True else _complete(slip, evidence)
    # A ZIP or house-number typo the history neither confirms nor rules out: an officer
    # looks at it.
    doubtful = (
        usable is True
        and consensus is None
        and years == 1
        and (
            _zip_doubt(slip, evidence, support)
            or _variant_doubt(slip, evidence, support)
            or _elsewhere_doubt(slip, evidence, mine)
            or _household_doubt(slip, evidence, support)
        )
    )
    if usable is True:
        line1 = slip.line1 if consensus is None or consensus.line1 is None else consensus.line1
        # A mended ZIP takes the town filed with it (the slip's city may be mistyped too).
        town = slip if consensus is None or consensus.zip5 == slip.zip5 else consensus
        city, state = town.city, town.state
        zip5 = slip.zip5 if consensus is None else consensus.zip5
    elif complete is None:
        line1 = city = state = zip5 = None
    else:
        line1, city, state, zip5 = complete.line1, complete.city, complete.state, complete.zip5
    mended = complete if usable is False else consensus
    if mended is not None:
        unit, house, street = mended.unit, mended.house_number, mended.street
    elif usable is False:
        unit = house = street = None
    else:
        unit = _history_unit(slip, evidence) if slip.unit == "" else slip.unit
        house, street = slip.house_number, slip.street
    deliverable = False if doubtful else sql_or(usable, complete is not None)
    kind = _kind(slip, consensus, complete if usable is False else None, unit)
    filed = None if kind is None else slip.one_line  # for a mended one only
    return Place(
        slip.tax_year,
        line1,
        unit,
        city,
        state,
        zip5,
        slip.phone,
        house,
        street,
        deliverable,
        kind,
        filed,
    )


def _kind(
    slip: Filing, consensus: Address | None, complete: Address | None, unit: str | None
) -> str | None:
    """What ``place`` mended: the ZIP, the unit, the address line, or a complete address
    for an undeliverable filing; None when the address is disclosed as filed."""
    if complete is not None:
        return "complete"
    if consensus is not None:
        home = same(consensus.house_number, slip.house_number) and same(
            consensus.street, slip.street
        )
        if consensus.zip5 != slip.zip5:
            return "zip" if home else "line+zip"
        return "unit" if home else "line"
    return "unit" if unit and slip.unit == "" else None
