"""Synthetic personal names: given names, middle names, surnames and suffixes by group.
Pure functions of the ``random.Random`` passed in; never logs or prints a name.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from random import Random

from taxmatch.generate.tables import GROUPS, Weighted, given_names, surnames

GROUP_WEIGHTS: Weighted[str] = Weighted(
    list(zip(GROUPS, (0.685, 0.24, 0.025, 0.02, 0.03), strict=True))
)
ASIAN_GROUPS = frozenset({"vietnamese", "korean", "chinese"})

# Twins are sometimes given names a clerk (or a matcher) can confuse.
SIMILAR_TWIN_NAMES: tuple[tuple[tuple[str, str], tuple[str, str]], ...] = (
    (("Jayden", "M"), ("Jaden", "M")),
    (("Aiden", "M"), ("Aidan", "M")),
    (("Brian", "M"), ("Bryan", "M")),
    (("Kristen", "F"), ("Kirsten", "F")),
    (("Ashley", "F"), ("Ashlee", "F")),
    (("Daniel", "M"), ("Danielle", "F")),
    (("Mateo", "M"), ("Matteo", "M")),
    (("Isaac", "M"), ("Isaiah", "M")),
    (("Ana", "F"), ("Anna", "F")),
    (("Erica", "F"), ("Erika", "F")),
    (("Caitlin", "F"), ("Kaitlyn", "F")),
    (("Jeffrey", "M"), ("Jeffery", "M")),
    (("Madison", "F"), ("Mackenzie", "F")),
)


@dataclass(frozen=True, slots=True)
class PersonName:
    """A person's true name as they write it (title case, diacritics kept where they use them)."""

    first: str
    middle: str
    last: str
    suffix: str


@lru_cache(maxsize=1 << 16)
def fold_ascii(text: str) -> str:
    """Drop diacritics: ``Muñoz`` -> ``Munoz``."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def pick_group(rng: Random) -> str:
    return GROUP_WEIGHTS.pick(rng)


def pick_given(rng: Random, group: str, sex: str) -> str:
    if (group in ASIAN_GROUPS and rng.random() < 0.5) or (
        group == "hispanic" and rng.random() < 0.12
    ):
        group = "general"
    return given_names(group, sex).pick(rng)


def pick_middle(rng: Random, group: str, sex: str) -> str:
    r = rng.random()
    if group == "general":
        if r < 0.35:
            return given_names("middle_general", sex).pick(rng)
        return given_names("general", sex).pick(rng) if r < 0.78 else ""
    if group == "hispanic":
        return given_names("hispanic", sex).pick(rng) if r < 0.28 else ""
    if group == "vietnamese":
        return given_names("middle_vietnamese", sex).pick(rng) if r < 0.85 else ""
    return given_names("general", sex).pick(rng) if r < 0.12 else ""


def pick_surname(rng: Random, group: str) -> str:
    """One surname; Hispanic people often carry two (``García López``) or a hyphenated pair."""
    first = surnames(group).pick(rng)
    if group != "hispanic":
        return first
    r = rng.random()
    if r < 0.30:
        return f"{first} {surnames(group).pick(rng)}"
    if r < 0.38:
        return f"{first}-{surnames(group).pick(rng)}"
    return first


def first_surname(last: str) -> str:
    """The paternal part of a compound surname (``García López`` -> ``García``)."""
    if "-" in last:
        return last.split("-", 1)[0]
    parts = last.split(" ")
    if len(parts) == 2 and parts[0].lower() not in {"de", "del", "van", "st.", "la"}:
        return parts[0]
    return last


def is_compound(last: str) -> bool:
    return first_surname(last) != last


def keep_diacritics(rng: Random, group: str) -> bool:
    """Whether a person writes their name with its accents (most Americanised spellings do not)."""
    return group == "hispanic" and rng.random() < 0.35


def person_name(rng: Random, group: str, sex: str, last: str, accents: bool) -> PersonName:
    first = pick_given(rng, group, sex)
    middle = pick_middle(rng, group, sex)
    if not accents:
        first, middle, last = fold_ascii(first), fold_ascii(middle), fold_ascii(last)
    suffix = ""
    if sex == "M" and rng.random() < 0.015:
        suffix = "III" if rng.random() < 0.3 else "Jr"
    return PersonName(first, middle, last, suffix)
