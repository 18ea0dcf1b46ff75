"""One valid request row and its truth: the requester's noisy copy of a person.

The requester knows a person by a name and an older address, spelled their own way. The
truth is computed from the person's true history, never from the noisy filing: the
expected outcome and, for a filing in the requested periods, the true filing address of
the latest such year. Every row built here passes validation; ``invalid`` breaks rows on
purpose. Pure; never logs a value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from random import Random

from taxmatch.contracts import Outcome
from taxmatch.generate.names import first_surname, fold_ascii, is_compound
from taxmatch.generate.noise import (
    digit_slip,
    house_number_slip,
    initial,
    letter_case,
    nickname,
    typo,
    unit_variant,
    variant_tokens,
)
from taxmatch.generate.people_file import Addr, PersonRecord
from taxmatch.generate.places import STRUCTURAL_WORDS
from taxmatch.normalise.names import normalise_name
from taxmatch.normalise.typos import fixable

LOOKBACK_YEARS = 6
STALE_YEARS = 3
VALID_STATUTES: tuple[str, ...] = (
    "8 U.S.C. 1253(a)(1)",
    "8 U.S.C. 1253(a)(1)",
    "8 USC § 1253(a)(1)",
    "8 U.S.C. §1253(a)(1)",
    "8 U.S.C. 1326(a)",
    "8 U.S.C. §1326(a)",
    "8 USC 1326(a)",
)
RELEVANCE_TEMPLATES: tuple[str, ...] = (
    "Subject of case {case} is the named alien under final removal order {order}; "
    "a current residence is needed to execute the order.",
    "Investigation {case} into willful failure to depart under {statute} requires the "
    "last known address of this named subject.",
    "The person named in case {case} remained in the United States after order {order}; "
    "the address is sought to locate and arrest.",
    "Case {case}: agents need the subject's address from the requested tax periods to "
    "serve removal order {order} issued {order_date}.",
    "Address information will be used to locate the subject of criminal investigation "
    "{case} for prosecution under {statute}.",
    "The subject of {case} failed to report as required by removal order {order}; the "
    "address on file with the agency is out of date.",
    "Reentry after removal under {statute} is being investigated in case {case}; the "
    "address is relevant to locating the defendant.",
)
BOILERPLATE = (
    "Information requested in support of an ongoing immigration enforcement investigation."
)
_SUFFIX_SPELLINGS = {
    "Jr": ("Jr", "JR", "Jr.", "Junior"),
    "Sr": ("Sr", "SR", "Sr.", "Senior"),
    "II": ("II",),
    "III": ("III",),
}

Fields = dict[str, str]


@dataclass(frozen=True, slots=True)
class Expected:
    """What a perfect matcher returns for a valid request about a person."""

    outcome: Outcome
    tax_year: int | None
    address: Addr | None
    master_noise: str


def expected_for(person: PersonRecord, periods: list[int], as_of: date) -> Expected:
    """The outcome for a person who is in the master file (see the module docstring)."""
    if person.dod is not None and person.dod <= as_of:
        return Expected(Outcome.INELIGIBLE, None, None, "")
    wanted = set(periods)
    filings = [y for y in person.history if y.filed and y.tax_year in wanted]
    if not filings:
        return Expected(Outcome.NO_FILING_IN_PERIOD, None, None, "")
    latest = max(filings, key=lambda y: y.tax_year)
    try:
        horizon = as_of.replace(year=as_of.year - STALE_YEARS)
    except ValueError:  # 29 February
        horizon = as_of.replace(year=as_of.year - STALE_YEARS, day=28)
    outcome = Outcome.STALE if date(latest.tax_year, 12, 31) < horizon else Outcome.DISCLOSED
    return Expected(outcome, latest.tax_year, latest.filing, latest.master_noise)


def choose_periods(rng: Random, person: PersonRecord | None, as_of: date) -> list[int]:
    """Explicit tax years inside the lookback window, mostly covering a year the person filed."""
    window = list(range(as_of.year - LOOKBACK_YEARS, as_of.year))
    filed = (
        sorted(y.tax_year for y in person.history if y.filed and y.tax_year in window)
        if person
        else []
    )
    r = rng.random()
    if filed and r < 0.62:
        latest = filed[-1]
        years = {latest} | {y for y in window if y < latest and rng.random() < 0.35}
    elif filed and r < 0.72:
        years = {y for y in window[:3] if rng.random() < 0.6} or {window[0]}
    elif filed and r < 0.80:
        unfiled = [y for y in window if y not in filed]
        years = (
            set(rng.sample(unfiled, min(len(unfiled), rng.randint(1, 2))))
            if unfiled
            else {window[-1]}
        )
    else:
        k = rng.randint(1, min(3, len(window)))
        years = set(rng.sample(window, k))
    return sorted(years)


# docs/matching.md: without an agreeing first name (an initial does not agree, nor does a
# misspelling unless ``normalise.typos.fixable`` says so) a match is NO_MATCH, as a
# household member may share the rest.
FIRST_NAME_UNCONFIRMED = frozenset({"initial", "first_name_typo"})


def first_name_key(first: str, middle: str, last: str, suffix: str) -> str:
    """A first name as validation normalises it (``normalise_name``), as the master's is."""
    return normalise_name(first, middle, last, suffix).first


def first_name_unconfirmed(
    tags: Sequence[str], asked: str, filed: str, shares: Mapping[str, float]
) -> bool:
    """The request's first name does not agree with the person's, by the tags its noise
    left (``FIRST_NAME_UNCONFIRMED``): an initial never; a misspelling unless the matcher's
    rule (``normalise.typos.fixable``) takes the requester's ``asked`` for the ``filed``
    one, both as normalised (``first_name_key``), by ``shares`` (each first name's share
    of the persons in the master file)."""
    if FIRST_NAME_UNCONFIRMED.isdisjoint(tags):
        return False
    if "initial" in tags:
        return True
    return not fixable(asked, filed, shares.get(asked, 0.0), shares.get(filed, 0.0))


def noisy_name(rng: Random, name: tuple[str, str, str, str], tags: list[str]) -> Fields:
    """A requester's copy of a (first, middle, last, suffix) name."""
    first, middle, last, suffix = name
    if is_compound(last) and rng.random() < 0.5:
        r = rng.random()
        paternal = first_surname(last)
        if r < 0.55:
            last = paternal
        elif r < 0.7:
            last = last[len(paternal) + 1 :] or paternal
        else:
            last = last.replace(" ", "-") if " " in last else last.replace("-", " ")
        tags.append("surname_variant")
    r = rng.random()
    if r < 0.13:
        nick = nickname(first, rng)
        if nick:
            first = nick
            tags.append("nickname")
    elif r < 0.16:
        first = initial(first, rng)
        tags.append("initial")
    if middle:
        r = rng.random()
        if r < 0.45:
            middle = ""
            tags.append("dropped_middle")
        elif r < 0.7:
            middle = initial(middle, rng)
    if rng.random() < 0.07:
        if rng.random() < 0.5 and len(first) > 2:
            first = typo(first, rng)
            tags.append("first_name_typo")
        else:
            last = typo(last, rng)
        tags.append("name_typo")
    if fold_ascii(first + middle + last) != first + middle + last and rng.random() < 0.5:
        first, middle, last = fold_ascii(first), fold_ascii(middle), fold_ascii(last)
        tags.append("diacritics_dropped")
    if suffix:
        if rng.random() < 0.45:
            suffix = ""
            tags.append("suffix_dropped")
        else:
            options = _SUFFIX_SPELLINGS.get(suffix, (suffix,))
            suffix = rng.choice(options)
    if rng.random() < 0.02:
        first, last = last, first
        tags.append("swapped_names")
    upper = rng.random() < 0.5
    first, middle, last = (
        p.upper() if upper else letter_case(p, rng) for p in (first, middle, last)
    )
    return {"first_name": first, "middle_name": middle, "last_name": last, "suffix": suffix}


def noisy_address(rng: Random, addr: Addr, tags: list[str]) -> Fields:
    street, unit, city, state, zip5 = addr
    if rng.random() < 0.5:
        changed = variant_tokens(street, rng, 0.6)
        if changed != street:
            street = changed
            tags.append("abbreviation")
    if rng.random() < 0.03:
        street = house_number_slip(street, rng)
        tags.append("house_typo")
    if rng.random() < 0.04:
        words = street.split(" ")
        alpha = [
            i
            for i, w in enumerate(words)
            if w.isalpha() and len(w) > 3 and w.upper() not in STRUCTURAL_WORDS
        ]
        if alpha:
            i = rng.choice(alpha)
            words[i] = typo(words[i], rng)
            street = " ".join(words)
            tags.append("street_typo")
    if unit:
        r = rng.random()
        if r < 0.3:
            unit = ""
            tags.append("unit_dropped")
        elif r < 0.45:
            street, unit = f"{street} {unit_variant(unit, rng)}", ""
            tags.append("unit_in_street")
        elif r < 0.7:
            unit = unit_variant(unit, rng)
    if rng.random() < 0.3:
        city = variant_tokens(city, rng, 0.8)
    if rng.random() < 0.03:
        city = typo(city, rng)
        tags.append("city_typo")
    zip_code = zip5
    if rng.random() < 0.05:
        zip_code = f"{zip5}-{rng.randrange(1, 10000):04d}"
    if rng.random() < 0.5:
        street, unit, city = (letter_case(x, rng) for x in (street, unit, city))
    return {"street_address": street, "unit": unit, "city": city, "state": state, "zip": zip_code}


def choose_address(rng: Random, person: PersonRecord, tags: list[str]) -> Addr:
    """An address the custodian has seen for the person: often an older one."""
    seen: list[Addr] = []
    for y in person.history:
        if y.filed and y.residence not in seen and y.filing == y.residence:
            seen.append(y.residence)
    if not seen:
        seen = [y.filing for y in person.history if y.filed] or [
            y.residence for y in person.history
        ]
    if len(seen) > 1 and rng.random() < 0.6:
        tags.append("old_address")
        return seen[rng.randrange(len(seen) - 1)]
    return seen[-1]


def optional_ids(rng: Random, dob: date, tin: str, as_of: date, tags: list[str]) -> Fields:
    out: Fields = {"date_of_birth": "", "tin": "", "a_number": ""}
    if rng.random() < 0.45:
        given = dob
        if rng.random() < 0.08:
            if dob.day <= 12 and dob.day != dob.month:
                given = date(dob.year, dob.day, dob.month)
            else:
                given = dob.replace(year=dob.year + rng.choice((-1, 1)), day=min(dob.day, 28))
            tags.append("dob_error")
        if given <= as_of:
            out["date_of_birth"] = given.isoformat()
            tags.append("dob_given")
    if tin and rng.random() < 0.12:
        if rng.random() < 0.1:
            tin = digit_slip(tin, rng, keep_first=True)
            tags.append("tin_error")
        out["tin"] = f"{tin[:3]}-{tin[3:5]}-{tin[5:]}" if rng.random() < 0.5 else tin
        tags.append("tin_given")
    if rng.random() < 0.55:
        number = f"{rng.randrange(10**8, 10**9)}"
        r = rng.random()
        out["a_number"] = f"A{number}" if r < 0.6 else f"A-{number}" if r < 0.8 else number
    return out


def order_fields(rng: Random, as_of: date, case: str) -> Fields:
    """Statute, removal order and a specific relevance sentence for one request."""
    order_date = as_of - timedelta(days=rng.randint(91, 3650))
    order = f"RO-{order_date.year}-{rng.randrange(1, 1_000_000):06d}"
    statute = rng.choice(VALID_STATUTES)
    template = rng.choice(RELEVANCE_TEMPLATES)
    relevance = template.format(
        case=case, order=order, statute=statute, order_date=order_date.isoformat()
    )
    return {
        "statute": statute,
        "removal_order_number": order,
        "removal_order_date": order_date.isoformat(),
        "case_number": case,
        "relevance": relevance,
    }
