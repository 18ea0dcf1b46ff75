"""Statute citations to one canonical spelling. Pure.

``8 USC § 1253(a)(1)``, ``8 U.S.C. §1253 (a) (1)`` and ``8 u.s.c. 1253(a)(1)`` all become
``8 U.S.C. 1253(a)(1)``. Anything that is not a United States Code citation gives None.
"""

from __future__ import annotations

import re

_CITATION = re.compile(
    r"""^\s*
    (?P<title>\d{1,2})\s*
    U\.?\s*S\.?\s*C(?:ODE)?\.?\s*(?:A\.?\s*)?      # U.S.C., USC, U.S. Code, USCA
    (?:§{1,2}|SECS?\.?|SECTIONS?)?\s*
    (?P<section>\d{1,5}[A-Z]?(?:-\d+)?)\s*
    (?P<subs>(?:\(\s*[A-Z0-9]{1,4}\s*\)\s*)*)
    \s*$""",
    re.VERBOSE,
)
_SUB = re.compile(r"\(\s*([A-Z0-9]{1,4})\s*\)")

# Title 26 is the Internal Revenue Code: never a non-tax statute under 6103(i)(2).
TAX_TITLE = 26


def normalise_statute(raw: str) -> str | None:
    """Canonical ``<title> U.S.C. <section>(<sub>)…`` or None when unparseable."""
    text = raw.upper().replace("\u00a0", " ").replace("SECTION", "SECTION ")
    m = _CITATION.match(text)
    if m is None:
        return None
    subs = "".join(f"({s.lower()})" for s in _SUB.findall(m.group("subs")))
    return f"{int(m.group('title'))} U.S.C. {m.group('section')}{subs}"


def statute_title(canonical: str) -> int:
    """The U.S.C. title of a canonical citation."""
    return int(canonical.split(" ", 1)[0])
