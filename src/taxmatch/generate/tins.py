"""Unique synthetic taxpayer identification numbers without remembering the ones issued.

A keyed Feistel permutation (with cycle walking) over the valid SSN space (area 001-899
except 666) and the ITIN space (9XX-YY-ZZZZ with YY in the ITIN group ranges) turns a
counter into a TIN that looks random yet never repeats, so memory does not grow with the
population. The numbers are synthetic: nothing here may be used against a real register.
Never logs a TIN.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from random import Random

_SSN_SPACE = 898 * 99 * 9999
_ITIN_GROUPS = (*range(70, 89), 90, 91, 92, *range(94, 100))
_ITIN_SPACE = 100 * len(_ITIN_GROUPS) * 10000


def keyed_permutation(size: int, rng: Random) -> Callable[[int], int]:
    """A bijection of ``range(size)`` keyed by draws from ``rng`` (balanced Feistel, cycle
    walking)."""
    half = 1
    while 1 << (2 * half) < size:
        half += 1
    keys = tuple(rng.getrandbits(32) for _ in range(4))
    mask = (1 << half) - 1

    def permute(n: int) -> int:
        x = n
        while True:
            left, right = x >> half, x & mask
            for key in keys:
                f = ((right * 0x9E3779B1 + key) ^ (right >> 3)) & 0xFFFFFFFF
                f ^= f >> 15
                left, right = right, left ^ (f & mask)
            x = (left << half) | right
            if x < size:
                return x

    return permute


def _ssn(x: int) -> str:
    area, rest = divmod(x, 99 * 9999)
    group, serial = divmod(rest, 9999)
    area += 1
    if area >= 666:
        area += 1
    return f"{area:03d}{group + 1:02d}{serial + 1:04d}"


def _itin(x: int) -> str:
    middle, rest = divmod(x, len(_ITIN_GROUPS) * 10000)
    group, serial = divmod(rest, 10000)
    return f"9{middle:02d}{_ITIN_GROUPS[group]:02d}{serial:04d}"


@dataclass(slots=True)
class TinAllocator:
    """Hands out fresh SSNs and ITINs; ``ssn_next``/``itin_next`` count those issued so far.

    A second allocator with the same seed and counters continues the same sequence, which
    is how the request generator gives people who are not in the master file a TIN that no
    filer holds.
    """

    seed: int
    ssn_next: int = 0
    itin_next: int = 0
    _ssn_perm: Callable[[int], int] = field(init=False, repr=False)
    _itin_perm: Callable[[int], int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        keys = Random(f"taxmatch-tin-{self.seed}")
        self._ssn_perm = keyed_permutation(_SSN_SPACE, keys)
        self._itin_perm = keyed_permutation(_ITIN_SPACE, keys)

    def ssn(self) -> str:
        self.ssn_next += 1
        return _ssn(self._ssn_perm(self.ssn_next - 1))

    def itin(self) -> str:
        self.itin_next += 1
        return _itin(self._itin_perm(self.itin_next - 1))
