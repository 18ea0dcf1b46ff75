"""Unique synthetic taxpayer identification numbers without remembering the ones issued.

A keyed Feistel permutation (with cycle walking) over the valid SSN space (area 001-899
except 666) and the ITIN space (9XX-YY-ZZZZ with YY in the ITIN group ranges) turns a
counter into a TIN that looks random yet never repeats, so memory does not grow with the
population. The numbers are synthetic: nothing here may be used against a real register.
Never logs a TIN.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from random import Random

_SSN_SPACE = 898 * 99 * 9999
_ITIN_GROUPS = (*range(70, 89), 90, 91, 92, *range(94, 100))
_ITIN_SPACE = 100 * len(_ITIN_GROUPS) * 10000


@dataclass(frozen=True, slots=True)
class KeyedPermutation:
    """A bijection of ``range(size)`` keyed by ``keys`` (balanced Feistel, cycle walking)."""

    size: int
    half_bits: int
    keys: tuple[int, ...]

    def __call__(self, n: int) -> int:
        mask = (1 << self.half_bits) - 1
        x = n
        while True:
            left, right = x >> self.half_bits, x & mask
            for key in self.keys:
                f = ((right * 0x9E3779B1 + key) ^ (right >> 3)) & 0xFFFFFFFF
                f ^= f >> 15
                left, right = right, left ^ (f & mask)
            x = (left << self.half_bits) | right
            if x < self.size:
                return x


def keyed_permutation(size: int, rng: Random) -> KeyedPermutation:
    half = 1
    while 1 << (2 * half) < size:
        half += 1
    return KeyedPermutation(size, half, tuple(rng.getrandbits(32) for _ in range(4)))


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
    _ssn_perm: KeyedPermutation = field(init=False, repr=False)
    _itin_perm: KeyedPermutation = field(init=False, repr=False)

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
