"""A requester's misspelt first name: when one agrees with a filed name, defined once for
the matcher (``match.rules.first_name_agrees``), the generator's truth and the shadow
probes. Pure: no I/O, no logging, never a value in an exception.

A request first name R agrees *as a typo* with a filed first name F (``fixable``) when
both have at least ``TYPO_MIN_LETTERS`` letters, one keystroke separates them (optimal
string alignment distance 1: a letter inserted, dropped or changed, or two neighbours
swapped) and R is not a name in use: the share of persons whose first name is R is at
most ``TYPO_SHARE_RATIO`` of the share for F. So "JIHN" is John's, but "MARIO" is never
Maria's where both are names people file under.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from string import ascii_uppercase
from typing import Final

from rapidfuzz.distance import OSA

# Both names have at least this many letters: a short name is one keystroke from many.
TYPO_MIN_LETTERS: Final = 4
# R's share of persons is at most this part of F's: R is a misspelling, not a name in use.
TYPO_SHARE_RATIO: Final = 0.01


def letters(name: str) -> int:
    """How many letters ``name`` has (a hyphen, apostrophe or space is not one)."""
    return sum(c.isalpha() for c in name)


def fixable(request: str, filed: str, share_request: float, share_filed: float) -> bool:
    """``request`` is a misspelling of ``filed`` (see the module's doc): shares are of
    persons (0 for a name nobody files under)."""
    return (
        letters(request) >= TYPO_MIN_LETTERS
        and letters(filed) >= TYPO_MIN_LETTERS
        and share_filed > 0
        and share_request <= share_filed * TYPO_SHARE_RATIO
        and int(OSA.distance(request, filed)) == 1
    )


def one_keystroke(name: str) -> Iterator[str]:
    """Every string one keystroke from ``name`` over A-Z: a character dropped, two
    neighbours swapped, a character changed to a letter, a letter inserted (repeats
    possible; ``name`` itself never)."""
    n = len(name)
    for i in range(n):
        yield name[:i] + name[i + 1 :]
    for i in range(n - 1):
        if name[i] != name[i + 1]:
            yield name[:i] + name[i + 1] + name[i] + name[i + 2 :]
    for i in range(n):
        head, tail = name[:i], name[i + 1 :]
        for c in ascii_uppercase:
            if c != name[i]:
                yield head + c + tail
    for i in range(n + 1):
        head, tail = name[:i], name[i:]
        for c in ascii_uppercase:
            yield head + c + tail


def fixes(request: str, shares: Mapping[str, float]) -> list[str]:
    """The names of ``shares`` (each first name's share of persons) that ``request`` is a
    misspelling of (``fixable``), sorted."""
    if not request or letters(request) < TYPO_MIN_LETTERS:
        return []
    own = shares.get(request, 0.0)
    found = {
        f for f in one_keystroke(request) if f in shares and fixable(request, f, own, shares[f])
    }
    return sorted(found)
