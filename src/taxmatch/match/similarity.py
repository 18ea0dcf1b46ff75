"""String measures (rapidfuzz, as DuckDB's: they may differ in the last bits, hence
``SIMILARITY_EPSILON``) and SQL's three-valued logic, defined once."""

from __future__ import annotations

from rapidfuzz.distance import OSA, JaroWinkler, Levenshtein

from taxmatch.match.thresholds import ZIP_SLIP_DIGITS


def jaro_winkler(a: str | None, b: str | None) -> float:
    """DuckDB's ``jaro_winkler_similarity``: 0 when either string is empty (as DuckDB's)
    or missing."""
    if not a or not b:
        return 0.0
    return float(JaroWinkler.similarity(a, b))


def levenshtein(a: str, b: str) -> int:
    return int(Levenshtein.distance(a, b))


def other_zip(a: str | None, b: str | None) -> bool:
    """Two different ZIPs of one length (however many digits apart)."""
    if not a or not b:
        return False
    return a != b and len(a) == len(b)


def zip_typo(a: str | None, b: str | None) -> bool:
    """Two different ZIPs of one length at most ``ZIP_SLIP_DIGITS`` digits apart."""
    if not a or not b or a == b or len(a) != len(b):
        return False
    return sum(x != y for x, y in zip(a, b, strict=True)) <= ZIP_SLIP_DIGITS


def sql_and(*values: bool | None) -> bool | None:
    """SQL's ``AND``: None is unknown."""
    unknown = False
    for v in values:
        if v is False:
            return False
        unknown = unknown or v is None
    return None if unknown else True


def sql_or(*values: bool | None) -> bool | None:
    """SQL's ``OR``: None is unknown."""
    unknown = False
    for v in values:
        if v is True:
            return True
        unknown = unknown or v is None
    return None if unknown else False


def same(a: str | None, b: str | None) -> bool:
    """Equal and present (SQL's ``=``: a missing value equals nothing)."""
    return a is not None and a == b


def distance(a: str | None, b: str | None) -> int | None:
    """``levenshtein``, None when either side is missing."""
    if a is None or b is None:
        return None
    return levenshtein(a, b)


def one_typo(a: str | None, b: str | None) -> bool:
    """One character inserted, dropped, changed, or two neighbours swapped (``3019`` and
    ``3109``): the optimal string alignment distance is 1. False when either is missing."""
    if a is None or b is None:
        return False
    return int(OSA.distance(a, b)) == 1
