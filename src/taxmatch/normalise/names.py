"""Person names to a folded, comparable form; given-name equivalence. Pure.

``normalise_name`` folds each part, moves a generational suffix typed into the first or
last name ("SMITH JR") into ``suffix``, and splits compound surnames into parts without
their particles ("DE LA CRUZ" -> ("CRUZ",)). ``first_names_agree`` allows exact names,
direct nickname pairs ("BILL"/"WILLIAM") and a lone initial; it never guesses beyond
that, because a loose name rule discloses the wrong person's address.

This module never does I/O (the nickname table is package data, loaded once), never
logs and never raises on any input string.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Final

from taxmatch.normalise.text import fold

if TYPE_CHECKING:
    from nicknames import NickNamer

# Canonical generational suffixes.
SUFFIXES: Final = ("JR", "SR", "II", "III", "IV", "V")

# Each canonical suffix and its spellings.
_SUFFIX_SPELLINGS: Final = {
    spelling: canonical
    for canonical, spellings in (
        ("JR", "JR JNR JUN JUNIOR"),
        ("SR", "SR SNR SEN SENIOR"),
        ("II", "II 2ND 2"),
        ("III", "III 3RD 3"),
        ("IV", "IV 4TH 4"),
        ("V", "V 5TH 5"),
    )
    for spelling in spellings.split()
}
# Spellings that are a suffix when they close a surname ("SMITH JR", "JONES III").
_SUFFIX_WORDS_LAST: Final = frozenset(
    s for s in _SUFFIX_SPELLINGS if not s.isdigit() and s not in {"JUN", "SEN"}
)
# At the end of a first name "V" is more often a middle initial ("JOHN V"), so it stays.
_SUFFIX_WORDS_FIRST: Final = _SUFFIX_WORDS_LAST - {"V"}

# Surname particles, dropped from ``last_parts`` only when another word follows.
SURNAME_PARTICLES: Final = frozenset(
    {
        "DE", "DEL", "DELA", "DELLA", "DELLO", "DEGLI", "DI", "DA", "DAS", "DO", "DOS",
        "DU", "DES", "LA", "LAS", "LOS", "LE", "Y", "E", "VAN", "VON", "DER", "DEN", "TER",
        "TEN", "BIN", "BINTI", "BINT", "IBN", "BEN", "AL", "EL",
    }
)  # fmt: skip

# Courtesy titles typed before a given name ("MR JOHN").
_TITLES: Final = frozenset({"MR", "MRS", "MS", "MISS", "MX", "DR", "REV", "PROF", "SIR"})


@dataclass(frozen=True, slots=True)
class PersonName:
    """A folded name. ``suffix`` is one of ``SUFFIXES`` or ""."""

    first: str
    middle: str
    last: str
    suffix: str
    last_parts: tuple[str, ...]  # surname words without particles: "GARCIA LOPEZ" -> both

    @property
    def last_key(self) -> str:
        """The surname with spaces and hyphens removed: "GARCIA-LOPEZ" -> "GARCIALOPEZ"."""
        return self.last.replace(" ", "")


@lru_cache(maxsize=1 << 16)
def name_tokens(text: str) -> tuple[str, ...]:
    """The folded words of a name ("Garcia-López" -> ("GARCIA", "LOPEZ"))."""
    return tuple(fold(text).split())


@lru_cache(maxsize=1024)
def normalise_suffix(text: str) -> str:
    """A canonical suffix ("Jr." -> "JR", "2nd" -> "II") or "" when there is none."""
    words = name_tokens(text)
    joined = "".join(words)
    if joined in _SUFFIX_SPELLINGS:
        return _SUFFIX_SPELLINGS[joined]
    for word in words:
        if word in _SUFFIX_SPELLINGS and not word.isdigit():
            return _SUFFIX_SPELLINGS[word]
    return ""


def _take_suffix(
    words: tuple[str, ...], suffix: str, allowed: frozenset[str]
) -> tuple[tuple[str, ...], str]:
    """Move trailing suffix words into ``suffix`` while they agree with it."""
    while len(words) >= 2 and words[-1] in allowed:
        found = _SUFFIX_SPELLINGS[words[-1]]
        if suffix and found != suffix:
            break
        suffix = found
        words = words[:-1]
    return words, suffix


def _surname_parts(words: tuple[str, ...]) -> tuple[str, ...]:
    if len(words) <= 1:
        return words
    return (*(w for w in words[:-1] if w not in SURNAME_PARTICLES), words[-1])


def normalise_name(first: str, middle: str, last: str, suffix: str) -> PersonName:
    """Fold and tidy a name; idempotent on its own output."""
    first_words, middle_text, last_words, canonical = name_fields(first, middle, last, suffix)
    return PersonName(
        first=first_words,
        middle=middle_text,
        last=last_words,
        suffix=canonical,
        last_parts=_surname_parts(name_tokens(last_words)),
    )


def name_fields(first: str, middle: str, last: str, suffix: str) -> tuple[str, str, str, str]:
    """``normalise_name``'s first, middle, last and suffix as plain strings (no
    ``PersonName`` built): what a batch's validation stages for each row."""
    first_words = name_tokens(first)
    last_words = name_tokens(last)
    canonical = normalise_suffix(suffix)
    last_words, canonical = _take_suffix(last_words, canonical, _SUFFIX_WORDS_LAST)
    first_words, canonical = _take_suffix(first_words, canonical, _SUFFIX_WORDS_FIRST)
    while len(first_words) >= 2 and first_words[0] in _TITLES:
        first_words = first_words[1:]
    return " ".join(first_words), fold(middle), " ".join(last_words), canonical


@lru_cache(maxsize=1)
def _nicknamer() -> NickNamer:
    """The package's nickname table, read once on first use rather than at import."""
    from nicknames import NickNamer

    return NickNamer()


@lru_cache(maxsize=1 << 14)
def _related_names(name: str) -> frozenset[str]:
    """Names the nickname table links directly to ``name`` (either direction), folded."""
    namer = _nicknamer()
    key = name.lower()
    try:
        related = set(namer.nicknames_of(key)) | set(namer.canonicals_of(key))
    except Exception:  # third-party table: an odd key means "no known nicknames"
        return frozenset()
    return frozenset(fold(r) for r in related)


def related_first_names(name: str) -> frozenset[str]:
    """Given names the nickname table links directly to ``name`` (folded), for SQL matchers
    that must agree with ``first_names_agree``: a in related(b) or b in related(a)."""
    return _related_names(fold(name)) if name else frozenset()


@lru_cache(maxsize=1 << 16)
def _agree(a: str, b: str) -> bool:
    if a == b:
        return True
    if not a or not b:
        return False
    if len(a) == 1 or len(b) == 1:
        return a[0] == b[0]  # a lone initial agrees with any name it begins
    return b in _related_names(a) or a in _related_names(b)


def first_names_agree(a: str, b: str) -> bool:
    """Same given name: exact, a direct nickname pair, or a lone initial that fits.

    Symmetric and reflexive. Inputs are expected folded; they are folded again anyway.
    """
    fa, fb = fold(a), fold(b)
    return _agree(fa, fb) if fa <= fb else _agree(fb, fa)
