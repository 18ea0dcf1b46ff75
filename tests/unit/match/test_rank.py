"""``rules.rank_persons``: the best person of a request's scored pairs, and which other
persons stand against it. A runner-up the request's first name does not name, when it
names the best person, is no rival; a namesake is."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from taxmatch.match.rules import rank_persons
from taxmatch.match.thresholds import NO_RIVAL_BITS

REVIEW, MARGIN = 0.98, 5.0


def test_a_housemate_named_only_through_a_filed_variant_is_no_rival() -> None:
    # The request's first name is the best person's own; the housemate, 3.5 bits behind,
    # once filed under it but files under another name.
    best = rank_persons(
        [("P1", 23.9, 1.0, "JOHN"), ("P2", 20.4, 1.0, "MARY")], REVIEW, MARGIN, "JOHN"
    )
    assert best is not None
    assert (best.person_id, best.candidates) == ("P1", 1)
    assert best.margin > NO_RIVAL_BITS
    # Without the name the housemate stands (``judge`` counts it where the request's
    # address does not corroborate the person it names).
    assert (best.candidates_all, best.margin_all) == (2, 3.5)


def test_the_margin_is_over_the_next_person_the_request_names() -> None:
    pairs = [
        ("P1", 30.0, 1.0, "ANN"),
        ("P2", 29.0, 1.0, "ANNIE"),
        ("P3", 20.0, 1.0, "ANN"),
    ]
    best = rank_persons(pairs, REVIEW, MARGIN, "ANN")
    assert best is not None
    assert (best.person_id, best.candidates, best.margin) == ("P1", 1, 10.0)


def test_a_namesake_stays_a_rival() -> None:
    # Two persons of the same first name (a father and son): the name cannot tell them apart.
    best = rank_persons(
        [("P1", 22.0, 1.0, "JOHN"), ("P2", 21.0, 1.0, "JOHN")], REVIEW, MARGIN, "JOHN"
    )
    assert best is not None
    assert (best.candidates, best.margin) == (2, 1.0)


def test_the_person_the_request_names_stands_before_a_rival_it_does_not() -> None:
    # The request's name is the runner-up's own, and the best person's only as a variant.
    best = rank_persons(
        [("P1", 22.0, 1.0, "JON"), ("P2", 21.0, 1.0, "JOHN"), ("P3", 19.0, 1.0, "JON")],
        REVIEW,
        MARGIN,
        "JOHN",
    )
    assert best is not None
    assert (best.person_id, best.probability, best.candidates) == ("P2", 1.0, 1)
    assert best.margin > NO_RIVAL_BITS


def test_a_named_person_beyond_the_margin_or_below_review_is_not_put_first() -> None:
    # Far below, the person the request names is not put first but stands as a rival:
    # the name is theirs, and the best person's only through a return filed under it.
    # Below the review threshold it is no rival.
    far = [("P1", 30.0, 1.0, "JON"), ("P2", 21.0, 1.0, "JOHN")]
    weak = [("P1", 22.0, 1.0, "JON"), ("P2", 21.0, 0.9, "JOHN")]
    for pairs, candidates in ((far, 2), (weak, 1)):
        best = rank_persons(pairs, REVIEW, MARGIN, "JOHN")
        assert best is not None
        assert (best.person_id, best.candidates) == ("P1", candidates)
    # Two persons the request names, behind one it does not: still two rivals.
    pairs = [("P1", 22.0, 1.0, "JON"), ("P2", 21.0, 1.0, "JOHN"), ("P3", 20.0, 1.0, "JOHN")]
    best = rank_persons(pairs, REVIEW, MARGIN, "JOHN")
    assert best is not None
    assert (best.person_id, best.candidates, best.margin) == ("P2", 2, 1.0)


def test_without_a_first_name_nothing_is_dropped() -> None:
    for first in (None, ""):
        best = rank_persons(
            [("P1", 22.0, 1.0, ""), ("P2", 21.0, 1.0, "JOHN")], REVIEW, MARGIN, first
        )
        assert best is not None
        assert (best.candidates, best.margin) == (2, 1.0)


def test_a_person_with_no_first_name_on_file_keeps_their_place() -> None:
    # Absent data is no evidence: the unnamed person may be the one asked about.
    for own in (None, ""):
        ahead = rank_persons(
            [("P1", 20.0, 0.99, own), ("P2", 19.0, 0.99, "JOHN")], REVIEW, MARGIN, "JOHN"
        )
        behind = rank_persons(
            [("P1", 20.0, 0.99, "JOHN"), ("P2", 19.0, 0.99, own)], REVIEW, MARGIN, "JOHN"
        )
        assert ahead is not None
        assert behind is not None
        assert (ahead.person_id, ahead.candidates) == ("P1", 2)
        assert (behind.person_id, behind.candidates) == ("P1", 2)


_NAMES = st.none() | st.sampled_from(["", "JOHN", "JON", "MARY"])
_PAIRS = st.lists(
    st.tuples(
        st.sampled_from(["P1", "P2", "P3", "P4"]),
        st.sampled_from([0.0, 10.0, 16.5, 18.0, 20.0, 22.0]),
        st.sampled_from([0.5, 0.98, 0.999, 1.0]),
    ),
    max_size=8,
)


@given(_PAIRS, st.dictionaries(st.sampled_from(["P1", "P2", "P3", "P4"]), _NAMES), _NAMES)
def test_the_name_only_ever_removes_rivals(
    scored: list[tuple[str, float, float]], own: dict[str, str | None], first: str | None
) -> None:
    """Against ranking without names: the same answer unless the request names the
    person put first, save that persons it names at or above review stand as rivals of
    a best person it does not name however far below; another person only where the
    plain best had a strong rival, and then one the request names; the same person,
    never more candidates nor a narrower margin. What stands without the name
    (``candidates_all``, ``margin_all``) is always the plain ranking's."""
    pairs = [(pid, w, p, own.get(pid)) for pid, w, p in scored]
    plain = rank_persons([(pid, w, p, None) for pid, w, p in scored], REVIEW, MARGIN, None)
    got = rank_persons(pairs, REVIEW, MARGIN, first)
    if plain is None:
        assert got is None
        return
    assert got is not None
    assert (plain.candidates_all, plain.margin_all) == (plain.candidates, plain.margin)
    assert (got.candidates_all, got.margin_all) == (plain.candidates, plain.margin)
    if not first or own.get(got.person_id) != first:
        best = {pid: (max(w for q, w, _ in scored if q == pid)) for pid, _, _ in scored}
        strong = {pid for pid, _, p in scored if p >= REVIEW}
        top = best[got.person_id]
        far = [
            pid
            for pid in best
            if own.get(pid) == first and pid in strong and best[pid] < top - MARGIN
        ]
        named_far = len(far) if first and own.get(got.person_id) else 0
        assert got == plain._replace(candidates=plain.candidates + named_far)
        return
    if got.person_id == plain.person_id:
        assert got.candidates <= plain.candidates
        assert got.probability == plain.probability
        assert got.margin >= plain.margin
    else:
        assert plain.candidates >= 2
        assert own.get(plain.person_id) != first
        assert own.get(plain.person_id)  # a person with no name on file is never passed over
