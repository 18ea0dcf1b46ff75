"""The custodian's view of a person: one noisy master-file row per tax year filed.

Real administrative files disagree with themselves from year to year (a typo in a name on
one return, ``STREET`` one year and ``ST`` the next, accents dropped); rows are rendered
from the true history, which is never changed, with the noise applied reported for the
truth strata. Never logs a value.
"""

from __future__ import annotations

from functools import lru_cache
from random import Random

from taxmatch.contracts import MASTER_COLUMNS
from taxmatch.generate.household import Person
from taxmatch.generate.names import first_surname, fold_ascii
from taxmatch.generate.noise import digit_slip, house_number_slip, typo, variant_tokens

MasterColumns = dict[str, list[str | int | None]]  # keyed by MASTER_COLUMNS


@lru_cache(maxsize=1 << 16)
def _spellings(text: str) -> tuple[str, str]:
    """(ASCII upper case, upper case with accents)."""
    return fold_ascii(text).upper(), text.upper()


def _upper(text: str, rng: Random) -> str:
    # Most custodial systems store names folded to ASCII; a few years keep the accents.
    folded, accented = _spellings(text)
    return folded if folded == accented or rng.random() < 0.9 else accented


def _given(first: str, rng: Random) -> str:
    text = _upper(first, rng)
    if "-" in text and rng.random() < 0.2:
        return text.replace("-", " " if rng.random() < 0.5 else "")
    return text


def _surname(last: str, rng: Random) -> str:
    text = _upper(last, rng)
    if "'" in text and rng.random() < 0.3:
        text = text.replace("'", "")
    if rng.random() < 0.06 and first_surname(text) != text:
        text = first_surname(text) if rng.random() < 0.5 else text.replace(" ", "-")
    return text


def _dob(iso: str, rng: Random) -> str:
    year, month, day = iso.split("-")
    if month != day and int(day) <= 12:
        return f"{year}-{day}-{month}"
    return f"{year}-{month}-{int(day) % 28 + 1:02d}"


def _phone(digits: str, rng: Random) -> str:
    r = rng.random()
    if r < 0.6:
        return digits
    if r < 0.85:
        return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"


def render_rows(person: Person, rng: Random, cols: MasterColumns) -> dict[int, str]:
    """Append one row per filed year to ``cols``; return the noise tags per year."""
    noise: dict[int, str] = {}
    name = person.name
    dob = person.dob.isoformat()
    dod = person.dod.isoformat() if person.dod else None
    for year in person.filed:
        tags: list[str] = []
        first, last = _given(name.first, rng), _surname(name.last, rng)
        if rng.random() < 0.005:
            if rng.random() < 0.5:
                first = typo(first, rng)
            else:
                last = typo(last, rng)
            tags.append("name_typo")
        middle: str | None = None
        if name.middle:
            r = rng.random()
            if r < 0.72:
                middle = _upper(name.middle, rng)
            elif r < 0.86:
                middle = name.middle[0].upper()
            else:
                tags.append("middle_missing")
        suffix = name.suffix.upper() if name.suffix and rng.random() < 0.75 else None
        if name.suffix and suffix is None:
            tags.append("suffix_missing")
        tin = person.tin_in(year)
        if rng.random() < 0.002:
            tin = digit_slip(tin, rng, keep_first=True)
            tags.append("tin_typo")
        birth: str | None = dob
        r = rng.random()
        if r < 0.03:
            birth = None
        elif r < 0.032:
            birth = _dob(dob, rng)
            tags.append("dob_typo")
        place = person.filing_address(year)
        street = place.street
        if rng.random() < 0.3:
            street = variant_tokens(street, rng, 0.5)
        if rng.random() < 0.003:
            street = house_number_slip(street, rng)
            tags.append("house_typo")
        unit: str | None = place.unit or None
        if unit:
            r = rng.random()
            if r < 0.04:
                street, unit = f"{street} {unit}", None
            elif r < 0.08:
                unit = None
                tags.append("unit_missing")
        city = variant_tokens(place.city, rng, 0.5) if rng.random() < 0.25 else place.city
        zip_code = place.zip5
        if rng.random() < 0.2:
            zip_code += place.zip4 if rng.random() < 0.5 else f"-{place.zip4}"
        digits = person.phone.get(year)
        phone = _phone(digits, rng) if digits and rng.random() < 0.8 else None
        row: tuple[str | int | None, ...] = (tin, year, first, last, street, city, place.state)
        row += (zip_code, middle, suffix, birth, unit, phone, dod)
        for column, value in zip(MASTER_COLUMNS, row, strict=True):
            cols[column].append(value)
        if tags:
            noise[year] = ";".join(tags)
    return noise
