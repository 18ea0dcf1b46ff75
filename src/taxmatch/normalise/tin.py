"""Taxpayer identification numbers: which kind, and whether two are one keystroke apart. Pure.

``is_itin`` recognises an IRS individual TIN (9XX-YY-ZZZZ with the group YY in the issued
ITIN ranges); ``is_ssn`` a Social Security number as SSA issues them (area not 000, 666 or
9XX, group not 00, serial not 0000). Person resolution lets an ITIN person join the SSN
person that succeeds it (an ITIN holder who is issued an SSN files under it thereafter).
``tin_neighbours`` lists every TIN that differs from one by one keyed digit or by one swap
of neighbouring digits, the slips a clerk makes, and for a TIN one digit short or long
(the file keeps only a TIN's digits, so a character keyed that is no digit, "3594O6614",
leaves eight) the nine-digit TINs with one digit put back or taken out; person resolution
uses it to decide which TINs may be the same person's.

This module never does I/O, never logs and never raises on any input string.
"""

from __future__ import annotations

from typing import Final

# Fourth and fifth digits of an ITIN (IRS: 50-65, 70-88, 90-92, 94-99).
ITIN_GROUPS: Final = frozenset(
    f"{g:02d}" for g in (*range(50, 66), *range(70, 89), 90, 91, 92, *range(94, 100))
)
_DIGITS: Final = "0123456789"
TIN_DIGITS: Final = 9


def is_itin(tin: str) -> bool:
    """True for a nine-digit ITIN; False for an SSN, an EIN or anything malformed."""
    return len(tin) == 9 and tin.isdigit() and tin[0] == "9" and tin[3:5] in ITIN_GROUPS


def is_ssn(tin: str) -> bool:
    """True for a nine-digit SSN in an issued range; False for an ITIN or anything else."""
    return (
        len(tin) == 9
        and tin.isdigit()
        and tin[0] != "9"
        and tin[:3] not in {"000", "666"}
        and tin[3:5] != "00"
        and tin[5:] != "0000"
    )


def tin_neighbours(tin: str) -> frozenset[str]:
    """Every digit string one keyed digit or one swap of neighbouring digits from ``tin``;
    for a TIN of ``TIN_DIGITS`` - 1 digits also every nine-digit string with one digit
    inserted, and for one of ``TIN_DIGITS`` + 1 every nine-digit string with one taken out
    (a nine-digit TIN gets no other length: only a malformed one is a dropped or doubled
    digit away from a TIN)."""
    out: set[str] = set()
    for i, c in enumerate(tin):
        out.update(tin[:i] + d + tin[i + 1 :] for d in _DIGITS if d != c)
        if i + 1 < len(tin) and tin[i + 1] != c:
            out.add(tin[:i] + tin[i + 1] + c + tin[i + 2 :])
    if len(tin) == TIN_DIGITS - 1:
        out.update(tin[:i] + d + tin[i:] for i in range(len(tin) + 1) for d in _DIGITS)
    elif len(tin) == TIN_DIGITS + 1:
        out.update(tin[:i] + tin[i + 1 :] for i in range(len(tin)))
    return frozenset(out)
