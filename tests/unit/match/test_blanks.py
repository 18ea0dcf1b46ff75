"""A filing's blank ZIP, city or state told by its door (``match.blanks``), and the
decision summary that reads it (``rules.judge``)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from taxmatch.match.blanks import door_zip, fill, zip_town
from taxmatch.match.evidence import (
    Address,
    Best,
    Elsewhere,
    Evidence,
    Filing,
    Name,
    Person,
    Request,
)
from taxmatch.match.rules import judge

_ZIPS = st.sampled_from(["", "12345", "12346"])
_TOWNS = st.sampled_from(
    [
        ("SPRINGFIELD", "IL"),
        ("SPRINGFELD", "IL"),
        ("DECATUR", "IL"),
        ("", "IL"),
        ("SPRINGFIELD", ""),
    ]
)


def _filing(zip5: str = "", city: str = "SPRINGFIELD", state: str = "IL") -> Filing:
    return Filing(2025, "12", "MAIN ST", "", "", city, state, zip5, "12 MAIN ST", "")


def _addr(
    zip5: str, city: str = "SPRINGFIELD", state: str = "IL", *, house: str = "12", years: int = 1
) -> Address:
    return Address(
        house, "MAIN ST", "", "", zip5, city, state, f"{house} MAIN ST", years, 1, years, 2020
    )


def _evidence(
    filing: Filing, addresses: list[Address], elsewhere: list[Elsewhere] | None = None
) -> Evidence:
    return Evidence(
        person=Person("P1", "123456789", False, "", None),
        names=[Name("ANN", "LEE")],
        addresses=[*addresses],
        filings=[filing],
        neighbours={},
        co_filed={},
        units_at=frozenset(),
        elsewhere={filing.key: frozenset(elsewhere or [])},
    )


def test_a_blank_zip_takes_the_one_zip_filed_at_the_door_in_its_town() -> None:
    slip = _filing()
    others: list[Elsewhere] = [("", "12345", "SPRINGFIELD", "IL", 2, "P2")]
    assert door_zip(slip, [], others) == "12345"
    # the person's own other years count too
    assert door_zip(slip, [_addr("12345", years=2)], []) == "12345"
    # one filing is not enough; two ZIPs at the door, or another town's, tell nothing
    assert door_zip(slip, [], [("", "12345", "SPRINGFIELD", "IL", 1, "P2")]) is None
    assert door_zip(slip, [_addr("12346", years=2)], others) is None
    assert door_zip(slip, [], [("", "12345", "SPRINGFELD", "IL", 5, "P2")]) is None
    # a busy door's own ZIP typos: the ZIP with nine filings in ten is the door's
    busy: list[Elsewhere] = [
        ("", "12345", "SPRINGFIELD", "IL", 19, "P2"),
        ("", "12346", "SPRINGFIELD", "IL", 1, "P3"),
    ]
    assert door_zip(slip, [], busy) == "12345"
    even: list[Elsewhere] = [
        ("", "12345", "SPRINGFIELD", "IL", 8, "P2"),
        ("", "12346", "SPRINGFIELD", "IL", 2, "P3"),
    ]
    assert door_zip(slip, [], even) is None
    # another door on the street is not the door
    assert door_zip(slip, [_addr("12345", house="14", years=3)], []) is None


def test_a_blank_town_is_the_one_the_person_files_the_zip_with_most() -> None:
    slip = _filing("12345", city="")
    assert zip_town(slip, [_addr("12345", years=3), _addr("12345", "DECATUR", years=1)]) == (
        "SPRINGFIELD",
        "IL",
    )
    # a tie, or a ZIP the person never filed with a town: none
    assert zip_town(slip, [_addr("12345", years=2), _addr("12345", "DECATUR", years=2)]) is None
    assert zip_town(slip, [_addr("12346", years=3)]) is None
    # the part the slip did fill must agree
    assert zip_town(_filing("12345", state="IN"), [_addr("12345", years=3)]) is None


@given(_ZIPS, _TOWNS, st.lists(st.tuples(_ZIPS, _TOWNS, st.integers(1, 3)), max_size=4))
def test_fill_fills_a_blank_only_and_never_changes_what_was_filed(
    zip5: str, town: tuple[str, str], history: list[tuple[str, tuple[str, str], int]]
) -> None:
    slip = _filing(zip5, *town)
    addresses = [_addr(z, c, s, years=n) for z, (c, s), n in history]
    others: list[Elsewhere] = [("", z, c, s, n, "P2") for z, (c, s), n in history]
    filled = fill(slip, _evidence(slip, addresses, others))
    if filled is None:
        return
    # exactly one part group was blank, and only blanks changed
    for field in ("zip5", "city", "state"):
        if getattr(slip, field):
            assert getattr(filled, field) == getattr(slip, field)
        else:
            assert getattr(filled, field)
    assert filled._replace(zip5=slip.zip5, city=slip.city, state=slip.state) == slip
    # a filled ZIP is one filed at the door in the town the slip names
    if not slip.zip5:
        assert any(z == filled.zip5 and (c, s) == town for z, (c, s), _ in history)


def _request() -> Request:
    return Request(
        first_name="ANN",
        last_name="LEE",
        house_number="12",
        street="MAIN ST",
        zip5="12345",
        po_box="",
        suffix="",
        date_of_birth=None,
        tax_periods=(2024, 2025),
        unit="",
        city="SPRINGFIELD",
        state="IL",
    )


def test_judge_discloses_the_door_with_its_blank_zip_filled_and_says_so() -> None:
    slip = _filing()
    best = Best("P1", 0.99999, 1, 40.0, 1, 40.0)
    # the person filed the door this once (their own other years complete it, ``mend``);
    # others file it with its ZIP
    told = _evidence(slip, [], [("", "12345", "SPRINGFIELD", "IL", 3, "P2")])
    out = judge(1, _request(), best, told, [], [])
    assert out.address_usable
    assert (out.line1, out.zip5) == ("12 MAIN ST", "12345")
    assert (out.address_mended, out.mended_from) == ("blank", "12 MAIN ST SPRINGFIELD IL")
    # nothing at the door to tell the ZIP: not deliverable, as before
    bare = judge(1, _request(), best, _evidence(slip, []), [], [])
    assert not bare.address_usable
    assert (bare.line1, bare.address_mended) == (None, None)


def test_a_blank_zip_is_not_filled_where_others_file_the_door_with_units() -> None:
    """Others file the door only with units: a filing without one lacks its unit (as
    ``rules.unit_missing`` says of a filed ZIP), so its ZIP is not filled: REVIEW."""
    best = Best("P1", 0.99999, 1, 40.0, 1, 40.0)
    units: list[Elsewhere] = [
        ("APT 3", "12345", "SPRINGFIELD", "IL", 2, "P2"),
        ("APT 4", "12345", "SPRINGFIELD", "IL", 2, "P3"),
    ]
    out = judge(1, _request(), best, _evidence(_filing(), [], units), [], [])
    assert not out.address_usable
    assert out.address_mended is None
    # without units at the door the same filing is filled and disclosed
    bare = [("", z, c, s, n, p) for _, z, c, s, n, p in units]
    assert judge(1, _request(), best, _evidence(_filing(), [], bare), [], []).address_usable
