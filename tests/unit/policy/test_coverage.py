"""Coverage groups: what a request's own shape shows, the flag rule, and the coverage table
built from a batch's counts by group."""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from math import comb

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from taxmatch.contracts import Outcome
from taxmatch.normalise.address import parse_address
from taxmatch.normalise.names import normalise_name
from taxmatch.policy.accuracy import ProbeCounts, wilson
from taxmatch.policy.coverage import (
    ALL_GROUPS,
    BY_NAME,
    COLUMNS,
    CSV_COLUMNS,
    FLAG_ALPHA,
    FLAGGED,
    GROUPS,
    MEASURES,
    NOT_MATCHED,
    coverage,
    csv_rows,
    flag,
    is_flagged,
    lookback,
    mask_of,
    measures,
    names_of,
    probe_counts,
    probe_measures,
    raw_shape,
    request_shape,
)
from taxmatch.policy.model import Policy

COMPOUND = BY_NAME["compound_surname"].bit
SINGLE = BY_NAME["single_name"].bit
UNIT = BY_NAME["multi_unit"].bit
BOX = BY_NAME["po_box"].bit
REQUEST_BITS = COMPOUND | SINGLE | UNIT | BOX
NAMES = [g.name for g in GROUPS]


def _raw(**fields: str) -> int:
    base = {"first_name": "Ann", "middle_name": "", "last_name": "Lee"}
    base.update(fields)
    return raw_shape(base)


def test_groups_have_distinct_single_bits() -> None:
    bits = [g.bit for g in GROUPS]
    assert bits == [1 << i for i in range(len(GROUPS))]
    assert sum(bits) == ALL_GROUPS
    assert len(set(NAMES)) == len(NAMES)


def test_lookback_is_the_policys_years_up_to_last_year(policy: Policy) -> None:
    years = policy.tax_periods.lookback_years
    assert lookback(date(2026, 11, 30), policy) == (2026 - years, 2025)
    assert lookback(date(2027, 1, 1), policy) == (2027 - years, 2026)


# --- the request's own shape -----------------------------------------------------------

SURNAME = st.text(alphabet="abZé -'", max_size=12)


@given(SURNAME)
def test_compound_iff_a_space_or_hyphen_falls_between_letters(last: str) -> None:
    # Apostrophes join ("O'BRIEN"); a separator at either end separates nothing.
    inner = last.replace("'", "").strip(" -")
    expected = any(c in " -" for c in inner)
    assert bool(_raw(last_name=last) & COMPOUND) == expected
    folded = normalise_name("Ann", "", last, "").last
    assert bool(request_shape("ANN", "", folded, "", False) & COMPOUND) == expected


def test_compound_surname_examples() -> None:
    for last in ("Garcia Lopez", "García-López", "de la Cruz", "Smith - Jones"):
        assert _raw(last_name=last) & COMPOUND
    for last in ("O'Brien", "Lee", " Lee ", "-Lee-", ""):
        assert not _raw(last_name=last) & COMPOUND


PART = st.one_of(st.just(""), st.just("  "), st.just(".-"), st.text(alphabet="aB", min_size=1))


@given(PART, PART, PART)
def test_single_name_iff_exactly_one_of_first_and_last_and_no_middle(
    first: str, middle: str, last: str
) -> None:
    def given_(s: str) -> bool:  # a name is given when it holds a letter
        return any(c.isalpha() for c in s)

    expected = given_(first) != given_(last) and not given_(middle)
    shape = _raw(first_name=first, middle_name=middle, last_name=last)
    assert bool(shape & SINGLE) == expected
    n = normalise_name(first, middle, last, "")
    assert bool(request_shape(n.first, n.middle, n.last, "", False) & SINGLE) == expected


@given(st.one_of(st.just(""), st.just("  "), st.text(alphabet="aB7 #", min_size=1)))
def test_a_unit_given_is_multi_unit(unit: str) -> None:
    expected = any(c.isalnum() for c in unit)
    assert bool(_raw(unit=unit) & UNIT) == expected
    assert bool(request_shape("ANN", "", "LEE", unit, False) & UNIT) == bool(unit.strip())


@pytest.mark.parametrize(
    "line",
    ["P.O. Box 12", "POB 12", "PO BOX 7", "p o box 3", "Post Office Box 9", "PO Box", "pobox 4"],
)
def test_a_po_box_line_is_po_box(line: str) -> None:
    assert _raw(street_address=line) & BOX
    assert not _raw(street_address=line) & (COMPOUND | SINGLE | UNIT)
    assert request_shape("ANN", "", "LEE", "", True) == BOX


STREETS = ["Main St", "Post Office Rd", "Box Elder Ave", "PO Ave", "Pob Ln", "P O Box Rd"]


@given(st.integers(min_value=1, max_value=99_999), st.sampled_from(STREETS), st.booleans())
def test_a_street_address_is_never_a_po_box(house: int, street: str, half: bool) -> None:
    line = f"{house}{' 1/2' if half else ''} {street}"
    assert not _raw(street_address=line) & BOX


NAMEISH = st.text(alphabet="ab-' .", max_size=8)


@given(NAMEISH, NAMEISH, NAMEISH, st.text(alphabet="ab4#", max_size=4), st.booleans())
def test_request_shape_shows_only_request_groups(
    first: str, middle: str, last: str, unit: str, box: bool
) -> None:
    assert request_shape(first, middle, last, unit, box) & ~REQUEST_BITS == 0
    fields = {"first_name": first, "middle_name": middle, "last_name": last, "unit": unit}
    assert raw_shape(fields) & ~REQUEST_BITS == 0
    assert raw_shape({}) == 0


# Words a name normaliser moves (suffixes, titles): a "simple" name has none of them.
_NOT_SIMPLE = {"JR", "JNR", "JUN", "JUNIOR", "SR", "SNR", "SEN", "SENIOR", "II", "III", "IV", "V"}
_NOT_SIMPLE |= {"MR", "MRS", "MS", "MISS", "MX", "DR", "REV", "PROF", "SIR"}
WORD = st.text(alphabet="abcdeLMNOPéñ", min_size=2, max_size=7).filter(
    lambda w: w.upper() not in _NOT_SIMPLE
)
LAST = st.tuples(st.lists(WORD, min_size=1, max_size=3), st.sampled_from([" ", "-"])).map(
    lambda t: t[1].join(t[0])
)
ADDRESS = st.sampled_from(
    [("123 Main St", ""), ("9 Oak Ave", "Apt 4"), ("77 Elm St", "#5"), ("PO Box 12", "")]
)


@settings(max_examples=200, deadline=None)
@given(WORD, st.one_of(st.just(""), WORD), LAST, ADDRESS)
def test_raw_shape_agrees_with_the_shape_of_the_normalised_request(
    first: str, middle: str, last: str, address: tuple[str, str]
) -> None:
    line, unit = address
    keys = ("first_name", "middle_name", "last_name", "street_address", "unit", "city", "state")
    fields = dict(zip(keys, (first, middle, last, line, unit, "Seattle", "WA"), strict=True))
    fields["zip"] = "98101"
    name = normalise_name(first, middle, last, "")
    parsed = parse_address(line, unit, "Seattle", "WA", "98101").address
    assert parsed is not None
    assume(name.first and name.last)
    normalised = request_shape(name.first, name.middle, name.last, parsed.unit, bool(parsed.po_box))
    assert raw_shape(fields) == normalised


# --- masks ---------------------------------------------------------------------------


@given(st.lists(st.sampled_from(NAMES)))
def test_names_of_mask_of_is_the_set_in_groups_order(names: list[str]) -> None:
    assert names_of(mask_of(names)) == [n for n in NAMES if n in set(names)]


@given(st.integers(min_value=0, max_value=ALL_GROUPS))
def test_mask_of_names_of_is_the_mask(mask: int) -> None:
    assert mask_of(names_of(mask)) == mask
    assert names_of(mask) == [g.name for g in GROUPS if mask & g.bit]


def test_mask_of_refuses_an_unknown_group() -> None:
    with pytest.raises(KeyError):
        mask_of(["itin", "left_handed"])


# --- the flag rule --------------------------------------------------------------------


def _wrong(wrong: int, n: int) -> ProbeCounts:
    return ProbeCounts(probes=n + 5, findable=n, disclosed=n, wrong_address=wrong)


CEILING = st.floats(min_value=0, max_value=0.99)
N = st.integers(min_value=1, max_value=5_000)


@given(N, st.floats(min_value=0, max_value=1), CEILING)
def test_no_ceiling_or_no_wrong_address_never_flags(n: int, share: float, ceiling: float) -> None:
    assert not is_flagged(_wrong(round(share * n), n), None)
    assert not is_flagged(_wrong(0, n), ceiling)
    assert not is_flagged(ProbeCounts(probes=n), ceiling)  # nothing disclosed


@given(N, st.floats(min_value=0, max_value=1), st.floats(min_value=0, max_value=1), CEILING)
def test_more_wrong_never_unflags(n: int, a: float, b: float, ceiling: float) -> None:
    fewer, more = sorted((round(a * n), round(b * n)))
    if is_flagged(_wrong(fewer, n), ceiling):
        assert is_flagged(_wrong(more, n), ceiling)


@given(N, st.floats(min_value=0, max_value=1), CEILING)
def test_a_rate_at_or_below_the_ceiling_never_flags(n: int, share: float, ceiling: float) -> None:
    wrong = round(share * n)
    if wrong / n <= ceiling:
        assert not is_flagged(_wrong(wrong, n), ceiling)


def test_few_wrong_among_very_many_disclosures_never_flag() -> None:
    # P(X >= 1) of 80,000 at 1 % is 1; its first term, 0.99 ** 79,999 * 800, underflows
    assert not is_flagged(_wrong(1, 80_000), 0.01)
    assert not is_flagged(_wrong(352, 704), 0.96875)
    assert is_flagged(_wrong(1_000, 80_000), 0.01)


def _tail(k: int, n: int, p: Fraction) -> Fraction:
    """P(X >= k), X ~ Binomial(n, p), exactly."""
    return sum((comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1)), Fraction(0))


@pytest.mark.parametrize(
    ("wrong", "disclosed", "ceiling", "flagged"),
    [
        (3, 10, 0.01, True),  # P(X >= 3) = 0.00011 at 1 %
        (2, 10, 0.01, True),  # 0.0043: just under 0.05 / 10
        (1, 10, 0.01, False),  # 0.096: one wrong of ten is chance
        (2, 20, 0.01, False),  # 0.017
        (4, 100, 0.01, False),  # 0.018
        (5, 100, 0.01, True),  # 0.0034
        (10, 400, 0.01, False),  # 0.0078
        (12, 400, 0.01, True),  # 0.00085
        (1, 10, 0.0005, True),  # 0.00499
        (1, 11, 0.0005, False),  # 0.00549
        (1, 1, 0.0, True),  # no wrong address is allowed at all
        (0, 1, 0.0, False),
    ],
)
def test_flag_at_known_values(wrong: int, disclosed: int, ceiling: float, flagged: bool) -> None:
    assert len(GROUPS) * FLAG_ALPHA == pytest.approx(0.05)
    assert (_tail(wrong, disclosed, Fraction(ceiling)) < Fraction(FLAG_ALPHA)) is flagged
    assert is_flagged(_wrong(wrong, disclosed), ceiling) is flagged


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=150), st.floats(0, 1), st.floats(0.0001, 0.5))
def test_flag_is_an_exact_binomial_test(n: int, share: float, ceiling: float) -> None:
    wrong = round(share * n)
    tail = _tail(wrong, n, Fraction(ceiling))
    assume(abs(tail - Fraction(FLAG_ALPHA)) > Fraction(1, 10**9))  # not on the edge
    assert is_flagged(_wrong(wrong, n), ceiling) is (wrong > 0 and tail < Fraction(FLAG_ALPHA))


def test_flag_lists_flagged_groups_in_groups_order() -> None:
    bad, good = _wrong(5, 10), _wrong(0, 10)
    probes = {"household": bad, "itin": bad, "ssn": good, "mover": bad}
    assert flag(probes, 0.01) == ["itin", "mover", "household"]
    assert flag(probes, None) == []
    assert flag({}, 0.01) == []


# --- the coverage table ---------------------------------------------------------------

OUTCOMES = (*(o.value for o in Outcome), "REJECTED")
PROBE_COUNTS = st.builds(
    lambda d, w, wp, f, extra: ProbeCounts(
        probes=d + extra, findable=f + extra, disclosed=d, wrong_person=wp, wrong_address=w, found=f
    ),
    st.integers(min_value=0, max_value=50),
    st.integers(min_value=0, max_value=50),
    st.integers(min_value=0, max_value=50),
    st.integers(min_value=0, max_value=50),
    st.integers(min_value=0, max_value=20),
).filter(lambda c: c.wrong_person <= c.wrong_address <= c.disclosed and c.found <= c.disclosed)
GROUP_MEASURES = st.builds(
    lambda outcomes, probes, flagged: {**outcomes, **probe_measures(probes), FLAGGED: flagged},
    st.dictionaries(st.sampled_from(OUTCOMES), st.integers(min_value=0, max_value=1_000)),
    PROBE_COUNTS,
    st.integers(min_value=0, max_value=3),
)
COUNTS = st.dictionaries(st.sampled_from(NAMES), GROUP_MEASURES)


@given(COUNTS, st.one_of(st.none(), CEILING))
def test_coverage_shape_and_sums(counts: dict[str, dict[str, int]], ceiling: float | None) -> None:
    cov = coverage(counts, ceiling)
    assert cov["ceiling"] == ceiling
    assert [g["group"] for g in cov["groups"]] == NAMES
    assert [g["label"] for g in cov["groups"]] == [g.label for g in GROUPS]
    for g in cov["groups"]:
        m = counts.get(g["group"], {})
        assert list(g["outcomes"]) == list(COLUMNS)
        assert g["outcomes"]["NOT_MATCHED"] == sum(m.get(o.value, 0) for o in NOT_MATCHED)
        for column in ("DISCLOSED", "AMBIGUOUS", "REVIEW", "REJECTED"):
            assert g["outcomes"][column] == m.get(column, 0)
        assert g["rows"] == sum(m.get(o, 0) for o in OUTCOMES) == sum(g["outcomes"].values())
        p = probe_counts(m)
        assert g["probes"] == m.get("probe_probes", 0)
        assert g["wrong_person_rate"] == wilson(p.wrong_person, p.disclosed)
        assert g["wrong_address_rate"] == wilson(p.wrong_address, p.disclosed)
        assert g["recall"] == wilson(p.found, p.findable)
        assert g["flagged"] == m.get(FLAGGED, 0)
    assert cov["flagged"] == [n for n in NAMES if counts.get(n, {}).get(FLAGGED, 0)]


def test_coverage_rates_come_from_the_probe_counts() -> None:
    counts = {"mover": {"NO_MATCH": 2, "STALE": 1, "DISCLOSED": 7, "REJECTED": 1}}
    counts["mover"] |= probe_measures(ProbeCounts(40, 30, 20, 1, 4, 15))
    counts["mover"][FLAGGED] = 1
    mover = coverage(counts, 0.01)["groups"][NAMES.index("mover")]
    assert mover["rows"] == 11
    assert list(mover["outcomes"].values()) == [7, 3, 0, 0, 1]  # by COLUMNS
    assert mover["probes"] == 40
    assert mover["wrong_person_rate"]["estimate"] == 1 / 20
    assert mover["wrong_address_rate"]["estimate"] == 4 / 20
    assert mover["recall"]["estimate"] == 15 / 30
    assert mover["flagged"] == 1


@given(PROBE_COUNTS)
def test_probe_measures_round_trip(counts: ProbeCounts) -> None:
    m = probe_measures(counts)
    assert set(m) <= set(MEASURES)
    assert probe_counts(m) == counts
    assert probe_counts({"DISCLOSED": 3}) == ProbeCounts()


OUTCOME_COUNTS = st.dictionaries(
    st.sampled_from(NAMES),
    st.dictionaries(st.sampled_from(OUTCOMES), st.integers(min_value=0, max_value=100)),
)


@given(
    OUTCOME_COUNTS,
    st.dictionaries(st.sampled_from(NAMES), PROBE_COUNTS),
    st.lists(st.sampled_from(NAMES)),
)
def test_measures_drop_zeros_and_set_flagged(
    outcomes: dict[str, dict[str, int]], probes: dict[str, ProbeCounts], flagged: list[str]
) -> None:
    out = measures(outcomes, probes, flagged)
    assert list(out) == NAMES
    for name, m in out.items():
        assert 0 not in m.values()
        assert set(m) <= set(MEASURES)
        assert m.get(FLAGGED, 0) == (name in flagged)
        for k in OUTCOMES:
            assert m.get(k, 0) == outcomes.get(name, {}).get(k, 0)
        assert probe_counts(m) == probes.get(name, ProbeCounts())
    cov = coverage(out, 0.01)
    assert cov["flagged"] == [n for n in NAMES if n in flagged]


def test_measures_read_flagged_groups_from_any_iterable() -> None:
    # batch.py passes a tuple; the signature takes any iterable, a generator included
    out = measures({}, {}, (n for n in ("ssn", "mover")))
    assert [n for n, m in out.items() if m.get(FLAGGED)] == ["ssn", "mover"]


@given(COUNTS, st.one_of(st.none(), CEILING))
def test_csv_rows_follow_the_csv_columns(
    counts: dict[str, dict[str, int]], ceiling: float | None
) -> None:
    cov = coverage(counts, ceiling)
    rows = csv_rows(cov)
    assert len(rows) == len(GROUPS)
    assert len(set(CSV_COLUMNS)) == len(CSV_COLUMNS)
    for row, g in zip(rows, cov["groups"], strict=True):
        assert len(row) == len(CSV_COLUMNS)
        named = dict(zip(CSV_COLUMNS, row, strict=True))
        assert named["group"] == g["group"]
        assert named["rows"] == g["rows"]
        assert named["not_matched"] == g["outcomes"]["NOT_MATCHED"]
        assert named["rejected"] == g["outcomes"]["REJECTED"]
        assert named["probes"] == g["probes"]
        assert named["wrong_address_rate_low"] == g["wrong_address_rate"]["low"]
        assert named["recall_high"] == g["recall"]["high"]
        assert named["flagged"] == g["flagged"]
