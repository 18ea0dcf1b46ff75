"""Shadow probes: how they are built from sampled persons and how their answers are judged."""

from __future__ import annotations

from dataclasses import astuple
from datetime import date
from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taxmatch.contracts import REQUEST_COLUMNS
from taxmatch.match.evidence import Outcome
from taxmatch.normalise.names import normalise_name
from taxmatch.normalise.typos import fixable
from taxmatch.pipeline.probes import (
    MADE_UP_EVERY,
    Probe,
    build_probes,
    by_group,
    judge,
    made_up,
    probe_records,
    requested_years,
    verdicts,
)
from taxmatch.policy.accuracy import ProbeCounts, total
from taxmatch.policy.coverage import ALL_GROUPS, GROUPS
from taxmatch.policy.model import parse_policy
from taxmatch.reference.probes import ProbePerson

AS_OF = date(2026, 11, 30)
POLICY = parse_policy(
    resources.files("taxmatch.policy").joinpath("default_policy.yaml").read_text()
)


def _address(line1: str, zip5: str = "98101", unit: str = "") -> dict[str, str]:
    house, _, street = line1.partition(" ")
    return {
        "house_number": house,
        "street": street,
        "unit": unit,
        "po_box": "",
        "city": "SEATTLE",
        "state": "WA",
        "zip5": zip5,
        "line1": line1,
    }


def _person(i: int) -> ProbePerson:
    home = _address(f"{100 + i} MAIN ST")
    old = _address(f"{200 + i} OAK AVE", zip5="98102")
    first = ("MARIA", "JOHN", "ANH", "GRACE", "ALAN", "JOAN", "ROSA", "ADA", "LI", "JOSE")[i % 10]
    return ProbePerson(
        f"P{i}",
        first,
        "",
        f"SURNAME{chr(65 + i % 26)}",
        "",
        date(1980, 1, 1 + i % 28),
        [f"{123456700 + i}"],
        [home],
        [home, old],
    )


PEOPLE = [_person(i) for i in range(30)]


def test_a_probes_misspelt_first_name_is_findable_when_the_matcher_fixes_it() -> None:
    """The probes' answer follows the matcher's rule (``normalise.typos.fixable``) by the
    snapshot's first-name shares: with no shares nothing is fixed; with them, exactly the
    probes whose first name is a misspelling of the person's become findable."""
    people = [_person(i) for i in range(300)]
    shares = {p.first_name: 0.1 for p in people}
    plain = build_probes(people, "B1", AS_OF, set(), {})
    fixed = build_probes(people, "B1", AS_OF, set(), shares)
    assert [p.fields for p in plain] == [p.fields for p in fixed]
    by_tin = {p.tins[0]: p for p in people}
    parts = ("first_name", "middle_name", "last_name", "suffix")
    changed = 0
    for a, b in zip(plain, fixed, strict=True):
        if a.findable == b.findable:
            continue
        changed += 1
        asked = normalise_name(*(b.fields[c] for c in parts)).first
        assert b.findable
        assert not a.findable
        assert fixable(asked, by_tin[min(b.tins)].first_name, shares.get(asked, 0.0), 0.1)
    assert changed


def test_requested_years_stay_within_the_address_age_and_lookback() -> None:
    first, last = requested_years(AS_OF, POLICY)
    assert last == 2025
    assert AS_OF.year - POLICY.tax_periods.lookback_years <= first <= last
    assert (AS_OF - date(first, 12, 31)).days / 365.25 <= POLICY.matching.max_address_age_years
    assert (AS_OF - date(first - 1, 12, 31)).days / 365.25 > POLICY.matching.max_address_age_years


def test_probes_are_seeded_and_every_tenth_is_made_up() -> None:
    a = build_probes(PEOPLE, "B1", AS_OF, set(), {})
    assert a == build_probes(PEOPLE, "B1", AS_OF, set(), {})
    assert a != build_probes(PEOPLE, "B2", AS_OF, set(), {})
    made = [p for p in a if not p.tins]
    assert len(made) == len(PEOPLE) // MADE_UP_EVERY
    for p in made:
        assert not p.latest
        assert not p.own
        assert not p.findable
    assert all(set(p.fields) <= set(REQUEST_COLUMNS) for p in a)


def test_a_made_up_name_someone_files_under_is_not_asked() -> None:
    i = MADE_UP_EVERY - 1
    name = made_up(PEOPLE, i)
    assert name["first_name"] == PEOPLE[i].first_name
    assert name["last_name"] == PEOPLE[i + 1].last_name
    assert name["street_address"] == PEOPLE[i + 2].latest_addresses[0]["line1"]
    probes = build_probes(PEOPLE, "B1", AS_OF, {(name["first_name"], name["last_name"])}, {})
    assert len([p for p in probes if not p.tins]) == len(PEOPLE) // MADE_UP_EVERY - 1


def test_a_person_filed_under_a_placeholder_word_is_not_asked() -> None:
    # A request named "RESPONDENT" is rejected (R01), so no probe asks for such a person.
    people = [p._replace(first_name="RESPONDENT") if i == 0 else p for i, p in enumerate(PEOPLE)]
    asked = {p.tins for p in build_probes(people, "B1", AS_OF, set(), {})}
    assert frozenset(PEOPLE[0].tins) not in asked
    assert frozenset(PEOPLE[1].tins) in asked


def test_probe_records_are_valid_normalised_requests() -> None:
    probes = build_probes(PEOPLE, "B1", AS_OF, set(), {})
    table = probe_records(probes, (2023, 2025)).to_pydict()
    assert table["row_number"] == list(range(1, len(probes) + 1))
    assert set(table["mask"]) == {0}
    assert all(periods == [2023, 2024, 2025] for periods in table["tax_periods"])
    assert all(rid.startswith("PROBE-") for rid in table["request_id"])


KEY_HOME = ("100 MAIN ST", "", "98101")
PROBE = Probe(
    {},
    frozenset({"111111111"}),
    frozenset({KEY_HOME}),
    frozenset({KEY_HOME, ("200 OAK AVE", "", "98102")}),
    findable=True,
)
# The same person asked by an initial: found is not expected, but a disclosure is judged.
UNCONFIRMED = Probe(PROBE.fields, PROBE.tins, PROBE.latest, PROBE.own, findable=False)
NOBODY = Probe({}, frozenset(), frozenset(), frozenset())


def _outcomes(*rows: Outcome) -> dict[str, list[object]]:
    return {name: [getattr(r, name) for r in rows] for name in Outcome._fields}


def _disclosed(
    row: int, tin: str, line1: str, zip5: str = "98101", unit: str = "", mended: str | None = None
) -> Outcome:
    return Outcome(
        row,
        1,
        0.9999,
        20.0,
        True,
        True,
        2025,
        person_tin=tin,
        line1=line1,
        unit=unit,
        city="SEATTLE",
        state="WA",
        zip5=zip5,
        address_mended=mended,
    )


def test_judge_counts_right_wrong_person_and_wrong_address() -> None:
    probes = [PROBE, PROBE, PROBE, NOBODY, PROBE, PROBE, UNCONFIRMED]
    outcomes = _outcomes(
        _disclosed(1, "111111111", "100 MAIN ST"),  # right
        _disclosed(2, "222222222", "100 MAIN ST"),  # wrong person (a housemate)
        _disclosed(3, "111111111", "900 ELM ST"),  # right person, wrong address
        _disclosed(4, "333333333", "100 MAIN ST"),  # a made-up person disclosed
        Outcome(5),  # no candidate: a miss
        _disclosed(6, "111111111", "100 MAIN ST", unit="APT 2", mended="unit"),  # same door
        _disclosed(7, "111111111", "100 MAIN ST"),  # right, though not expected
    )
    counts = judge(probes, outcomes, POLICY, AS_OF)
    assert counts.probes == 7
    assert counts.findable == 5
    assert counts.disclosed == 6
    assert counts.wrong_person == 2
    assert counts.wrong_address == 3
    assert counts.found == 2


def test_judge_accepts_a_mend_only_to_the_persons_own_door() -> None:
    outcomes = _outcomes(
        _disclosed(1, "111111111", "200 OAK AVE", zip5="98102", mended="line"),  # theirs
        _disclosed(2, "111111111", "100 MAIN ST", zip5="98109", mended="zip"),  # their door
        _disclosed(3, "111111111", "200 OAK AVE", zip5="98102"),  # not mended: old address
    )
    counts = judge([PROBE, PROBE, PROBE], outcomes, POLICY, AS_OF)
    assert counts.found == 2
    assert counts.wrong_address == 1
    assert counts.wrong_person == 0


JUDGED = [PROBE, PROBE, PROBE, NOBODY, PROBE, PROBE, UNCONFIRMED]
JUDGED_OUTCOMES = _outcomes(
    _disclosed(1, "111111111", "100 MAIN ST"),
    _disclosed(2, "222222222", "100 MAIN ST"),
    _disclosed(3, "111111111", "900 ELM ST"),
    _disclosed(4, "333333333", "100 MAIN ST"),
    Outcome(5),
    _disclosed(6, "111111111", "100 MAIN ST", unit="APT 2", mended="unit"),
    _disclosed(7, "111111111", "100 MAIN ST"),
)


def test_verdicts_are_one_count_per_probe_summing_to_judge() -> None:
    each = verdicts(JUDGED, JUDGED_OUTCOMES, POLICY, AS_OF)
    assert [c.probes for c in each] == [1] * len(JUDGED)
    assert total(each) == judge(JUDGED, JUDGED_OUTCOMES, POLICY, AS_OF)
    # (findable, disclosed, wrong_person, wrong_address, found) of each probe
    assert [astuple(c)[1:] for c in each] == [
        (1, 1, 0, 0, 1),  # right
        (1, 1, 1, 1, 0),  # a housemate
        (1, 1, 0, 1, 0),  # the right person at a wrong address
        (0, 1, 1, 1, 0),  # a made-up person disclosed
        (1, 0, 0, 0, 0),  # a miss
        (1, 1, 0, 0, 1),  # the same door
        (0, 1, 0, 0, 0),  # right, though not expected: not found
    ]


def test_a_probe_without_an_outcome_row_is_a_miss() -> None:
    outcomes = _outcomes(_disclosed(2, "111111111", "100 MAIN ST"))  # row 1 has none
    each = verdicts([PROBE, PROBE], outcomes, POLICY, AS_OF)
    assert each == [ProbeCounts(probes=1, findable=1), ProbeCounts(1, 1, 1, 0, 0, 1)]


VERDICT = st.sampled_from(
    [ProbeCounts(1), ProbeCounts(1, 1), ProbeCounts(1, 1, 1, 0, 0, 1), ProbeCounts(1, 0, 1, 1, 1)]
)


@given(st.lists(st.tuples(VERDICT, st.integers(min_value=0, max_value=ALL_GROUPS))))
def test_by_group_sums_the_probes_whose_mask_has_the_groups_bit(
    probes: list[tuple[ProbeCounts, int]],
) -> None:
    counts, masks = [c for c, _ in probes], [m for _, m in probes]
    groups = by_group(counts, masks)
    assert list(groups) == [g.name for g in GROUPS]
    for g in GROUPS:
        mine = [c for c, m in probes if m & g.bit]
        sums = [sum(getattr(c, f) for c in mine) for f in ("probes", "disclosed", "found")]
        got = groups[g.name]
        assert [got.probes, got.disclosed, got.found] == sums
        assert got.wrong_address == sum(c.wrong_address for c in mine)
    # a probe in no group counts in none; one in every group counts in each
    assert sum(g.probes for g in groups.values()) == sum(bin(m).count("1") for m in masks)


def test_by_group_needs_a_mask_for_every_probe() -> None:
    with pytest.raises(ValueError, match="zip"):
        by_group([ProbeCounts(1), ProbeCounts(1)], [1])
    with pytest.raises(ValueError, match="zip"):
        by_group([ProbeCounts(1)], [1, 2])
    assert by_group([], []) == {g.name: ProbeCounts() for g in GROUPS}
