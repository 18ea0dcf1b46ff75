"""From judged pairs to merges: each source joins one target or none, whatever the order."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from taxmatch.resolve.edges import (
    accepted_edges,
    disjoint_sources,
    fragment_edges,
    merge_roots,
    one_off_roots,
    one_to_one,
    succession_edges,
)
from taxmatch.resolve.records import Filed, MergeCandidate, Modal
from taxmatch.resolve.rules import suffixes_confirm

# Synthetic keys: ITINs, SSNs and rule-2 fragment keys.
KEYS = ["912701234", "912711234", "123456789", "123456780", "223456789", "123456789~ab12cd"]
D1, D2 = date(1980, 2, 3), date(1981, 5, 6)

modals = st.builds(
    Modal, st.sampled_from(["ANNA", "ANN", "BOB"]), st.sampled_from(["LEE", "LEE", "KIM", ""]),
    st.sampled_from(["", "J", "JOHN"]), st.sampled_from(["", "", "JR", "SR"]),
    st.sampled_from([None, D1, D2]),
)  # fmt: skip
filings = st.builds(
    Filed, st.integers(2018, 2024), st.sampled_from(["12", "40"]), st.just("OAK ST"),
    st.sampled_from(["", "APT 1"]), st.just(""), st.sampled_from(["62701", "62702"]),
)  # fmt: skip


World = tuple[list[tuple[str, str]], dict[str, Modal], dict[str, list[Filed]]]


@st.composite
def worlds(
    draw: st.DrawFn,
) -> tuple[list[tuple[str, str]], dict[str, Modal], dict[str, list[Filed]]]:
    modal = {k: draw(modals) for k in KEYS}
    filed = {k: draw(st.lists(filings, min_size=1, max_size=3)) for k in KEYS}
    pairs = draw(st.lists(st.tuples(st.sampled_from(KEYS), st.sampled_from(KEYS)), max_size=12))
    return pairs, modal, filed


def _rank(filed: Mapping[str, Sequence[Filed]]) -> dict[str, tuple[int, int, int]]:
    out = {}
    for k, f in filed.items():
        ys = [x.year for x in f]
        out[k] = (max(ys) - min(ys), len(f), max(ys))
    return out


def _years(f: Sequence[Filed]) -> set[int]:
    return {x.year for x in f}


def _agree(a: Modal, b: Modal) -> bool:
    dob_ok = a.dob is None or b.dob is None or a.dob == b.dob
    return bool(a.last_key) and a.last_key == b.last_key and dob_ok


def test_new_rules_need_one_to_one_disjoint_and_confirmed_edges() -> None:
    assert one_to_one([("a", "x"), ("b", "x"), ("c", "y")]) == [("c", "y")]
    assert disjoint_sources([("a", "x"), ("b", "x")], {"a": [2020], "b": [2021]}) == [
        ("a", "x"),
        ("b", "x"),
    ]
    years = {"a": [2020], "b": [2020, 2022], "c": [2020]}
    assert disjoint_sources([("a", "x"), ("b", "x"), ("c", "y")], years) == [("c", "y")]
    sr = MergeCandidate("a", "b", "ANNA", "ANNA", "", "", "", "SR", False, True)
    assert accepted_edges([sr]) == [("a", "b")]  # rule 3 alone would take it
    assert accepted_edges([sr], suffixes_confirm) == []


def test_merge_roots_pick_the_longest_history() -> None:
    rank = {"m": (5, 5, 2023), "x": (1, 1, 2021), "y": (1, 1, 2024)}
    assert merge_roots([("x", "y"), ("y", "m")], rank) == {"m": "m", "x": "m", "y": "m"}
    assert merge_roots([("x", "y"), ("y", "x")], rank) == {"x": "y", "y": "y"}


def test_rules_on_a_small_world() -> None:
    anna = Modal("ANNA", "LEE", dob=D1)
    modal = {"912701234": anna, "123456789": anna, "123456780": anna}
    oak = Filed(2019, "12", "OAK ST", "", "", "62701")
    filed = {
        "912701234": [oak],
        "123456789": [Filed(y, "12", "OAK ST", "", "", "62701") for y in (2020, 2021)],
        "123456780": [Filed(2022, "12", "OAK ST", "", "", "62701")],
    }
    assert succession_edges([("912701234", "123456789")], modal, filed) == [
        ("912701234", "123456789")
    ]
    roots = one_off_roots([("123456780", "123456789")], modal, filed, _rank(filed))
    assert roots == {"123456780": "123456789", "123456789": "123456789"}
    # A one-off in a year the person filed is not a fragment of theirs.
    assert fragment_edges([("123456780", "123456789")], modal, filed) == [
        ("123456780", "123456789")
    ]
    filed["123456780"] = [Filed(2021, "12", "OAK ST", "", "", "62701")]
    assert fragment_edges([("123456780", "123456789")], modal, filed) == []


@settings(max_examples=200)
@given(worlds(), st.randoms(use_true_random=False))
def test_rules_do_not_depend_on_the_order_of_pairs(
    world: World,
    rnd: random.Random,
) -> None:
    pairs, modal, filed = world
    shuffled = pairs[:]
    rnd.shuffle(shuffled)
    rank = _rank(filed)
    assert one_off_roots(pairs, modal, filed, rank) == one_off_roots(shuffled, modal, filed, rank)
    assert succession_edges(pairs, modal, filed) == succession_edges(shuffled, modal, filed)
    assert fragment_edges(pairs, modal, filed) == fragment_edges(shuffled, modal, filed)
    # Repeating a pair changes nothing either.
    assert fragment_edges(pairs + pairs, modal, filed) == fragment_edges(pairs, modal, filed)


@settings(max_examples=200)
@given(worlds())
def test_rules_never_merge_conflicting_people(
    world: World,
) -> None:
    pairs, modal, filed = world
    roots = one_off_roots(pairs, modal, filed, _rank(filed))
    members: dict[str, list[str]] = {}
    for k, r in roots.items():
        assert roots[r] == r  # idempotent: a root is its own root
        members.setdefault(r, []).append(k)
    for group in members.values():
        # Only one-offs move: never two multi-year clusters in one person.
        assert sum(len(_years(filed[k])) > 1 for k in group) <= 1
    for rule in (succession_edges, fragment_edges):
        edges = rule(pairs, modal, filed)
        assert len({s for s, _ in edges}) == len(edges)  # one target per source
        for s, d in edges:
            assert s != d
            assert _agree(modal[s], modal[d])
            assert not _years(filed[s]) & _years(filed[d])  # never one tax year twice
    succ = succession_edges(pairs, modal, filed)
    assert len({d for _, d in succ}) == len(succ)  # one to one
    for s, d in succ:
        assert max(_years(filed[s])) < min(_years(filed[d]))
    frag = fragment_edges(pairs, modal, filed)
    targets = {d for _, d in frag}
    assert not targets & {s for s, _ in frag}  # a fragment never takes another
    for t in targets:
        years = [y for s, d in frag if d == t for y in _years(filed[s])]
        assert len(years) == len(set(years))  # two fragments never share a year


@given(
    st.lists(st.tuples(st.sampled_from("abcdef"), st.sampled_from("abcdef")), max_size=8),
    st.randoms(use_true_random=False),
)
def test_merge_roots_are_order_independent_and_idempotent(
    edges: list[tuple[str, str]], rnd: random.Random
) -> None:
    rank = {k: (i % 3, i % 2, 2020 + i) for i, k in enumerate("abcdef")}
    roots = merge_roots(edges, rank)
    shuffled = edges[:]
    rnd.shuffle(shuffled)
    assert merge_roots(shuffled, rank) == roots
    assert merge_roots([(k, r) for k, r in roots.items()], rank) == roots
    for a, b in edges:
        assert roots[a] == roots[b]
