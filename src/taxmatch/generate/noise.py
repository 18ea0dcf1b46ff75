"""Realistic corruption of names, identifiers and addresses: what clerks and systems do,
both in the custodian's filings and in the requester's copies.

Every function keeps a field well formed (a name stays letters, a TIN stays nine digits):
noise makes matching hard, it never makes a valid record invalid. Pure; never logs values.
"""

from __future__ import annotations

from functools import cache
from random import Random

from nicknames import NickNamer

from taxmatch.generate.places import TOKEN_VARIANTS, UNIT_VARIANTS

# Each letter's neighbours on its keyboard row.
_NEIGHBOURS: dict[str, str] = {
    c: row[max(0, i - 1) : i] + row[i + 1 : i + 2]
    for row in ("qwertyuiop", "asdfghjkl", "zxcvbnm")
    for i, c in enumerate(row)
}
# Sound-alike slips a clerk makes when a name is read out.
_PHONETIC: tuple[tuple[str, str], ...] = (
    ("PH", "F"),
    ("CK", "K"),
    ("EI", "IE"),
    ("IE", "EI"),
    ("Y", "I"),
    ("EE", "EA"),
    ("SCH", "SH"),
    ("TH", "T"),
    ("OU", "U"),
    ("Z", "S"),
    ("C", "K"),
    ("V", "B"),
)


def typo(text: str, rng: Random) -> str:
    """One keyboard or sound-alike slip in a name; the result stays letters-only."""
    letters = [i for i, c in enumerate(text) if c.isalpha()]
    if len(letters) < 3:
        return text
    kind = rng.random()
    i = letters[rng.randrange(1, len(letters))]
    c = text[i]
    if kind < 0.3:  # neighbouring key
        options = _NEIGHBOURS.get(c.lower(), "")
        if options:  # lower case, as ``_NEIGHBOURS`` holds them
            new = rng.choice(options)
            return text[:i] + (new.upper() if c.isupper() else new) + text[i + 1 :]
        return text
    if kind < 0.5:  # transposition of two adjacent letters
        j = i - 1
        if text[j].isalpha():
            return text[:j] + text[i] + text[j] + text[i + 1 :]
        return text
    if kind < 0.7:  # dropped letter
        return text[:i] + text[i + 1 :]
    if kind < 0.85:  # doubled letter
        return text[:i] + c + text[i:]
    upper = text.upper()
    for old, new in _PHONETIC:
        at = upper.find(old, 1)
        if at > 0:
            replacement = new if text[at].isupper() else new.lower()
            return text[:at] + replacement + text[at + len(old) :]
    return text


def digit_slip(digits: str, rng: Random, *, keep_first: bool = False) -> str:
    """Change one digit (or swap two neighbours) of a digit string."""
    if not digits:
        return digits
    start = 1 if keep_first and len(digits) > 1 else 0
    i = rng.randrange(start, len(digits))
    if rng.random() < 0.3 and i + 1 < len(digits) and digits[i] != digits[i + 1]:
        return digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :]
    new = str((int(digits[i]) + rng.randint(1, 9)) % 10)
    if i == 0 and new == "0":  # no leading zero, no house number 0
        new = "2" if digits[0] == "1" else "1"
    return digits[:i] + new + digits[i + 1 :]


def house_number_slip(street: str, rng: Random) -> str:
    """A wrong house number on line 1 (``1234 MAIN ST`` -> ``1243 MAIN ST``)."""
    head, _, rest = street.partition(" ")
    if not head.isdigit() or not rest:
        return street
    return f"{digit_slip(head, rng, keep_first=len(head) > 1)} {rest}"


def variant_tokens(text: str, rng: Random, share: float) -> str:
    """Rewrite standard tokens (``ST``, ``N``, ``1ST``, ``SAINT``) to other common spellings."""
    tokens = text.split(" ")
    changed = False
    for k in range(1 if tokens and tokens[0].isdigit() else 0, len(tokens)):
        options = TOKEN_VARIANTS.get(tokens[k])
        if options and rng.random() < share:
            tokens[k] = options[0] if rng.random() < 0.7 else rng.choice(options)
            changed = True
    return " ".join(tokens) if changed else text


def unit_variant(unit: str, rng: Random) -> str:
    """``APT 4`` -> ``#4`` / ``APARTMENT 4`` / ``UNIT 4``."""
    designator, _, number = unit.partition(" ")
    options = UNIT_VARIANTS.get(designator)
    if not options or not number:
        return unit
    new = rng.choice(options)
    return f"#{number}" if new == "#" and rng.random() < 0.6 else f"{new} {number}"


def letter_case(text: str, rng: Random) -> str:
    """Upper, title or (rarely) lower case, as different systems write names."""
    r = rng.random()
    if r < 0.45:
        return text.upper()
    if r < 0.97:
        return " ".join(part.capitalize() for part in text.split(" "))
    return text.lower()


@cache
def _namer() -> NickNamer:
    return NickNamer()


@cache
def nicknames_of(first: str) -> tuple[str, ...]:
    """Letters-only nicknames of a given name, sorted so draws are reproducible."""
    found = _namer().nicknames_of(first.lower())
    return tuple(sorted(n for n in found if n.isalpha() and len(n) > 1))


def nickname(first: str, rng: Random) -> str | None:
    options = nicknames_of(first)
    return rng.choice(options).capitalize() if options else None


def initial(name: str, rng: Random) -> str:
    return name[0] + ("." if rng.random() < 0.4 else "") if name else name
