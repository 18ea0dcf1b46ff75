"""Noise keeps fields well formed; TINs stay unique; sampling totals stay exact."""

from __future__ import annotations

from random import Random

from hypothesis import given, settings
from hypothesis import strategies as st

from taxmatch.generate.compose import RequestMix, plan_batch, take
from taxmatch.generate.noise import (
    digit_slip,
    house_number_slip,
    typo,
    unit_variant,
    variant_tokens,
)
from taxmatch.generate.places import new_place, new_street
from taxmatch.generate.territory import territory
from taxmatch.generate.tins import TinAllocator

names = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    min_size=1,
    max_size=20,
)
seeds = st.integers(min_value=0, max_value=2**32)


@given(names, seeds)
def test_typo_keeps_a_name_letters_only(name: str, seed: int) -> None:
    out = typo(name, Random(seed))
    assert out.isalpha()
    assert abs(len(out) - len(name)) <= 1


@given(st.text(alphabet="0123456789", min_size=1, max_size=12), seeds)
def test_digit_slip_changes_digits_not_shape(digits: str, seed: int) -> None:
    out = digit_slip(digits, Random(seed), keep_first=True)
    assert out.isdigit()
    assert len(out) == len(digits)
    if len(digits) > 1:
        assert out[0] == digits[0] or len(set(digits)) == 1


@given(seeds)
def test_street_variants_keep_the_house_number(seed: int) -> None:
    rng = Random(seed)
    street = new_street(rng)
    house = street.split(" ")[0]
    assert variant_tokens(street, rng, 1.0).split(" ")[0] == house
    slipped = house_number_slip(street, rng)
    assert slipped.split(" ")[1:] == street.split(" ")[1:]
    assert slipped.split(" ")[0].isdigit()


@given(seeds)
def test_unit_variants_keep_the_number(seed: int) -> None:
    rng = Random(seed)
    place = new_place(rng, territory().pick(rng), unit_share=1.0)
    number = place.unit.split(" ")[-1]
    assert unit_variant(place.unit, rng).endswith(number)


def test_tins_are_unique_and_well_formed() -> None:
    tins = TinAllocator(seed=4)
    ssns = [tins.ssn() for _ in range(20_000)]
    itins = [tins.itin() for _ in range(5_000)]
    assert len(set(ssns)) == len(ssns)
    assert len(set(itins)) == len(itins)
    assert all(s[0] != "9" and s[:3] not in ("000", "666") for s in ssns)
    assert all(i[0] == "9" and 70 <= int(i[3:5]) <= 99 for i in itins)
    more = TinAllocator(seed=4, ssn_next=20_000)
    assert not set(ssns) & {more.ssn() for _ in range(1_000)}


@settings(max_examples=200)
@given(st.integers(0, 500), st.integers(1, 500), seeds)
def test_take_spreads_an_exact_total(need: int, items: int, seed: int) -> None:
    rng = Random(seed)
    total, left = 0, need
    for remaining in range(items, 0, -1):
        k = take(left, remaining, rng)
        left -= k
        total += k
    assert total == need


@given(st.integers(20, 100_000), seeds)
def test_plan_is_exact(rows: int, seed: int) -> None:
    plan = plan_batch(rows, RequestMix(), filers=1000, household=100, rng=Random(seed))
    duplicates = sum(k.startswith("r10_") for k in plan.invalid_kinds)
    assert plan.bases + duplicates == rows
    assert plan.in_master + plan.household_member + plan.not_in_master == plan.bases
    assert plan.boilerplate > 0.05 * rows
    assert plan.boilerplate + len(plan.invalid_kinds) <= plan.bases


@given(st.integers(1, 99_999), seeds)
def test_house_number_slip_never_gives_zero_or_a_leading_zero(house: int, seed: int) -> None:
    out = house_number_slip(f"{house} MAIN ST", Random(seed)).split(" ")[0]
    assert out != str(house)
    assert out[0] != "0"
