"""Judging one group or one pair: names, dates of birth and the address agreements (every
merge needs several independent ones: see ``taxmatch.resolve``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from taxmatch.normalise.names import first_names_agree
from taxmatch.resolve.records import Filed, MergeCandidate, Modal

NEAR_YEARS = 3  # how far apart in tax years two filings' addresses still corroborate
_SQUASH = str.maketrans("", "", " -")


def given_names_agree(a: str, b: str) -> bool:
    """``first_names_agree``, or the same letters once spaces and hyphens go ("JI EUN")."""
    return first_names_agree(a, b) or a.translate(_SQUASH) == b.translate(_SQUASH)


def middle_names_conflict(a: str, b: str) -> bool:
    """Both present and neither the other nor its initial ("J" fits "JAMES")."""
    if not a or not b or a == b:
        return False
    if len(a) == 1 or len(b) == 1:
        return a[0] != b[0]
    return True


def splits_off(first: str, last_key: str, dob: date | None, mode: Modal) -> bool:
    """Rule 2: a (name, DOB) group under a TIN is another person's filing when its last_key
    and first name both disagree with the TIN's modal ones (``mode``) and its DOB is not
    the TIN's modal DOB (either missing counts as not equal)."""
    return (
        last_key != mode.last_key
        and first != mode.first
        and not (dob is not None and dob == mode.dob)
        and not given_names_agree(mode.first, first)
    )


def candidate(
    src: str, dst: str, s: Modal, d: Modal, address_shared: bool
) -> MergeCandidate | None:
    """The pair to judge, or None when it never merges: modal last_keys differ or are
    empty, or both modal DOBs are present and differ."""
    if not s.last_key or s.last_key != d.last_key:
        return None
    if s.dob is not None and d.dob is not None and s.dob != d.dob:
        return None
    return MergeCandidate(
        src,
        dst,
        s.first,
        d.first,
        s.middle,
        d.middle,
        s.suffix,
        d.suffix,
        dob_equal=s.dob is not None and s.dob == d.dob,
        address_shared=address_shared,
        dob_one_sided=(s.dob is None) != (d.dob is None),
    )


def merge_allowed(c: MergeCandidate) -> bool:
    """Names, suffix and middle name agree, and the DOB or the address corroborates."""
    return (
        given_names_agree(c.src_first, c.dst_first)
        and not (c.src_suffix and c.dst_suffix and c.src_suffix != c.dst_suffix)
        and not middle_names_conflict(c.src_middle, c.dst_middle)
        and (c.dob_equal or c.address_shared)
    )


def suffixes_confirm(c: MergeCandidate) -> bool:
    """Without equal DOBs the suffixes must be equal too (both empty, or the same): a
    father who files as "SR" and a son whose return dropped "JR" share name and address."""
    return c.dob_equal or c.src_suffix == c.dst_suffix


def fragment_confirms(c: MergeCandidate) -> bool:
    """Rule 7 asks more: equal suffixes, and a DOB on both sides or on neither (a DOB
    missing on one side is missing evidence: a daughter's one return without a DOB at the
    house of her mother of the same name, who skipped that year, reads as the mother's)."""
    return c.src_suffix == c.dst_suffix and not c.dob_one_sided


def _house_zip(a: Filed, b: Filed) -> bool:
    """House number (or PO box) and ZIP5 agree."""
    return (
        a.zip5 != ""
        and a.zip5 == b.zip5
        and (
            (a.house_number != "" and a.house_number == b.house_number)
            or (a.po_box != "" and a.po_box == b.po_box)
        )
    )


def near_address(src: Sequence[Filed], dst: Sequence[Filed]) -> bool:
    """Rule 3's address: a filing of ``src`` agrees with a filing of ``dst`` in ``dst``'s
    nearest year on either side (or the same year): ``dst``'s address at the time. At most
    ``NEAR_YEARS`` away, the house number (or PO box) and ZIP5 (``_house_zip``); further
    away, the whole door (``_same_door``): a one-off return keyed under a wrong TIN, at
    the door its filer filed at years before or after, with nothing filed in between."""
    dst_years = {b.year for b in dst}
    for year in {a.year for a in src}:
        before = [y for y in dst_years if y < year]
        after = [y for y in dst_years if year < y]
        near = {year, max(before, default=year), min(after, default=year)}
        if any(
            _house_zip(a, b) if abs(b.year - year) <= NEAR_YEARS else _same_door(a, b)
            for a in src
            if a.year == year
            for b in dst
            if b.year in near
        ):
            return True
    return False


def switch_address(src: Sequence[Filed], dst: Sequence[Filed]) -> bool:
    """Rule 6: the house number (or PO box) and ZIP5 of ``src``'s last filing year equal
    those of ``dst``'s first filing year."""
    if not src or not dst:
        return False
    last, first = max(a.year for a in src), min(b.year for b in dst)
    return any(_house_zip(a, b) for a in src if a.year == last for b in dst if b.year == first)


def _same_door(a: Filed, b: Filed) -> bool:
    """House number, street and ZIP5 equal and present, and no other unit."""
    return (
        a.zip5 != ""
        and a.zip5 == b.zip5
        and a.house_number != ""
        and a.house_number == b.house_number
        and a.street != ""
        and a.street == b.street
        and (a.unit == b.unit or a.unit == "" or b.unit == "")
    )


def window_address(src: Sequence[Filed], dst: Sequence[Filed]) -> bool:
    """Rule 7: a filing of ``src`` is at the door (``_same_door``) of a filing of ``dst``
    at most ``NEAR_YEARS`` apart."""
    return any(abs(b.year - a.year) <= NEAR_YEARS and _same_door(a, b) for a in src for b in dst)
