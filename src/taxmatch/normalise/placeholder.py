"""Placeholder text in an address field ("UNKNOWN", "N/A", "DONT CARE 12345", "XXXX"):
text that stands where an address should be, never an address. Pure."""

from __future__ import annotations

import re

# Placeholder text, matched as whole words anywhere in a folded field: "UNKNOWN ADDRESS",
# "DONT CARE 12345" and "123 N/A" are all placeholders, not addresses.
_PLACEHOLDER_WORDS = frozenset(
    {
        "UNKNOWN", "UNK", "HOMELESS", "REFUSED", "DECLINED", "WITHHELD", "REDACTED", "TBD",
        "TBA", "NONE", "NULL", "NIL", "NA", "UNAVAILABLE", "SAME", "ADDRESS", "PLACEHOLDER",
        "DUMMY", "FAKE", "ASDF", "BLANK", "EMPTY", "UNSPECIFIED", "UNDISCLOSED",
    }
)  # fmt: skip
_PLACEHOLDER_PHRASES = re.compile(
    r"\b(?:FAILED TO PROVIDE|NOT PROVIDED|NOT GIVEN|NOT KNOWN|DONT CARE|DO NOT CARE|DONT KNOW"
    r"|DO NOT KNOW|TO BE DETERMINED|N A|NOT APPLICABLE|NOT AVAILABLE|NO FIXED ABODE)\b"
)
# The last word of every phrase above: the phrase search runs only when one is present.
_PHRASE_ENDS = frozenset(
    {"PROVIDE", "PROVIDED", "GIVEN", "KNOWN", "CARE", "KNOW", "DETERMINED", "A", "APPLICABLE"}
    | {"AVAILABLE", "ABODE"}
)
# A whole field that is one character repeated ("X", "0000", "AAAA"), outside ZIP.
_REPEATED = re.compile(r"(.)\1*")


def is_placeholder(raw: str, folded: str, *, repeated: bool = True) -> bool:
    """Placeholder text in a field; ``folded`` is the field after folding."""
    if "?" in raw or not folded:
        return True  # "?" anywhere, or text that is only punctuation ("-", "--")
    words = folded.split()
    if not _PLACEHOLDER_WORDS.isdisjoint(words) or "XXX" in folded:
        return True
    if not _PHRASE_ENDS.isdisjoint(words) and _PLACEHOLDER_PHRASES.search(folded):
        return True
    if not repeated or len(words) > 1:
        return False
    return (len(folded) >= 3 or folded == "X") and _REPEATED.fullmatch(folded) is not None
