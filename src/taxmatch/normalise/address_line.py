"""One street line, step by step: its tokens, its segments (house number, street, unit),
the USPS rendering of the street, and whether the line is accepted as house number +
street (a strict grammar, then ``usaddress``, then a lenient rule for routes and grid
streets). ``address`` turns the result into an ``Address`` or its problems. Pure: no
I/O, no logging, never raises on any input string.
"""

from __future__ import annotations

import re
from functools import lru_cache

import usaddress

from taxmatch.normalise.directional import mend_trailing_directional
from taxmatch.normalise.text import fold_keeping
from taxmatch.normalise.usps import (
    DIRECTIONALS,
    MILITARY_BOX_KINDS,
    ORDINAL_WORDS,
    PO_BOX_KEYWORDS,
    ROUTE_BOX_KINDS,
    STATE_CODES,
    STREET_TYPES,
    SUFFIXLESS_STREETS,
    UNIT_DESIGNATORS,
    UNIT_DESIGNATORS_ALONE,
    UNIT_POUND,
)

# --- tokens and segments ----------------------------------------------------------------------

# Grid house numbers: "27W088", "0N123" (northern Illinois: miles and the number on the
# grid), "N1680", "N59W28135", "W220N7246" (Wisconsin: one or two grid coordinates).
_GRID_HOUSE = r"\d+[NSEW]\d+|[NSEW]\d+(?:[NSEW]\d+|[A-Z])?"
_HOUSE = re.compile(rf"\d+[A-Z]?(?:-\d+[A-Z]?|-[A-Z])?|{_GRID_HOUSE}")
# Wisconsin grid numbers written in two parts: "N59W 28135", "W220 N7246".
_GRID_HEAD = re.compile(r"[NSEW]\d+[NSEW]")
_GRID_PART = re.compile(r"[NSEW]\d+")
# A house number the lenient rule accepts: digits with an optional letter, hyphenated part
# ("123-45", Queens) or fraction ("12 1/3"), or a grid number.
_PLAIN_HOUSE = re.compile(rf"\d+[A-Z]?(?:-\d+[A-Z]?| [1-9]/[2-9])?|{_GRID_HOUSE}")
_FRACTION = re.compile(r"[1-9]/[2-9]")
UNIT_ID = re.compile(r"[A-Z0-9]{1,6}(?:-[A-Z0-9]{1,6})?")
_ORDINAL = re.compile(r"\d+(?:ST|ND|RD|TH)")
_INITIAL_DOT = re.compile(r"(?<![A-Z0-9])([A-Z])\.")  # "P.O." -> "PO", "N.W." -> "NW"
# A house number with one letter typed or read for a digit inside it ("6O3", "19G3",
# "8Z03": one of O, I, L, G, B, Z between digits; two letters may be a unit, "2BB1").
# N, S, E and W are never read so: they make grid numbers ("27S088").
_MISREAD_HOUSE = re.compile(r"\d+[OILGBZ]\d+")
_MISREAD_DIGITS = str.maketrans("OILGBZ", "011682")
_STRAY_SLASH = re.compile(r"(?<!\d)/|/(?!\d)")
_STRAY_HYPHEN = re.compile(r"(?<![A-Z0-9])-|-(?![A-Z0-9])|(?<=[A-Z])-(?=[A-Z])")

_STREET_LABELS = frozenset(
    {
        "StreetNamePreDirectional", "StreetNamePreModifier", "StreetNamePreType", "StreetName",
        "StreetNamePostType", "StreetNamePostDirectional", "StreetNamePostModifier",
    }
)  # fmt: skip
_HOUSE_LABELS = frozenset({"AddressNumber", "AddressNumberPrefix", "AddressNumberSuffix"})


def line_tokens(line: str) -> tuple[str, ...]:
    """Folded tokens of an address line, keeping "#", fractions and numeric hyphens."""
    text = fold_keeping(line, "#/-.")
    if "." in text:
        text = _INITIAL_DOT.sub(r"\1", text).replace(".", " ")
    if "/" in text:
        text = _STRAY_SLASH.sub(" ", text)
    if "-" in text:
        text = _STRAY_HYPHEN.sub(" ", text)
    if "#" in text:
        text = text.replace("#", " # ")
    return tuple(text.split())


def _leading_unit(tokens: tuple[str, ...]) -> int:
    """Length of a unit ("APT 4", "APT # 4", "# 4") that opens a line before a house number."""
    if not tokens or not (tokens[0] in UNIT_DESIGNATORS or tokens[0] == UNIT_POUND):
        return 0
    k = 2 if len(tokens) > 2 and tokens[0] != UNIT_POUND and tokens[1] == UNIT_POUND else 1
    if len(tokens) > k + 2 and UNIT_ID.fullmatch(tokens[k]) and _HOUSE.fullmatch(tokens[k + 1]):
        return k + 1
    return 0


def _join_house(tokens: tuple[str, ...]) -> tuple[str, ...]:
    """One house-number token from the two a line sometimes splits it into: a grid number
    ("N59W 28135" -> "N59W28135") or a letter suffix ("27 B NE 45TH AVE" -> "27B NE 45TH
    AVE"). The letter is joined only when a street of two or more words follows that does
    not open with a street type, so "123 A ST" and "100 N MAIN ST" keep their street; or
    when the rest of the line is a route ("12 B ROUTE 9" -> "12B ROUTE 9"), which no
    one-letter word opens."""
    if len(tokens) >= 2 and _GRID_HEAD.fullmatch(tokens[0]) and tokens[1].isdigit():
        return (tokens[0] + tokens[1], *tokens[2:])
    if (
        len(tokens) >= 3
        and _GRID_PART.fullmatch(tokens[0])
        and _GRID_PART.fullmatch(tokens[1])
        and _crosses(tokens[0][0], tokens[1][0])
    ):
        return (tokens[0] + tokens[1], *tokens[2:])
    if (
        len(tokens) >= 4
        and tokens[0].isdigit()
        and len(tokens[1]) == 1
        and tokens[1].isalpha()
        and tokens[1] not in DIRECTIONALS
        and (tokens[2] not in STREET_TYPES or is_route(_before_unit(tokens[2:])))
        and tokens[2] not in UNIT_DESIGNATORS
        and tokens[1:3] not in _ROUTE_PREFIXES  # "1875 C R 420" is County Road 420
    ):
        return (tokens[0] + tokens[1], *tokens[2:])
    return tokens


def _before_unit(tokens: tuple[str, ...]) -> tuple[str, ...]:
    """The tokens before the first unit designator or "#"."""
    for j, token in enumerate(tokens):
        if token in UNIT_DESIGNATORS or token == UNIT_POUND:
            return tokens[:j]
    return tokens


def _crosses(a: str, b: str) -> bool:
    """Two grid directions on different axes (one of N/S, one of E/W)."""
    return (a in "NS") != (b in "NS")


def segment(tokens: tuple[str, ...]) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """(house number, street tokens, unit tokens): the one segmentation rule for lines.

    A misspelt directional after the street's type is read as the one directional it can
    be ("17TH AVE NORHEAST" -> "17TH AVE NE"; ``directional``), else kept as written; a
    letter inside a house number that stands for a digit is read as it ("6O3" -> "603")."""
    lead = _leading_unit(tokens)
    if lead:  # "APT 4 123 MAIN ST": the unit goes after the street, where USPS puts it
        tokens = tokens[lead:] + tokens[:lead]
    if tokens and _MISREAD_HOUSE.fullmatch(tokens[0]):
        tokens = (tokens[0].translate(_MISREAD_DIGITS), *tokens[1:])
    tokens = _join_house(tokens)
    n = len(tokens)
    start = 0
    house = ""
    if n and _HOUSE.fullmatch(tokens[0]):
        house, start = tokens[0], 1
        if n > 1 and _FRACTION.fullmatch(tokens[1]):
            house, start = f"{house} {tokens[1]}", 2
    for j in range(start + 1, n):
        token = tokens[j]
        if token in UNIT_DESIGNATORS or token == UNIT_POUND:
            return house, mend_trailing_directional(tokens[start:j]), tokens[j:]
        if token in UNIT_DESIGNATORS_ALONE and j == n - 1 and j >= start + 2:
            return house, mend_trailing_directional(tokens[start:j]), tokens[j:]
    return house, mend_trailing_directional(tokens[start:]), ()


@lru_cache(maxsize=1 << 16)
def render_street(tokens: tuple[str, ...]) -> str:
    """USPS form of the street tokens: abbreviate the suffix and directionals only when
    the name keeps at least one word ("123 NORTH ST" keeps NORTH as the street name)."""
    rest = list(tokens)
    post_dir = suffix = pre_dir = ""
    if len(rest) >= 2 and rest[-1] in DIRECTIONALS:
        post_dir = DIRECTIONALS[rest.pop()]
    if len(rest) >= 2 and rest[-1] in STREET_TYPES:
        suffix = STREET_TYPES[rest.pop()]
    if len(rest) >= 2 and rest[0] in DIRECTIONALS:
        pre_dir = DIRECTIONALS[rest.pop(0)]
    return " ".join(part for part in (pre_dir, *_numbered(rest), suffix, post_dir) if part)


def _numbered(words: list[str]) -> list[str]:
    """The street name's ordinals written in words as numbers ("TWENTY FIRST" -> "21ST")."""
    out: list[str] = []
    i = 0
    while i < len(words):
        pair = " ".join(words[i : i + 2])
        if i + 1 < len(words) and pair in ORDINAL_WORDS:
            out.append(ORDINAL_WORDS[pair])
            i += 2
        else:
            out.append(ORDINAL_WORDS.get(words[i], words[i]))
            i += 1
    return out


def _is_plain_word(token: str) -> bool:
    return len(token) >= 2 and token.isalpha() and token not in NOT_NAME_WORDS


NOT_NAME_WORDS = frozenset(DIRECTIONALS) | frozenset(UNIT_DESIGNATORS)


def house_shape_known(house: str) -> bool:
    """A house number of a shape USPS delivers to: plain, with a letter, a fraction or a
    hyphen, or a grid number."""
    return _PLAIN_HOUSE.fullmatch(house) is not None


def fast_accepts(house: str, street: tuple[str, ...]) -> bool:
    """The common unambiguous shapes: 123 [DIR] NAME TYPE, 123 NAME TYPE DIR, 123 [DIR]
    BROADWAY [DIR].

    NAME is one ordinal ("23RD"), one or two plain words ("LAKE SHORE"), or three or four
    that include no street type ("MARTIN LUTHER KING JR"). A test checks that usaddress labels these
    shapes the same way; a directional on both sides, or after HWY, is left to usaddress,
    which sometimes reads the trailing one as a unit.
    """
    return house.isdigit() and _common_street(street)


@lru_cache(maxsize=1 << 16)
def _common_street(street: tuple[str, ...]) -> bool:
    """The street of one of ``fast_accepts``'s shapes, whatever its house number."""
    pre = 1 if len(street) >= 2 and street[0] in DIRECTIONALS else 0
    post = 1 if len(street) - pre >= 2 and street[-1] in DIRECTIONALS else 0
    if pre and post:
        return False
    body = street[pre : len(street) - post]
    if len(body) == 1:
        return body[0] in SUFFIXLESS_STREETS
    name, suffix = body[:-1], STREET_TYPES.get(body[-1])
    if suffix is None or (post and suffix == "HWY"):
        return False
    if len(name) == 1 and _ORDINAL.fullmatch(name[0]):
        return True
    if not all(_is_plain_word(t) for t in name):
        return False
    return len(name) <= 2 or (len(name) <= 4 and not any(t in STREET_TYPES for t in name))


# Route-style street names: a prefix, then one route number ("COUNTY ROAD 12", "TWP RD 223",
# "C R 420", "HWY 441", "US 101").
_ROUTE_PREFIXES = frozenset(
    {
        ("COUNTY", "ROAD"), ("COUNTY", "RD"), ("CO", "RD"), ("CO", "ROAD"), ("CTY", "RD"),
        ("CR",), ("C", "R"), ("TWP", "RD"), ("TWP", "ROAD"), ("TOWNSHIP", "ROAD"),
        ("TOWNSHIP", "RD"), ("HWY",), ("HIGHWAY",), ("STATE", "HWY"), ("STATE", "HIGHWAY"),
        ("STATE", "ROUTE"), ("STATE", "ROAD"), ("STATE", "RD"), ("SR",), ("US", "HWY"),
        ("US", "HIGHWAY"), ("US", "ROUTE"), ("US",), ("ROUTE",), ("RTE",), ("RT",), ("FM",),
        ("RR",), ("RURAL", "ROUTE"), ("PRIVATE", "ROAD"), ("PRIVATE", "RD"), ("FOREST", "ROAD"),
        ("INTERSTATE",),
    }
)  # fmt: skip
_ROUTE_ID = re.compile(r"\d{1,5}[A-Z]?|[A-Z]\d{1,4}")
_SHORT_TAIL = 3  # letters of a final word that may be a cut-off street type ("ROA", "R")


def is_route(street: tuple[str, ...]) -> bool:
    """A route prefix then one route number, with or without a trailing directional:
    "COUNTY ROAD 12", "HWY 441", "ROUTE 22 N"."""
    if len(street) >= 3 and street[-1] in DIRECTIONALS:
        street = street[:-1]
    return street[:-1] in _ROUTE_PREFIXES and _ROUTE_ID.fullmatch(street[-1]) is not None


def lenient_accepts(house: str, street: tuple[str, ...]) -> bool:
    """House number + street name in shapes neither the grammar nor usaddress takes.

    - a route: "10212 COUNTY ROAD 1010", "1384 TWP RD 223", "219A ROUTE 22";
    - a grid street: "36370 E 1975 N" (a number between two directionals);
    - a road named by one word and a number: "123 POLK 76" (``_named_road``);
    - a street name of words and ordinals whose last word may be a cut-off or unknown
      street type: "744 OROZCO R", "4312 RIVER TRACE ROA", "15610 PATTON", "3800 34TH AV S";
    - a house number the grammar leaves to usaddress (a grid number, a fraction, a hyphen)
      before a street of the grammar's shapes: "27W088 S MEEKER AVE", "12 1/2 1ST ST".

    Never accepted: a unit designator in the street, a number after a street word
    ("123 MAIN ST 4" is a street or a unit), a street type followed by a longer word or a
    state code ("123 MAIN ST SPRINGFIELD IL" is a whole address on one line), or a street
    with no word of three letters.
    """
    if not house_shape_known(house):
        return False
    if _common_street(street):  # "27W088 S MEEKER AVE", "12 1/2 1ST ST"
        return True
    pre = 1 if len(street) >= 2 and street[0] in DIRECTIONALS else 0
    post = 1 if len(street) - pre >= 2 and street[-1] in DIRECTIONALS else 0
    body = street[pre : len(street) - post]
    if not 1 <= len(body) <= 5 or any(t in NOT_NAME_WORDS or t == UNIT_POUND for t in body):
        return False
    if is_route(body):
        return True
    if pre and post and len(body) == 1 and body[0].isdigit():
        return True
    if len(street) == 2 and _named_road(*street):
        return True
    if not all(t.isalpha() or _ORDINAL.fullmatch(t) for t in body):
        return False
    last = body[-1]
    if any(t in STREET_TYPES for t in body[1:-1]) and (
        len(last) > _SHORT_TAIL or last in STATE_CODES or last in STREET_TYPES
    ):
        return False
    return any(len(t) >= 3 and t.isalpha() and t not in STREET_TYPES for t in body)


_ROAD_NUMBER = re.compile(r"[1-9]\d{0,3}")
# Words that make "WORD 5" a box, not a road: PO box keywords and a private mailbox.
_BOX_WORDS = frozenset({"BOX", "BX", "PMB", *(word for kw in PO_BOX_KEYWORDS for word in kw)})


def _named_road(name: str, number: str) -> bool:
    """A road named by one word and a number: "POLK 76", "GARLAND 12" (Arkansas names
    its county roads so). The word is no street type, directional, unit or box."""
    return (
        len(name) >= 3
        and name.isalpha()
        and name not in STREET_TYPES
        and name not in NOT_NAME_WORDS
        and name not in _BOX_WORDS
        and _ROAD_NUMBER.fullmatch(number) is not None
    )


@lru_cache(maxsize=1 << 16)
def usaddress_accepts(line: str, house_tokens: int) -> bool:
    """usaddress labels the first ``house_tokens`` tokens as the house number and every
    other token as part of the street name."""
    try:
        labelled = usaddress.parse(line)
    except Exception:  # third-party parser: any failure means "not accepted"
        return False
    tokens = line.split()
    if [token for token, _ in labelled] != tokens:
        return False
    labels = [label for _, label in labelled]
    return all(lab in _HOUSE_LABELS for lab in labels[:house_tokens]) and all(
        lab in _STREET_LABELS for lab in labels[house_tokens:]
    )


_JOINED_ROUTE = re.compile(r"(RR|HC)-?(0*[1-9]\d{0,3})")  # "RR2", "HC-68": route and number
_ROUTE_NUMBER = re.compile(r"0*[1-9]\d{0,3}")  # no route 0


def route_box(tokens: tuple[str, ...]) -> str | None:
    """The standard line ("RR 2 BOX 152", "HC 68 BOX 19A", "PSC 802 BOX 74") of a rural
    route, highway contract or military box as USPS delivers to it (the route's or
    unit's words, its number, BOX and the box: "Rural Route #2 Box 152", "R.R. 2, Box
    152", "Star Route 68 Box 19A", "Unit 2050, Box 4190"), else None. A route without a
    box, or with anything more, is not one ("12 RR 2" is a road). A military box is an
    address only at APO, FPO or DPO (``military_box``; ``address`` checks the city)."""
    joined = _JOINED_ROUTE.fullmatch(tokens[0]) if tokens else None
    if joined is not None:
        tokens = (joined[1], joined[2], *tokens[1:])
    for words, kind in (*ROUTE_BOX_KINDS, *MILITARY_BOX_KINDS):
        if tokens[: len(words)] == words:
            rest = [t for t in tokens[len(words) :] if t != "#"]
            if (
                len(rest) == 3
                and _ROUTE_NUMBER.fullmatch(rest[0])
                and rest[1] in ("BOX", "BX")
                and UNIT_ID.fullmatch(rest[2])
            ):
                return f"{kind} {int(rest[0])} BOX {rest[2]}"
            return None
    return None


_MILITARY_KINDS = frozenset(kind for _, kind in MILITARY_BOX_KINDS)


def military_box(box: str) -> bool:
    """Whether a standard box line (``route_box``) is a military or diplomatic box."""
    return box.partition(" ")[0] in _MILITARY_KINDS
