"""DuckDB's string similarity functions, in Python, giving DuckDB's exact results.

The warm matcher scores a lookup's few dozen candidate pairs in Python (a DuckDB query
costs milliseconds to plan however few its rows); its answers must be the batch's, so
these functions reproduce DuckDB's to the last bit, and the tests compare them with
DuckDB on generated strings:

- ``jaro_winkler_similarity`` works on characters (code points) with DuckDB's match
  window and greedy flagging (each character of the second string takes the first free
  equal character of the first within the window), the common prefix counted first, and
  Jaro's sum in the same order. DuckDB's build computes the Winkler step with a fused
  multiply-add (one rounding); ``FUSED`` says whether to, and the warm matcher checks
  the choice against DuckDB itself on sample pairs before it trusts either
  (``calibrate``).
- ``levenshtein`` and ``hamming`` work on characters, as DuckDB's do.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

# Whether the Winkler step is one fused multiply-add (as DuckDB's x86-64 wheels compute
# it) or a multiply then an add; set by ``calibrate``.
FUSED = {"winkler": True}


def _fma(a: float, b: float, c: float) -> float:
    """a * b + c with one rounding (``math.fma`` arrived in Python 3.13)."""
    return float(Fraction(a) * Fraction(b) + Fraction(c))


def jaro_similarity(s1: str, s2: str) -> float:
    p = s1
    t = s2
    p_len = len(p)
    t_len = len(t)
    if not p_len or not t_len:
        return 0.0
    if p_len == 1 and t_len == 1:
        return float(p[0] == t[0])
    # The window, and the parts of the longer string it can never reach.
    if t_len > p_len:
        bound = t_len // 2 - 1
        if t_len > p_len + bound:
            t = t[: p_len + bound]
    else:
        bound = p_len // 2 - 1
        if p_len > t_len + bound:
            p = p[: t_len + bound]
    # A common prefix matches without transpositions.
    prefix = 0
    for a, b in zip(p, t, strict=False):
        if a != b:
            break
        prefix += 1
    common = prefix
    p = p[prefix:]
    t = t[prefix:]
    transpositions = 0
    if p and t:
        p_flag = [False] * len(p)
        t_flagged: list[int] = []
        for j, ch in enumerate(t):
            lo = max(0, j - bound)
            hi = min(len(p), j + bound + 1)
            for i in range(lo, hi):
                if not p_flag[i] and p[i] == ch:
                    p_flag[i] = True
                    t_flagged.append(j)
                    break
        common += len(t_flagged)
        if not common:
            return 0.0
        p_positions = [i for i, flagged in enumerate(p_flag) if flagged]
        for i, j in zip(p_positions, t_flagged, strict=True):
            if p[i] != t[j]:
                transpositions += 1
    if not common:
        return 0.0
    transpositions //= 2
    sim = 0.0
    sim += float(common) / float(p_len)
    sim += float(common) / float(t_len)
    sim += (float(common) - float(transpositions)) / float(common)
    return sim / 3.0


def jaro_winkler_similarity(
    s1: str, s2: str, prefix_weight: float = 0.1, *, fused: bool | None = None
) -> float:
    """``fused``: round the Winkler step once (default: as ``calibrate`` chose)."""
    p = s1
    t = s2
    max_prefix = min(len(p), len(t), 4)
    prefix = 0
    while prefix < max_prefix and p[prefix] == t[prefix]:
        prefix += 1
    sim = jaro_similarity(s1, s2)
    if sim > 0.7:
        if FUSED["winkler"] if fused is None else fused:
            sim = _fma(prefix * prefix_weight, 1.0 - sim, sim)
        else:
            sim += prefix * prefix_weight * (1.0 - sim)
    return sim


def levenshtein(s1: str, s2: str) -> int:
    if s1 == s2:
        return 0
    if not s1:
        return len(s2)
    if not s2:
        return len(s1)
    previous = list(range(len(s2) + 1))
    for i, a in enumerate(s1, 1):
        current = [i]
        for j, b in enumerate(s2, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (a != b)))  # fmt: skip
        previous = current
    return previous[-1]


def hamming(s1: str, s2: str) -> int:
    """Characters that differ; DuckDB raises for empty strings or different lengths."""
    if len(s1) != len(s2) or not s1:
        raise ValueError("hamming: strings of different or no length")
    return sum(a != b for a, b in zip(s1, s2, strict=True))


# Pairs whose similarity a fused and an unfused Winkler step round differently, and
# pairs that exercise the window, the prefix, transpositions and non-ASCII characters.
SAMPLES: tuple[tuple[str, str], ...] = (
    ("1AADE", "1AADD C"),
    ("BA C ", "B EC"),
    ("ECCDA", "ECCD BE"),
    ("MARTHA", "MARHTA"),
    ("DIXON", "DICKSONX"),
    ("JELLYFISH", "SMELLYFISH"),
    ("CRATE", "TRACE"),
    ("JOSÉ", "JOSE"),
    ("MÜLLER", "MULLER"),
    ("A", "A"),
    ("A", "B"),
    ("AB", "A"),
    ("MAIN ST", "MAIN STREET"),
    ("123 ELM", "132 ELM"),
    ("O'NEIL", "ONEIL"),
    ("SAINT LOUIS", "ST LOUIS"),
    ("CCEEÉÉCBD", "CCEEÉ1A"),
    ("1CCÉBE  EAB", "1É"),
)


def calibrate(con: Any) -> bool:
    """Match DuckDB on ``SAMPLES`` (choosing the Winkler step's rounding it uses), or
    report that these functions cannot stand in for DuckDB's on this machine."""
    rows = con.execute(
        "SELECT a, b, jaro_winkler_similarity(a, b), levenshtein(a, b) "
        "FROM (SELECT unnest(?) AS a, unnest(?) AS b)",
        [[a for a, _ in SAMPLES], [b for _, b in SAMPLES]],
    ).fetchall()
    # The shared setting changes only once the answer is known (lookups of another
    # matcher may be running meanwhile), and on one machine it is always the same.
    for fused in (True, False):
        if all(jaro_winkler_similarity(a, b, fused=fused) == jw and levenshtein(a, b) == lev
               for a, b, jw, lev in rows):  # fmt: skip
            FUSED["winkler"] = fused
            return True
    return False


__all__ = ["calibrate", "hamming", "jaro_similarity", "jaro_winkler_similarity", "levenshtein"]
