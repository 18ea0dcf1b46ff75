"""A misspelt or shortened trailing directional read as the one USPS directional it can
be. Pure.

Requests and filings carry typos in a street's trailing directional ("17TH AVE NORHEAST",
"19TH ST NRTH"): a letter dropped, a letter added, two letters swapped. Such a line has a
word after its street type that is no directional, so the grammar mostly refuses it (R03)
or, when it accepts it, keeps the word as a name that no correct spelling of the street
shares. A word is read as a directional only when one reading is possible:

- it is one such edit from exactly one full directional word (NORTH ... SOUTHWEST); a
  changed letter counts only in the nine-letter words, as a four- or five-letter word
  with one letter changed is often a word of its own ("WORTH", "NORTE", "REST");
- no other directional is one edit of any kind from it (one letter changed included),
  nor could it be a shortening of another ("SOUTHE" is SOUTH with a letter added, and
  also SOUTHEAST cut short: refused);
- it is not a word the tables know as anything else (a street type, a unit).

A compound directional cut short the way abbreviations are made ("NTHE", "STHW": letters
left out of each half, the first letter of each kept, no vowel kept but one that begins
a half) is read as that directional when it could be no other and no directional is one
edit from it. A shortening that keeps another vowel is not read: words keep their vowels
("NOTE", "SEAT", "SOWS" would otherwise be NE, SE and SW).

Only the word after a street type that follows a street name is read ("NAME TYPE WORD"):
there a directional is the only street element that can stand. A misspelt leading
directional is left as it is: before a street name it may be a name itself ("REST HAVEN
RD", "WORTH CREEK DR"). This module never does I/O, never logs, never raises.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from rapidfuzz.distance import OSA, Hamming

from taxmatch.normalise.usps import (
    DIRECTIONALS,
    STREET_TYPES,
    UNIT_DESIGNATORS,
    UNIT_DESIGNATORS_ALONE,
)

# The full words and, for the compound ones, their two halves.
_HALVES: Final = {
    "NORTH": ("NORTH",),
    "SOUTH": ("SOUTH",),
    "EAST": ("EAST",),
    "WEST": ("WEST",),
    "NORTHEAST": ("NORTH", "EAST"),
    "NORTHWEST": ("NORTH", "WEST"),
    "SOUTHEAST": ("SOUTH", "EAST"),
    "SOUTHWEST": ("SOUTH", "WEST"),
}
FULL_DIRECTIONALS: Final = tuple(_HALVES)
_SUBSTITUTION_MIN = 9  # a changed letter is a typo only in the nine-letter words
_MIN_LENGTH = 3
_MIN_SHORTENING = 4  # a compound cut short to fewer letters is too many things ("SOW")
_VOWELS = frozenset("AEIOUY")
_OTHER_WORDS: Final = (
    frozenset(STREET_TYPES) | frozenset(UNIT_DESIGNATORS) | frozenset(UNIT_DESIGNATORS_ALONE)
)


def edit_kind(word: str, target: str) -> str | None:
    """The one edit that makes ``target`` of ``word``: "deletion" (a letter of ``target``
    missing), "insertion" (a letter too many), "substitution", "transposition" (two
    neighbours swapped); "same" when equal; None when it takes more than one (the
    optimal string alignment distance, as ``match.similarity.one_typo`` measures it)."""
    if word == target:
        return "same"
    if OSA.distance(word, target) != 1:
        return None
    if len(word) != len(target):
        return "deletion" if len(word) < len(target) else "insertion"
    return "substitution" if Hamming.distance(word, target) == 1 else "transposition"


def _subsequence_from_first(part: str, word: str) -> bool:
    """``part`` is ``word`` with letters left out, keeping its first letter."""
    if not part or part[0] != word[0]:
        return False
    letters = iter(word)
    return all(c in letters for c in part)


def shortens(word: str, full: str) -> bool:
    """``word`` could be ``full`` cut short: letters left out of each half, the first
    letter of each kept ("NRTH" of NORTH, "NTHE" and "NORHE" of NORTHEAST)."""
    halves = _HALVES[full]
    if len(halves) == 1:
        return _subsequence_from_first(word, full)
    first, second = halves
    return any(
        _subsequence_from_first(word[:k], first) and _subsequence_from_first(word[k:], second)
        for k in range(1, len(word))
    )


@lru_cache(maxsize=4096)
def read_directional(word: str) -> str | None:
    """The USPS directional (N ... SW) a misspelt or shortened word can only be, else None.

    None for a directional as written (it needs no reading), a word of fewer than three
    letters, and a word the tables know as a street type or unit."""
    if len(word) < _MIN_LENGTH or not word.isalpha() or word in DIRECTIONALS:
        return None
    if word in _OTHER_WORDS:
        return None
    kinds = {full: kind for full in FULL_DIRECTIONALS if (kind := edit_kind(word, full))}
    typo = [
        full
        for full, kind in kinds.items()
        if kind != "substitution" or len(full) >= _SUBSTITUTION_MIN
    ]
    readings = set(kinds) | {full for full in FULL_DIRECTIONALS if shortens(word, full)}
    if not kinds and len(readings) == 1:
        (full,) = readings
        return DIRECTIONALS[full] if _abbreviates_compound(word, full) else None
    if len(typo) != 1 or readings != set(typo):
        return None
    return DIRECTIONALS[typo[0]]


def _abbreviates_compound(word: str, full: str) -> bool:
    """``word`` shortens the compound ``full`` as abbreviations do: four letters or more,
    each half's letters in order from its first, no vowel but a half's first letter."""
    halves = _HALVES[full]
    if len(halves) != 2 or len(word) < _MIN_SHORTENING:
        return False
    first, second = halves
    return any(
        _subsequence_from_first(word[:k], first)
        and _subsequence_from_first(word[k:], second)
        and not any(c in _VOWELS for c in word[1:k] + word[k + 1 :])
        for k in range(1, len(word))
    )


def mend_trailing_directional(street: tuple[str, ...]) -> tuple[str, ...]:
    """The street tokens with a misspelt directional after "NAME TYPE" read as the
    directional; the tokens unchanged when there is none or it has two readings."""
    if len(street) < 3 or street[-2] not in STREET_TYPES:
        return street
    directional = read_directional(street[-1])
    if directional is None:
        return street
    return (*street[:-1], directional)
