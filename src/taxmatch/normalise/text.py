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
def _ascii_table(keep: str = "") -> tuple[bytes, bytes]:
    """``bytes.translate`` arguments for folded ASCII: kept characters upper-cased, ASCII
    apostrophes deleted, everything else a space."""
    table = bytes(
        ord(ch.upper()) if ch.upper() in _KEEP or ch in keep else ord(" ")
        for ch in map(chr, range(256))
    )
    return table, "".join(c for c in _APOSTROPHES if c.isascii()).encode("ascii")


_TRANSLIT_TABLE = str.maketrans(
    {**_TRANSLITERATIONS, **{ch: "'" for ch in _APOSTROPHES if not ch.isascii()}}
)
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")


def _to_ascii(text: str) -> str:
    """Decompose, drop combining marks, transliterate; non-ASCII leftovers become spaces.

    Only the runs of non-ASCII characters are rewritten, each once (they recur: "é",
    "§"): decomposition, transliteration and dropping marks act character by character,
    and no ASCII character decomposes or reorders with a mark, so the ASCII text between
    runs is left as it is.
    """
    return _NON_ASCII_RUN.sub(_run_to_ascii, text)


def _run_to_ascii(m: re.Match[str]) -> str:
    return _ascii_run(m.group())


@lru_cache(maxsize=1 << 12)
def _ascii_run(run: str) -> str:
    decomposed = unicodedata.normalize("NFKD", run.translate(_TRANSLIT_TABLE))
    if decomposed.isascii():
        return decomposed
    decomposed = _COMBINING.sub("", decomposed)
    return _NON_ASCII.sub(_leftover, decomposed)


def _leftover(m: re.Match[str]) -> str:
    """A non-ASCII character NFKD left: dropped when it is a combining mark, else a space."""
    return "" if unicodedata.combining(m.group()) else " "


@lru_cache(maxsize=1 << 16)
def fold(text: str) -> str:
    """Upper-case ASCII letters and digits separated by single spaces; apostrophes deleted.

    Idempotent: ``fold(fold(x)) == fold(x)``.
    """
    return fold_keeping(text, "")


def fold_keeping(text: str, keep: str) -> str:
    """``fold``, except that the ASCII punctuation in ``keep`` survives (for "#", "/", "-")."""
    if not text.isascii():
        text = _to_ascii(text)  # ASCII from here on
    table, delete = _ascii_table(keep)
    return b" ".join(text.encode("ascii").translate(table, delete).split()).decode("ascii")


@lru_cache(maxsize=64)
def fold_rare(text: str) -> str:
    """``fold`` for text that seldom repeats across records (a relevance statement, a case
    number): its own small cache, so that such texts do not push names and places out of
    ``fold``'s, and ``word_count`` and ``relevance_key`` of one text fold it once."""
    return fold_keeping(text, "")


@lru_cache(maxsize=1)
def _marks_table() -> bytes:
    """``_ascii_table()``'s table with every kept character written as "x"."""
    table, _ = _ascii_table()
    return bytes(b"x"[0] if c != ord(" ") else c for c in table)


def word_count(text: str) -> int:
    """Number of words of at least two letters or digits after folding.

    Counted without folding: with every character ``fold`` keeps written as "x" and
    everything else as a space (apostrophes deleted, as there), each such word starts
    at one " xx" (per row: a relevance text seldom repeats).
    """
    if not text.isascii():
        text = _to_ascii(text)
    _, delete = _ascii_table()
    return (b" " + text.encode("ascii").translate(_marks_table(), delete)).count(b" xx")


def relevance_key(text: str) -> str:
    """A key shared by texts that differ only in case, accents, spacing or punctuation:
    ``fold`` without its spaces, so its words need not be split and joined."""
    if not text.isascii():
        text = _to_ascii(text)
    table, delete = _ascii_table()
    return text.encode("ascii").translate(table, delete).replace(b" ", b"").decode("ascii")
