"""``mend.place`` through ``rules.judge``: a latest filing at a new door nobody else
files at, whose street someone else files spelt otherwise at the same house number in
the same ZIP, is not disclosed as filed (REVIEW)."""

from __future__ import annotations

from taxmatch.match.evidence import Address, Best, Evidence, Filer, Filing, Name, Person, Request
from taxmatch.match.rules import judge

_OLD = Address("77", "ELM ST", "", "", "12345", "SPRINGFIELD", "IL", "77 ELM ST", 5, 5, 5, 2023)


def _evidence(
    street: str, filers: list[Filer], city: str = "SPRINGFIELD", house: str = "1113"
) -> Evidence:
    slip = Filing(2025, house, street, "", "", city, "IL", "12345", f"{house} {street}", "")
    new = Address(house, street, "", "", "12345", city, "IL", slip.line1, 1, 1, 1, 2025)
    return Evidence(
        person=Person("P1", "123456789", False, "", None),
        names=[Name("ANN", "LEE")],
        addresses=[_OLD, new],
        filings=[slip],
        neighbours={},
        co_filed={},
        units_at=frozenset(),
        elsewhere={},
        variants={slip.key: frozenset(filers)},
    )


def _judged(
    street: str, filers: list[Filer], city: str = "SPRINGFIELD", house: str = "1113"
) -> tuple[bool, str | None]:
    request = Request("ANN", "LEE", "77", "ELM ST", "12345", "", "", None, (2024, 2025))
    best = Best("P1", 0.99999, 1, 40.0, 1, 40.0)
    out = judge(1, request, best, _evidence(street, filers, city, house), [], [])
    return out.address_usable, out.line1


def _at(street: str, house: str = "1113") -> Filer:
    return Filer(house, street, "", "", "12345", "SPRINGFIELD", "IL", "P9")


def test_a_stranger_at_the_door_spelt_otherwise_sends_the_row_to_review() -> None:
    assert _judged("MAPEL GROVE RD", [_at("MAPLE GROVE RD")]) == (False, "1113 MAPEL GROVE RD")
    # a stranger at another house number, or on another street: disclosed as filed
    assert _judged("MAPEL GROVE RD", [_at("MAPLE GROVE RD", "1115")]) == (
        True,
        "1113 MAPEL GROVE RD",
    )
    assert _judged("MAPEL GROVE RD", [_at("OAK AVE")]) == (True, "1113 MAPEL GROVE RD")
    assert _judged("MAPEL GROVE RD", []) == (True, "1113 MAPEL GROVE RD")


def test_a_filing_whose_blank_city_is_filled_keeps_every_doubt() -> None:
    """The same filing with its city left blank: the city is filled from the person's
    ZIP (``match.blanks``), and the door is judged as if written out in full: REVIEW,
    the filing as it stands undeliverable (no line disclosed)."""
    assert _judged("MAPEL GROVE RD", [_at("MAPLE GROVE RD")], city="") == (False, None)
    assert _judged("MAPEL GROVE RD", [], city="") == (True, "1113 MAPEL GROVE RD")


def test_a_new_door_at_the_house_number_of_the_persons_own_is_reviewed() -> None:
    """The latest filing, one year at a door nobody else files at, has the house number
    and ZIP of the person's old door on a street however unlike ("HSTER SDREET" for
    "HESTER ST"): a misspelt street as likely as a move, so an officer looks (REVIEW)."""
    assert _judged("MAPLE GROVE RD", [], house="77") == (False, "77 MAPLE GROVE RD")
    # another house number: a move, disclosed as filed
    assert _judged("MAPLE GROVE RD", [], house="78") == (True, "78 MAPLE GROVE RD")
