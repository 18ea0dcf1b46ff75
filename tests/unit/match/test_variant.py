"""``variant.door_variant``: another door of the person's written with a slip, never the
same door, never another town; ``line_and_zip_slip`` only across ZIPs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taxmatch.match.evidence import Address, Filer, Filing
from taxmatch.match.variant import (
    door_variant,
    house_renamed,
    household_variant,
    line_and_zip_slip,
    street_respelt,
)


def _at(
    house: str, street: str, *, unit: str = "", zip5: str = "12345", city: str = "SPRINGFIELD"
) -> Address:
    return Address(house, street, unit, "", zip5, city, "IL", f"{house} {street}", 1, 1, 1, 2023)


_HOUSES = st.sampled_from(["", "12", "13", "21", "47", "112", "345"])
_STREETS = st.sampled_from(
    ["MAIN ST", "MAIN SR", "MAIN STREET", "OAK AVE", "SAINT PAUL ST", "ST PAUL ST"]
)
_UNITS = st.sampled_from(["", "APT 1", "APT 2"])
_ZIPS = st.sampled_from(["12345", "12346", "12999", "", "1234"])
_CITIES = st.sampled_from(["SPRINGFIELD", "SPRINGFELD", "SHELBYVILLE", ""])
_DOORS = st.builds(_at, _HOUSES, _STREETS, unit=_UNITS, zip5=_ZIPS, city=_CITIES)


@given(_DOORS)
def test_a_door_is_never_its_own_variant(a: Address) -> None:
    assert not door_variant(a, a)
    assert not line_and_zip_slip(a, a)


@given(_DOORS, _DOORS)
def test_a_variant_is_in_the_same_town_with_a_house_number(a: Address, b: Address) -> None:
    if door_variant(a, b):
        assert a.house_number
        assert b.house_number
        assert a.state == b.state
        assert a.zip5 == b.zip5 or (a.city and b.city)
        assert a.unit == b.unit or b.unit == ""
        assert (a.house_number, a.street) != (b.house_number, b.street)


@given(_DOORS, _DOORS)
def test_a_line_and_zip_slip_is_a_variant_in_another_zip(a: Address, b: Address) -> None:
    if line_and_zip_slip(a, b):
        assert door_variant(a, b)
        assert a.zip5 != b.zip5


@pytest.mark.parametrize(
    ("other", "expected"),
    [
        pytest.param(_at("12", "MAIN SR"), True, id="street typo"),
        pytest.param(_at("13", "MAIN ST"), True, id="house typo"),
        pytest.param(_at("47", "MAIN ST"), True, id="two house characters"),
        pytest.param(_at("345", "MAIN ST"), False, id="another house"),
        pytest.param(_at("12", "OAK AVE"), False, id="another street"),
        pytest.param(_at("12", "MAIN SR", zip5="12999"), True, id="and another ZIP, one town"),
        pytest.param(_at("12", "MAIN SR", zip5="12999", city="SHELBYVILLE"), False, id="a town"),
        pytest.param(_at("12", "MAIN ST", zip5="12999"), False, id="the same door: a ZIP slip"),
    ],
)
def test_door_variant_cases(other: Address, expected: bool) -> None:
    assert door_variant(other, _at("12", "MAIN ST")) is expected


def test_two_doors_without_a_city_are_no_town() -> None:
    # Blank cities are not one town: another ZIP could be anywhere in the state.
    assert not door_variant(
        _at("12", "MAIN SR", zip5="12999", city=""), _at("12", "MAIN ST", city="")
    )
    assert door_variant(_at("12", "MAIN SR", city=""), _at("12", "MAIN ST", city=""))


def test_one_street_spelt_two_ways_is_no_variant() -> None:
    assert not door_variant(_at("12", "SAINT PAUL ST"), _at("12", "ST PAUL ST"))


def _filer(house: str, street: str, person: str, *, zip5: str = "12345") -> Filer:
    return Filer(house, street, "", "", zip5, "SPRINGFIELD", "IL", person)


def test_a_housemate_at_a_variant_of_the_door() -> None:
    slip = _at("412", "MAIN ST")
    key = (slip.house_number, slip.street, slip.unit, slip.po_box, slip.zip5)
    before = ("77", "ELM ST", "", "", "12345")  # where the person and the housemate lived
    co_filed = {"P2": frozenset({before}), "P3": frozenset({key})}
    assert household_variant(slip, key, [_filer("413", "MAIN ST", "P2")], co_filed)
    # a stranger there, a housemate two doors of no variant, or one only at the slip: no
    assert not household_variant(slip, key, [_filer("413", "MAIN ST", "P9")], co_filed)
    assert not household_variant(slip, key, [_filer("9", "OAK AVE", "P2")], co_filed)
    assert not household_variant(slip, key, [_filer("413", "MAIN ST", "P3")], co_filed)
    # another town's ZIP at the same numbers is no variant
    other = [_filer("413", "MAIN ST", "P2", zip5="99999")]
    assert not household_variant(slip._replace(city="SHELBYVILLE"), key, other, co_filed)


@given(_DOORS, st.lists(st.tuples(_HOUSES, _STREETS, st.sampled_from(["P2", "P3"])), max_size=4))
def test_a_household_variant_is_a_door_variant_of_a_co_filer(
    slip: Address, at: list[tuple[str, str, str]]
) -> None:
    key = (slip.house_number, slip.street, slip.unit, slip.po_box, slip.zip5)
    filers = [_filer(h, s, p, zip5=slip.zip5 or "12345") for h, s, p in at]
    co_filed = {"P2": frozenset({("1", "X ST", "", "", "12345")})}
    got = household_variant(slip, key, filers, co_filed)
    assert got == any(door_variant(f, slip) and f.person_id == "P2" for f in filers)


@given(_DOORS, _DOORS)
def test_a_respelt_street_is_a_variant_at_the_same_number_in_the_same_zip(
    a: Address, b: Address
) -> None:
    if street_respelt(a, b):
        assert door_variant(a, b)
        assert (a.house_number, a.zip5) == (b.house_number, b.zip5)
        assert a.street != b.street


def test_street_respelt_cases() -> None:
    slip = _at("1113", "MAPEL GROVE RD")
    assert street_respelt(_at("1113", "MAPLE GROVE RD"), slip)
    # another house number, another ZIP of the town, the same street or one spelt two
    # ways, or a street no typo away: no
    assert not street_respelt(_at("1115", "MAPLE GROVE RD"), slip)
    assert not street_respelt(_at("1113", "MAPLE GROVE RD", zip5="12346"), slip)
    assert not street_respelt(_at("1113", "MAPEL GROVE RD"), slip)
    assert not street_respelt(_at("12", "SAINT PAUL ST"), _at("12", "ST PAUL ST"))
    assert not street_respelt(_at("1113", "OAK AVE"), slip)
    # another street of the name, told apart by its type or its direction: no
    assert not street_respelt(_at("445", "ORCHARD DR"), _at("445", "ORCHARD AVE"))
    assert not street_respelt(_at("9", "5TH ST N"), _at("9", "5TH ST S"))
    # a type misspelt is no other type
    assert street_respelt(_at("8", "ELMWOOD DR"), _at("8", "ELMWOOD XRIVE"))


def _slip(
    house: str, street: str, *, unit: str = "", zip5: str = "12345", year: int = 2025
) -> Filing:
    return Filing(year, house, street, unit, "", "SPRINGFIELD", "IL", zip5, f"{house} {street}", "")


@given(_DOORS, _DOORS)
def test_a_renamed_house_keeps_number_zip_and_unit_on_another_street(
    a: Address, b: Address
) -> None:
    slip = _slip(b.house_number or "", b.street or "", unit=b.unit or "", zip5=b.zip5 or "")
    if house_renamed(a, slip):
        assert a.house_number
        assert a.house_number == slip.house_number
        assert a.zip5 == slip.zip5
        assert a.unit == slip.unit or slip.unit == ""
        assert a.street != slip.street
    # the slip's own year: two filings, each as filed
    assert not house_renamed(a, slip._replace(tax_year=a.last_year or 2023))


@pytest.mark.parametrize(
    ("other", "slip_unit", "expected"),
    [
        pytest.param(_at("12", "HESTER ST"), "", True, id="a street however unlike"),
        pytest.param(_at("12", "MAIN SR"), "", True, id="a street typo"),
        pytest.param(_at("12", "OAK AVE", unit="APT 2"), "", True, id="the slip dropped the unit"),
        pytest.param(_at("13", "OAK AVE"), "", False, id="another house number"),
        pytest.param(_at("12", "OAK AVE", zip5="12999"), "", False, id="another ZIP"),
        pytest.param(_at("12", "OAK AVE", unit="APT 2"), "APT 1", False, id="another unit"),
        pytest.param(_at("", "OAK AVE"), "", False, id="no house number"),
    ],
)
def test_house_renamed_cases(other: Address, slip_unit: str, expected: bool) -> None:
    assert house_renamed(other, _slip("12", "MAIN ST", unit=slip_unit)) is expected


def test_one_street_spelt_two_ways_is_not_renamed() -> None:
    assert not house_renamed(_at("12", "SAINT PAUL ST"), _slip("12", "ST PAUL ST"))
