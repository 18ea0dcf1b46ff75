"""The matcher's rules from scored pairs to a decision summary, each defined once: the
batch, a single lookup and ``taxmatch explain`` all call these. Pure: no I/O, no logging,
and never a value in an exception. Mending a slipped address is ``mend``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from operator import attrgetter

from taxmatch.match.blanks import filled_place
from taxmatch.match.evidence import (
    Address,
    Best,
    Evidence,
    Filing,
    Name,
    Outcome,
    Person,
    Place,
    Request,
)
from taxmatch.match.mend import place, text_order
from taxmatch.match.similarity import jaro_winkler, one_typo, same, zip_typo
from taxmatch.match.thresholds import DOB_WINDOW_DAYS, NO_RIVAL_BITS, NO_RIVAL_WEIGHT, STREET_JW
from taxmatch.match.variant import named_town


def rank_persons(
    pairs: Iterable[tuple[str, float, float, str | None]],
    review_threshold: float,
    margin: float,
    first_name: str | None = None,
) -> Best | None:
    """The best person of one request's scored pairs ``(person_id, weight, probability,
    the person's own first name)``: a person scores as their best record; ties go to the
    smaller person id. Rivals count within ``margin`` bits only: persons a suffix or DOB
    separates by more are not rivals. Nor is a person the request's ``first_name`` does
    not name (``names_person``) when it names the best person: a housemate who filed
    under that name now and then, or whose own name is its nickname, initial or near
    spelling, is not the one asked about (``rivals``). So the person the request's first
    name names stands first when it rivals a best-scoring person it does not name.
    ``candidates_all`` and ``margin_all`` are the rivals as they stand without the first
    name: what counts when the named person is not the one the request identifies
    (``judge``)."""
    people: dict[str, tuple[float, float, str | None]] = {}
    for person_id, w, p, own in pairs:
        seen = people.get(person_id)
        people[person_id] = (w, p, own) if seen is None else (max(seen[0], w), max(seen[1], p), own)
    if not people:
        return None
    ranked = sorted(people.items(), key=lambda item: (-item[1][0], item[0]))
    plain = _standing([v for _, v in ranked], review_threshold, margin)
    named = next((i for i, (_, v) in enumerate(ranked) if names_person(first_name, v[2])), 0)
    top_w, top_p, top_own = ranked[0][1]
    w, p, _ = ranked[named][1]
    # A best person with no first name on file is not "not named": absent data is no
    # evidence against them, so they keep their place.
    if top_own and min(top_p, p) >= review_threshold and w >= top_w - margin:
        ranked.insert(0, ranked.pop(named))  # the named rival of an unnamed best
    best_id, best = ranked[0]
    others = rivals(first_name, best[2], [v for _, v in ranked[1:]])
    strong, runner_up = _standing([best, *others], review_threshold, margin)
    strong += _named_far(first_name, best, others, review_threshold, margin)
    return Best(best_id, best[1], strong, runner_up, *plain)


def _named_far(
    first_name: str | None,
    best: tuple[float, float, str | None],
    others: Sequence[tuple[float, float, str | None]],
    review_threshold: float,
    margin: float,
) -> int:
    """The persons the request's first name names (``names_person``), at or above
    ``review_threshold``, more than ``margin`` bits below a best person it does not name
    (one with another first name on file): the request's name is theirs, and the best
    person agrees on it only through a return filed under it now and then, so they stand
    as rivals however far below."""
    if not best[2] or names_person(first_name, best[2]):
        return 0
    return sum(
        1
        for w, p, own in others
        if names_person(first_name, own) and p >= review_threshold and w < best[0] - margin
    )


def _standing(
    ranked: Sequence[tuple[float, float, str | None]], review_threshold: float, margin: float
) -> tuple[int, float]:
    """How alone the first of ``ranked`` (weight, probability, own first name) stands
    against the rest: the persons at or above ``review_threshold`` within ``margin``
    bits of it (itself included), and its bits over the next."""
    best_w, best_p, _ = ranked[0]
    strong = (best_p >= review_threshold) + sum(
        1 for w, p, _ in ranked[1:] if p >= review_threshold and w >= best_w - margin
    )
    runner = ranked[1][0] if len(ranked) > 1 else NO_RIVAL_WEIGHT
    return strong, best_w - runner


def names_person(first_name: str | None, own: str | None) -> bool:
    """The request's first name is the person's own (the name the person files under
    most), exactly."""
    return bool(first_name) and first_name == own


def rivals(
    first_name: str | None, best_own: str | None, others: Sequence[tuple[float, float, str | None]]
) -> list[tuple[float, float, str | None]]:
    """The runners-up ``(weight, probability, own first name)`` that stand against the
    best person: all of them, unless the request's first name names the best person
    (``names_person``); then only those it names too (a father and son of one name) and
    those with no first name on file (nothing says they are not the one asked about)."""
    if not names_person(first_name, best_own):
        return list(others)
    return [o for o in others if not o[2] or names_person(first_name, o[2])]


def first_name_agrees(
    request: Request, names: Iterable[Name], nicknames: Sequence[str], fixes: Sequence[str]
) -> bool:
    """The request's first name is one the person filed under: exactly, as a nickname, as
    the initial of a filed initial, swapped with the surname on the request, or misspelt
    (``fixes``: the names the request's is a typo of, ``normalise.typos.fixes``)."""
    first, last_key = request.first_name, request.last_key
    for name in names:
        filed = name.first_name
        if filed is None:
            continue
        if (
            filed == first
            or filed in nicknames
            or filed in fixes
            or (len(filed) == 1 and first is not None and first[:1] == filed)
            or (filed == last_key and name.last_key == first and first is not None)
        ):
            return True
    return False


def address_corroborated(request: Request, addresses: Iterable[Address]) -> bool:
    """The requester's address is in the person's address history: the same house number
    on the same street (or a street at least ``STREET_JW``), one mistyped house-number
    character or two swapped neighbours (``one_typo``) on exactly the same street, or the
    same PO box, in the same ZIP; or exactly the same house number and street in a ZIP a
    typo away (``zip_typo``), or in the town the requester names (``variant.named_town``:
    exactly the same city and state, neither blank) under another ZIP or none on file:
    one door. A city a typo away is not enough here: two towns of a state can be that
    close."""
    house, street, zip5, box = request.house_number, request.street, request.zip5, request.po_box
    for a in addresses:
        if (
            house
            and same(a.house_number, house)
            and same(a.street, street)
            and (zip_typo(a.zip5, zip5) or named_town(request.city, request.state, a))
        ):
            return True
        if zip5 is None or a.zip5 != zip5:
            continue
        if house and (
            (
                a.house_number == house
                and (same(a.street, street) or jaro_winkler(a.street, street) >= STREET_JW)
            )
            or (one_typo(a.house_number, house) and same(a.street, street))
        ):
            return True
        if box and a.po_box == box:
            return True
    return False


def identifier_conflict(request: Request, person: Person) -> bool:
    """A different suffix, or dates of birth more than ``DOB_WINDOW_DAYS`` apart that are
    not a day/month swap: two different people."""
    rq, filed = request.suffix, person.suffix
    if rq and filed and rq != filed:
        return True
    a, b = request.date_of_birth, person.date_of_birth
    if a is None or b is None or a == b:
        return False
    swapped = a.month == b.day and a.day == b.month
    return abs((b - a).days) > DOB_WINDOW_DAYS and not swapped


def suffix_unconfirmed(request: Request, person: Person) -> bool:
    """The person filed with a suffix the request lacks and no date of birth confirms
    which generation is meant."""
    same_dob = request.date_of_birth is not None and request.date_of_birth == person.date_of_birth
    return bool(person.suffix) and request.suffix == "" and not same_dob


# Every column of a filing, in the order ties between filings of one year are broken.
_ORDER = attrgetter(
    "line1", "unit", "house_number", "street", "po_box", "city", "state", "zip5", "phone"
)
# The disclosed address's ``outcomes`` columns (``Place``'s, by name).
_SHOWN = ("line1", "unit", "city", "state", "zip5", "phone", "address_mended", "mended_from")


def latest_filing(filings: Iterable[Filing], periods: Sequence[int]) -> Filing | None:
    """The person's latest filing within the requested periods. Every column orders,
    so the choice never depends on the order rows are read in."""
    # A filing without a year is in no period (as NULL is in no list, in SQL).
    found = [f for f in filings if f.tax_year is not None and f.tax_year in periods]
    if not found:
        return None
    year = max(f.tax_year for f in found)
    latest = [f for f in found if f.tax_year == year]
    # The columns order only the filings of that year (one, mostly).
    return latest[0] if len(latest) == 1 else min(latest, key=lambda f: text_order(*_ORDER(f)))


def unit_missing(
    found: Place, units_at: frozenset[tuple[str | None, str | None, str | None]]
) -> bool:
    """An address without a unit in a building where others file with units is
    incomplete (USPS: missing secondary): an officer looks at it."""
    return (
        found.unit == ""
        and bool(found.house_number)
        and ((found.house_number, found.street, found.zip5) in units_at)
    )


def door_in_doubt(request: Request, found: Place, addresses: Iterable[Address]) -> bool:
    """The requester names the door to be disclosed (house number, street, ZIP) but not as
    the filing has it, and the file cannot say which side slipped: a unit the requester
    gives and the filing lacks, or a house number one typo off (``one_typo``) at an
    address the person filed one year only and nobody else files at, where the person
    never filed the requester's house number. An officer looks."""
    house = found.house_number
    if not (house and same(found.street, request.street) and same(found.zip5, request.zip5)):
        return False
    if house == request.house_number:
        return bool(request.unit) and found.unit == ""
    if not one_typo(house, request.house_number):
        return False
    on_street = [a for a in addresses if same(a.street, found.street) and same(a.zip5, found.zip5)]
    if any(same(a.house_number, request.house_number) for a in on_street):
        return False  # the requester's door is the person's too: another address
    filed = [a for a in on_street if same(a.house_number, house)]
    return all((a.n_years or 0) <= 1 and (a.support or 0) <= 1 for a in filed)


def judge(
    row_number: int,
    request: Request,
    best: Best | None,
    evidence: Evidence | None,
    nicknames: Sequence[str],
    fixes: Sequence[str],
) -> Outcome:
    """The decision summary of one request: the best person (``rank_persons``), the
    checks on it and the address its latest filing in the requested periods gives. The
    request's first name sets rivals aside only for a person the request identifies: where
    the requester's address does not corroborate the best person, or an identifier
    conflicts, every rival stands (``Best.candidates_all``), as it would without the name."""
    if best is None or evidence is None:
        return Outcome(row_number)
    person = evidence.person
    latest = latest_filing(evidence.filings, request.tax_periods)
    found = None if latest is None else filled_place(latest, evidence, place(latest, evidence))
    usable = True
    if found is not None:
        missing = unit_missing(found, evidence.units_at) or door_in_doubt(
            request, found, evidence.addresses
        )
        usable = not missing if found.usable is None else found.usable and not missing
    corroborated = address_corroborated(request, evidence.addresses)
    conflict = identifier_conflict(request, person)
    candidates, margin = best.candidates, best.margin
    if not corroborated or conflict:
        candidates, margin = best.candidates_all, best.margin_all
    return Outcome(
        row_number=row_number,
        candidates=candidates,
        score=best.probability,
        margin_log2=float("inf") if margin > NO_RIVAL_BITS else margin,
        first_name_agrees=first_name_agrees(request, evidence.names, nicknames, fixes),
        address_corroborated=corroborated,
        filing_year=None if found is None else found.tax_year,
        ineligible=bool(person.deceased),
        identifier_conflict=conflict,
        suffix_unconfirmed=suffix_unconfirmed(request, person),
        address_usable=usable,
        person_tin=person.tin,
        **({} if found is None else {c: getattr(found, c) for c in _SHOWN}),
    )
