"""A misspelt first name agrees with a filed one only when it is no name in use."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from rapidfuzz.distance import OSA

from taxmatch.normalise.typos import (
    TYPO_MIN_LETTERS,
    TYPO_SHARE_RATIO,
    fixable,
    fixes,
    letters,
    one_keystroke,
)

# Shares of persons, as a snapshot's ``tf_first_name`` gives them.
SHARES = {"JOHN": 0.03, "MARIA": 0.01, "MARIO": 0.004, "ELIZABETH": 0.008, "JON": 0.002}


def test_constants_are_the_documented_ones() -> None:
    assert (TYPO_MIN_LETTERS, TYPO_SHARE_RATIO) == (4, 0.01)


def test_a_misspelling_nobody_files_under_is_fixed() -> None:
    assert fixes("JIHN", SHARES) == ["JOHN"]  # changed
    assert fixes("JHON", SHARES) == ["JOHN"]  # neighbours swapped
    assert fixes("JOHHN", SHARES) == ["JOHN"]  # inserted
    assert fixes("ELIAABETH", SHARES) == ["ELIZABETH"]
    assert fixes("ELIZBETH", SHARES) == ["ELIZABETH"]  # dropped


def test_a_name_in_use_is_no_misspelling() -> None:
    """MARIO is 40 % as common as MARIA: a name people file under, never Maria's typo."""
    assert fixes("MARIO", SHARES) == []
    assert not fixable("MARIO", "MARIA", SHARES["MARIO"], SHARES["MARIA"])
    # Nobody files under MARIO: then it is taken for MARIA (and MARIO for MARIA's).
    assert fixes("MARIO", {"MARIA": 0.01}) == ["MARIA"]


def test_the_share_bound_is_inclusive() -> None:
    assert fixable("JIHN", "JOHN", 0.0003, 0.03)
    assert not fixable("JIHN", "JOHN", 0.00031, 0.03)


def test_short_names_never_agree_as_typos() -> None:
    assert fixes("JIN", SHARES) == []  # JON is a keystroke away, but three letters
    assert not fixable("JOHN", "JON", 0.0, 0.002)
    assert not fixable("JON", "JOHN", 0.0, 0.03)
    assert letters("JO-N") == 3


def test_two_keystrokes_or_none_never_agree() -> None:
    assert not fixable("JOHN", "JOHN", 0.0, 0.03)
    assert not fixable("JIHM", "JOHN", 0.0, 0.03)
    assert fixes("JOHN", SHARES) == []


def test_a_name_nobody_files_under_fixes_nothing() -> None:
    assert not fixable("JIHN", "JAHN", 0.0, 0.0)


_NAME = st.text(alphabet="AEIJMNORS-", min_size=0, max_size=8)


@given(_NAME)
def test_one_keystroke_gives_exactly_the_names_one_typo_away(name: str) -> None:
    variants = set(one_keystroke(name))
    assert name not in variants
    assert all(OSA.distance(name, v) == 1 for v in variants)


@given(_NAME, _NAME, st.floats(0, 1), st.floats(0, 1))
def test_fixable_is_a_typo_either_way_and_never_both_ways(
    r: str, f: str, share_r: float, share_f: float
) -> None:
    """The typo is symmetric (one keystroke either way), the share bound is not: two
    names in use never fix each other; a short name never agrees."""
    if fixable(r, f, share_r, share_f):
        assert OSA.distance(f, r) == 1
        assert min(letters(r), letters(f)) >= TYPO_MIN_LETTERS
        assert share_r <= share_f * TYPO_SHARE_RATIO
        assert not fixable(f, r, share_f, share_r)
    if share_r > share_f * TYPO_SHARE_RATIO:  # R is a name in use: never a typo of F
        assert not fixable(r, f, share_r, share_f)


_LETTERS = st.text(alphabet="AEIJMNORS", min_size=0, max_size=8)


@given(_LETTERS, st.dictionaries(_LETTERS.filter(bool), st.floats(1e-6, 1), max_size=12))
def test_fixes_are_the_names_fixable_says(name: str, shares: dict[str, float]) -> None:
    """``fixes``' keystroke search finds exactly the names of ``shares`` that ``fixable``
    takes (names of letters only: the search inserts and changes letters)."""
    own = shares.get(name, 0.0)
    expected = sorted(f for f in shares if f != name and fixable(name, f, own, shares[f]))
    assert fixes(name, shares) == expected


@given(st.sampled_from(["MARIO", "MARIA", "JOHN", "ELIZABETH"]), st.floats(0.0011, 1))
def test_never_for_a_common_name(name: str, share: float) -> None:
    """A common request name (more than 1/100 of the filed one's share) is no typo."""
    shares = {"MARIA": 0.1, "MARIO": 0.1, "JOHN": 0.1, "ELIZABETH": 0.1, name: share}
    assert fixes(name, shares) == []
