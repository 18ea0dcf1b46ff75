"""The typed records person resolution judges: a cluster's modal fields, one filing's year
and address, and a pair of clusters that may be one person."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class Modal:
    """The modal fields of a cluster or person (``""`` or ``None`` when it has none)."""

    first: str
    last_key: str
    middle: str = ""
    suffix: str = ""
    dob: date | None = None


@dataclass(frozen=True, slots=True)
class Filed:
    """One filing of a cluster or person: its tax year and normalised address parts."""

    year: int
    house_number: str = ""
    street: str = ""
    unit: str = ""
    po_box: str = ""
    zip5: str = ""


@dataclass(frozen=True, slots=True)
class MergeCandidate:
    """A cluster or person ``src`` that may join ``dst``; ``candidate`` checked last_key
    and DOB."""

    src: str
    dst: str
    src_first: str
    dst_first: str
    src_middle: str
    dst_middle: str
    src_suffix: str
    dst_suffix: str
    dob_equal: bool  # both modal dates of birth present and equal
    address_shared: bool  # the rule's address agreement holds
    dob_one_sided: bool = False  # one modal date of birth present, the other missing
