"""Text folding shared by every normaliser. Pure.

``fold`` reduces any string to upper-case ASCII letters, digits and single spaces, so
that two spellings that differ only in case, accents or punctuation compare equal. This
module never logs, never raises on any input string and keeps no state beyond caches of
fixed tables.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Letters that NFKD does not decompose into an ASCII base letter.
_TRANSLITERATIONS = dict(
    zip(
        "ØøÆæŒœŁłĐđÐðÞþßı",
        ("O", "o", "AE", "ae", "OE", "oe", "L", "l", "D", "d", "D", "d", "TH", "th", "SS", "i"),
        strict=True,
    )
)
# Apostrophes join (O'BRIEN -> OBRIEN) rather than split.
_APOSTROPHES = "'\u2019\u2018\u02bc\u02bb`\u00b4"

_KEEP = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


@lru_cache(maxsize=8)
def _ascii_table(keep: str = "") -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for ch in map(chr, range(128)):
        table[ord(ch)] = ch.upper() if ch.upper() in _KEEP or ch in keep else " "
    return table | dict.fromkeys(map(ord, _APOSTROPHES))


_TRANSLIT_TABLE = str.maketrans(
    {**_TRANSLITERATIONS, **{ch: "'" for ch in _APOSTROPHES if not ch.isascii()}}
)
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")


def _to_ascii(text: str) -> str:
    """Decompose, drop combining marks, transliterate; non-ASCII leftovers become spaces.

    Written with C-level string operations (translate, normalize, one regex, encode):
    names with accents are common, and this runs on every field of every record.
    """
    decomposed = unicodedata.normalize("NFKD", text.translate(_TRANSLIT_TABLE))
    if decomposed.isascii():
        return decomposed
    decomposed = _COMBINING.sub("", decomposed)
    if not decomposed.isascii():
        decomposed = "".join(c for c in decomposed if c.isascii() or not unicodedata.combining(c))
    return decomposed.encode("ascii", "replace").decode("ascii").replace("?", " ")


@lru_cache(maxsize=1 << 16)
def fold(text: str) -> str:
    """Upper-case ASCII letters and digits separated by single spaces; apostrophes deleted.

    Idempotent: ``fold(fold(x)) == fold(x)``.
    """
    return fold_keeping(text, "")


def fold_keeping(text: str, keep: str) -> str:
    """``fold``, except that the ASCII punctuation in ``keep`` survives (for "#", "/", "-")."""
    if not text.isascii():
        text = _to_ascii(text)
    return " ".join(text.translate(_ascii_table(keep)).split())


def word_count(text: str) -> int:
    """Number of words of at least two letters or digits after folding."""
    return sum(1 for word in fold(text).split() if len(word) >= 2)


def relevance_key(text: str) -> str:
    """A key shared by texts that differ only in case, accents, spacing or punctuation."""
    return fold(text).replace(" ", "")
