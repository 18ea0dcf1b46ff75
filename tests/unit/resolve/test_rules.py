"""The rules judging one group or one pair: names, dates of birth, address agreements."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from taxmatch.resolve.edges import accepted_edges
from taxmatch.resolve.records import Filed, MergeCandidate, Modal
from taxmatch.resolve.rules import (
    candidate,
    fragment_confirms,
    given_names_agree,
    middle_names_conflict,
    near_address,
    splits_off,
    suffixes_confirm,
    switch_address,
    window_address,
)

D1, D2 = date(1980, 2, 3), date(1981, 5, 6)
names = st.sampled_from(["ANNA", "ANN", "ANNIE", "BOB", "ROBERT", "JI EUN", "JIEUN", "J", ""])
middles = st.sampled_from(["", "J", "JAMES", "JOHN", "A"])
dobs = st.sampled_from([None, D1, D2])
modals = st.builds(
    Modal, names, st.sampled_from(["LEE", "KIM", ""]), middles,
    st.sampled_from(["", "JR", "SR"]), dobs,
)  # fmt: skip
filings = st.builds(
    Filed, st.integers(2015, 2025), st.sampled_from(["", "12", "40"]),
    st.sampled_from(["", "OAK ST", "ELM AVE"]), st.sampled_from(["", "APT 1", "APT 2"]),
    st.sampled_from(["", "7"]), st.sampled_from(["", "62701", "62702"]),
)  # fmt: skip


def _candidate(src: str, dst: str, **kw: object) -> MergeCandidate:
    base: dict[str, object] = {
        "src": src,
        "dst": dst,
        "src_first": "ANNA",
        "dst_first": "ANNA",
        "src_middle": "",
        "dst_middle": "",
        "src_suffix": "",
        "dst_suffix": "",
        "dob_equal": True,
        "address_shared": False,
    }
    base.update(kw)
    return MergeCandidate(**base)  # type: ignore[arg-type]


def test_merge_rules_are_conservative() -> None:
    assert accepted_edges([_candidate("a", "b")]) == [("a", "b")]
    assert accepted_edges([_candidate("a", "b"), _candidate("a", "c")]) == []
    assert accepted_edges([_candidate("a", "b", dst_first="BOB")]) == []
    assert accepted_edges([_candidate("a", "b", src_suffix="JR", dst_suffix="SR")]) == []
    assert accepted_edges([_candidate("a", "b", dob_equal=False)]) == []
    assert accepted_edges([_candidate("a", "b", dob_equal=False, address_shared=True)])
    assert middle_names_conflict("JAMES", "JOHN")
    assert not middle_names_conflict("J", "JOHN")
    assert given_names_agree("JI EUN", "JIEUN")
    assert given_names_agree("BILL", "WILLIAM")


def test_confirmations() -> None:
    sr = _candidate("a", "b", dob_equal=False, address_shared=True, dst_suffix="SR")
    assert not suffixes_confirm(sr)
    assert suffixes_confirm(replace(sr, src_suffix="SR"))
    assert suffixes_confirm(replace(sr, dob_equal=True))
    plain = _candidate("a", "b", dob_equal=False, address_shared=True)
    assert fragment_confirms(plain)
    assert not fragment_confirms(replace(plain, dob_one_sided=True))
    assert not fragment_confirms(replace(plain, src_suffix="JR"))


def test_candidate_needs_one_last_key_and_no_dob_conflict() -> None:
    anna = Modal("ANNA", "LEE", dob=D1)
    assert candidate("a", "b", anna, anna, False) == _candidate("a", "b")
    assert candidate("a", "b", anna, replace(anna, dob=D2), True) is None
    assert candidate("a", "b", anna, replace(anna, last_key="KIM"), True) is None
    assert candidate("a", "b", replace(anna, last_key=""), replace(anna, last_key=""), True) is None
    one_sided = candidate("a", "b", anna, replace(anna, dob=None), True)
    assert one_sided is not None
    assert one_sided.dob_one_sided
    assert not one_sided.dob_equal


def test_split_needs_both_names_and_the_dob_to_disagree() -> None:
    mode = Modal("ANNA", "LEE", dob=D1)
    assert splits_off("BOB", "KIM", None, mode)
    assert splits_off("BOB", "KIM", D2, mode)
    assert not splits_off("BOB", "KIM", D1, mode)  # same DOB: a name change, not a person
    assert not splits_off("ANNA", "KIM", None, mode)  # a marriage keeps the first name
    assert not splits_off("ANN", "KIM", None, mode)  # a nickname agrees
    assert not splits_off("BOB", "LEE", None, mode)  # a first-name typo


def test_address_agreements() -> None:
    oak = Filed(2020, "12", "OAK ST", "", "", "62701")
    assert near_address([oak], [replace(oak, year=2023)])
    # Four years away and further, the whole door must agree, not the house and ZIP alone.
    assert not near_address([oak], [replace(oak, year=2024, street="ELM AVE")])
    assert near_address([oak], [replace(oak, year=2024)])
    assert near_address([oak], [replace(oak, year=2031)])
    flat = replace(oak, unit="APT 1")
    assert not near_address([flat], [replace(flat, year=2031, unit="APT 2")])
    assert near_address([flat], [replace(flat, year=2023, unit="APT 2")])  # house and ZIP
    # The nearest year on the far side decides too: in 2027 the other filed elsewhere.
    assert not near_address(
        [oak], [replace(oak, year=2027, street="ELM AVE"), replace(oak, year=2031)]
    )
    # The nearest year on a side decides: in 2021 the other lived elsewhere.
    assert not near_address([oak], [replace(oak, year=2022), replace(oak, year=2021, zip5="1")])
    assert near_address([oak], [replace(oak, year=2018, zip5="1"), replace(oak, year=2022)])
    assert switch_address([oak, replace(oak, year=2019, zip5="1")], [replace(oak, year=2021)])
    assert not switch_address([oak, replace(oak, year=2021, zip5="1")], [replace(oak, year=2022)])
    assert window_address([oak], [replace(oak, year=2017, unit="APT 1")])
    assert not window_address([replace(oak, unit="APT 2")], [replace(oak, unit="APT 1")])
    assert not window_address([oak], [replace(oak, street="ELM AVE")])
    assert not window_address([replace(oak, house_number="")], [replace(oak, house_number="")])


@given(names, names)
def test_given_names_agree_is_symmetric_and_reflexive(a: str, b: str) -> None:
    assert given_names_agree(a, b) == given_names_agree(b, a)
    assert given_names_agree(a, a)


@given(middles, middles)
def test_middle_name_conflict_is_symmetric_and_irreflexive(a: str, b: str) -> None:
    assert middle_names_conflict(a, b) == middle_names_conflict(b, a)
    assert not middle_names_conflict(a, a)


@given(modals, modals, st.booleans())
def test_candidate_never_pairs_two_dates_of_birth_or_two_last_keys(
    s: Modal, d: Modal, shared: bool
) -> None:
    c = candidate("a", "b", s, d, shared)
    if s.dob is not None and d.dob is not None and s.dob != d.dob:
        assert c is None
    if s.last_key != d.last_key or not s.last_key:
        assert c is None
    back = candidate("b", "a", d, s, shared)
    assert (c is None) == (back is None)
    if c is not None and back is not None:
        assert (c.dob_equal, c.dob_one_sided) == (back.dob_equal, back.dob_one_sided)


@given(st.lists(filings, max_size=4), st.lists(filings, max_size=4))
def test_address_agreements_ignore_order_and_need_a_zip(a: list[Filed], b: list[Filed]) -> None:
    for rule in (near_address, switch_address, window_address):
        assert rule(a, b) == rule(a[::-1], b[::-1])
        if rule(a, b):
            assert any(f.zip5 for f in a)
            assert any(f.zip5 for f in b)
    assert window_address(a, b) == window_address(b, a)  # every rule-7 check is two-sided
