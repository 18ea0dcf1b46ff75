"""``variant.door_variant``: another door of the person's written with a slip, never the
same door, never another town; ``line_and_zip_slip`` only across ZIPs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taxmatch.match.evidence import Address
from taxmatch.match.variant import door_variant, line_and_zip_slip


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


def test_one_street_spelt_two_ways_is_no_variant() -> None:
    assert not door_variant(_at("12", "SAINT PAUL ST"), _at("12", "ST PAUL ST"))
