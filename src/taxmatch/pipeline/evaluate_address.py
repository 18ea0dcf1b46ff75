"""How ``taxmatch evaluate`` compares a disclosed address with the true one, and TINs.

Both sides are put in USPS form (``parse_address``; city and state are not compared) and
spelling variants of one street name are folded, so that the same door compares equal.
"""

from __future__ import annotations

import re
from functools import lru_cache

from taxmatch.normalise.address import parse_address
from taxmatch.normalise.text import fold

_DIGITS = re.compile(r"\D")
# City and state are not compared; fixed valid stand-ins keep a misspelt or blank city
# from making an otherwise comparable street line unparseable.
_CITY, _STATE = "SPRINGFIELD", "IL"


def tin_digits(tin: str) -> str:
    """A TIN as the reference stores it: digits only."""
    return _DIGITS.sub("", tin)


_ORDINALS = (
    "FIRST", "SECOND", "THIRD", "FOURTH", "FIFTH", "SIXTH", "SEVENTH", "EIGHTH", "NINTH",
    "TENTH", "ELEVENTH", "TWELFTH", "THIRTEENTH", "FOURTEENTH", "FIFTEENTH", "SIXTEENTH",
    "SEVENTEENTH", "EIGHTEENTH", "NINETEENTH", "TWENTIETH",
)  # fmt: skip
# Spellings of one street name that parse_address leaves apart (USPS would print either):
# a disclosure of "9490 FT HILL RD" for a true "9490 FORT HILL RD" is the same door.
_SAME_WORD = {
    **{w: f"{n}{'TH' if 10 < n < 14 else {1: 'ST', 2: 'ND', 3: 'RD'}.get(n % 10, 'TH')}"
       for n, w in enumerate(_ORDINALS, start=1)},
    "SAINT": "ST", "FORT": "FT", "MOUNT": "MT",
}  # fmt: skip


def address_key(street: str, unit: str, zip_code: str) -> tuple[str, str, str]:
    """(street line, unit, ZIP5) in USPS form; folded raw text when the line will not parse.

    Ordinal words and SAINT / FORT / MOUNT are spelt one way, so that two spellings of
    one street name compare equal; nothing else is relaxed.
    """
    return address_parts(street, unit, zip_code)[0]


@lru_cache(maxsize=1 << 16)
def address_parts(street: str, unit: str, zip_code: str) -> tuple[tuple[str, str, str], bool]:
    """The comparison key, and whether the address parses as complete (house, street, ZIP)."""
    parsed = parse_address(street, unit, _CITY, _STATE, zip_code).address
    if parsed is not None:
        return (_same_words(parsed.street_line), parsed.unit, parsed.zip5), True
    return (_same_words(fold(street)), fold(unit), tin_digits(zip_code)[:5]), False


def _same_words(line: str) -> str:
    return " ".join(_SAME_WORD.get(word, word) for word in line.split())
