"""Households and their lives over the tax years: who lives where, who files, who dies.

The result is the true history of each person (head, perhaps a spouse and children), from
which the custodian's noisy filings and the requester's noisy copies are both drawn.
Pure; never logs a value.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from random import Random

from taxmatch.generate.names import (
    SIMILAR_TWIN_NAMES,
    PersonName,
    first_surname,
    fold_ascii,
    is_compound,
    keep_diacritics,
    person_name,
    pick_group,
    pick_surname,
)
from taxmatch.generate.places import Place, new_phone, new_place, po_box_place
from taxmatch.generate.territory import Territory, territory
from taxmatch.generate.tins import TinAllocator

MOVE_RATE = 0.11  # share of households that move in a year (US: about one in ten)
_ITIN_SHARE = {"hispanic": 0.22, "vietnamese": 0.08, "korean": 0.06, "chinese": 0.08}
# Per role: below the first bound a regular filer, below the second a sporadic one.
_FILER_ODDS = {"head": (0.85, 0.96), "spouse": (0.68, 0.80), "child": (0.75, 0.93)}
# Yearly chance of dying by age at the first tax year (oldest band first).
_DEATH_RISK = ((80, 0.35), (70, 0.15), (60, 0.07), (40, 0.02))


@dataclass(slots=True)
class Person:
    """One person's true data and history (mutable only while the household is built)."""

    person_id: str
    household_id: str
    role: str  # head, spouse or child
    sex: str
    group: str
    name: PersonName
    dob: date
    filer_kind: str  # regular, sporadic or never
    dod: date | None = None
    tins: list[tuple[int, str]] = field(default_factory=list)  # (first tax year, tin)
    itin: bool = False
    twin_of: str = ""
    junior_senior: str = ""
    residence: dict[int, Place] = field(default_factory=dict)
    mailing: dict[int, Place] = field(default_factory=dict)  # PO box years
    filed: list[int] = field(default_factory=list)
    phone: dict[int, str] = field(default_factory=dict)

    def tin_in(self, year: int) -> str:
        """The latest TIN held by ``year`` (the first one before any was)."""
        return next((tin for first, tin in reversed(self.tins) if first <= year), self.tins[0][1])

    @property
    def tin(self) -> str:
        """The canonical TIN: the latest one the person holds."""
        return self.tins[-1][1]

    def filing_address(self, year: int) -> Place:
        return self.mailing.get(year) or self.residence[year]

    def flags(self) -> list[str]:
        junior = self.junior_senior in {"Jr", "II", "III"}
        name = self.name.first + self.name.last
        holds = {
            "deceased": self.dod is not None,
            "itin": self.itin,
            "ssn": not self.itin,
            "tin_changed": len(self.tins) > 1,
            "twin": bool(self.twin_of),
            "junior": junior,
            "senior": bool(self.junior_senior) and not junior,
            "compound_surname": is_compound(self.name.last),
            "mover": len({p.street for p in self.residence.values()}) > 1,
            "po_box": bool(self.mailing),
            "never_filed": not self.filed,
            "middle_name": bool(self.name.middle),
            "diacritics": fold_ascii(name) != name,
        }
        return [flag for flag, held in holds.items() if held]


def _adult_age(rng: Random) -> int:
    r = rng.random()
    if r < 0.20:
        return rng.randint(18, 29)
    if r < 0.50:
        return rng.randint(30, 44)
    if r < 0.82:
        return rng.randint(45, 64)
    return rng.randint(65, 92)


def _birthday(rng: Random, year: int) -> date:
    return date(year, 1, 1) + timedelta(days=rng.randrange(365))


def _kid_count(rng: Random) -> int:
    r = rng.random()
    return 1 if r < 0.42 else 2 if r < 0.78 else 3 if r < 0.94 else 4


class HouseholdBuilder:
    """Builds whole households; ids and TINs come from counters shared over a run."""

    def __init__(
        self,
        rng: Random,
        years: tuple[int, int],
        tins: TinAllocator,
        country: Territory | None = None,
    ) -> None:
        self.rng = rng
        self.country = country or territory()
        self.first_year, self.last_year = years
        self.tins = tins
        self.next_person = 0
        self.next_household = 0

    def _person(
        self, hh: str, role: str, sex: str, group: str, name: PersonName, dob: date
    ) -> Person:
        self.next_person += 1
        rng = self.rng
        r = rng.random()
        regular, sporadic = _FILER_ODDS[role]
        kind = "regular" if r < regular else "sporadic" if r < sporadic else "never"
        return Person(f"P{self.next_person:08d}", hh, role, sex, group, name, dob, kind)

    def build(self, max_people: int) -> list[Person]:
        """One household of at most ``max_people`` people, with its whole history."""
        rng = self.rng
        self.next_household += 1
        hh = f"H{self.next_household:08d}"
        y0 = self.first_year
        group = pick_group(rng)
        r = rng.random()
        shape = (
            "single" if r < 0.36 else "couple" if r < 0.62 else "family" if r < 0.90 else "parent"
        )
        couple = shape in {"couple", "family"} and max_people >= 2
        head_sex = ("M" if rng.random() < 0.85 else "F") if couple else rng.choice("MF")
        head_age = _adult_age(rng)
        accents = keep_diacritics(rng, group)
        name = person_name(rng, group, head_sex, pick_surname(rng, group), accents)
        head = self._person(hh, "head", head_sex, group, name, _birthday(rng, y0 - head_age))
        people = [head]
        spouse: Person | None = None
        if couple:
            s_group = group if rng.random() < 0.88 else pick_group(rng)
            s_sex = ("F" if head_sex == "M" else "M") if rng.random() < 0.97 else head_sex
            own = pick_surname(rng, s_group)
            r = rng.random()
            if group == "hispanic" and s_group == "hispanic" and r < 0.55:
                s_last = own  # Hispanic custom: a married woman keeps her own surnames
            elif r < 0.78:
                s_last = head.name.last
            elif r < 0.92:
                s_last = own
            else:
                s_last = f"{first_surname(own)}-{first_surname(head.name.last)}"
            s_age = min(95, max(18, head_age + rng.randint(-6, 4)))
            name = person_name(rng, s_group, s_sex, s_last, keep_diacritics(rng, s_group))
            spouse = self._person(hh, "spouse", s_sex, s_group, name, _birthday(rng, y0 - s_age))
            people.append(spouse)
        if shape in {"family", "parent"} and len(people) < max_people:
            self._children(people, accents, max_people)
        self._tins(people, group)
        self._live(people)
        return people

    def _children(self, people: list[Person], accents: bool, max_people: int) -> None:
        """Children of the head (``people[0]``) and the spouse, if any (``people[1]``)."""
        rng = self.rng
        y0 = self.first_year
        head, spouse = people[0], people[1] if len(people) > 1 else None
        group = head.group
        youngest_parent = min(y0 - p.dob.year for p in people)  # ages at the first tax year
        if youngest_parent < 19:
            return
        if (
            group == "hispanic"
            and spouse is not None
            and first_surname(spouse.name.last) != first_surname(head.name.last)
            and rng.random() < 0.5
        ):
            kid_last = f"{first_surname(head.name.last)} {first_surname(spouse.name.last)}"
        else:
            kid_last = head.name.last
        n = min(_kid_count(rng), max_people - len(people))
        twins = n >= 2 and rng.random() < 0.06
        junior = head.sex == "M" and rng.random() < 0.12
        previous: Person | None = None
        for k in range(n):
            sex = rng.choice("MF")
            if twins and k == 1 and previous is not None:
                dob = previous.dob
            else:
                dob = _birthday(rng, y0 - rng.randint(0, min(24, youngest_parent - 18)))
            name = person_name(rng, group, sex, kid_last, accents)
            if twins and k == 1 and previous is not None and rng.random() < 0.4:
                pair = rng.choice(SIMILAR_TWIN_NAMES)
                (n1, s1), (n2, s2) = pair
                previous.name, previous.sex = replace(previous.name, first=n1), s1
                name, sex = replace(name, first=n2, suffix=""), s2
            child = self._person(head.household_id, "child", sex, group, name, dob)
            if twins and k == 1 and previous is not None:
                child.twin_of, previous.twin_of = previous.person_id, child.person_id
            if junior and sex == "M" and not (twins and k <= 1):
                junior = False
                suffix = (
                    "III"
                    if head.name.suffix in {"Jr", "II"}
                    else ("Jr" if rng.random() < 0.8 else "II")
                )
                child.name = replace(head.name, suffix=suffix)
                child.junior_senior = suffix
                if not head.name.suffix and rng.random() < 0.5:
                    head.name = replace(head.name, suffix="Sr")
                head.junior_senior = "Sr"
            people.append(child)
            previous = child

    def _tins(self, people: list[Person], group: str) -> None:
        rng = self.rng
        head_itin = rng.random() < _ITIN_SHARE.get(group, 0.01)
        for p in people:
            share = 0.8 if p.role == "spouse" else 0.12
            itin = head_itin if p.role == "head" else head_itin and rng.random() < share
            if itin:
                p.itin = True
                p.tins.append((self.first_year - 50, self.tins.itin()))
                if rng.random() < 0.15 and self.last_year > self.first_year:
                    p.tins.append(
                        (rng.randint(self.first_year + 1, self.last_year), self.tins.ssn())
                    )
            else:
                p.tins.append((self.first_year - 50, self.tins.ssn()))

    def _live(self, people: list[Person]) -> None:
        rng = self.rng
        city = self.country.pick(rng)
        home = new_place(rng, city)
        own: dict[str, Place] = {}
        for p in people:
            age0 = self.first_year - p.dob.year
            risk = next((odds for age, odds in _DEATH_RISK if age0 >= age), 0.004)
            if rng.random() < risk:
                p.dod = _birthday(rng, rng.randint(self.first_year, self.last_year))
        has_phone = [rng.random() < 0.72 for _ in people]
        po_box_person = people[0] if rng.random() < 0.04 else None
        years = range(self.first_year, self.last_year + 1)
        box_years = sorted(rng.sample(years, k=min(3, len(years))))
        for year in years:
            if year > self.first_year and rng.random() < MOVE_RATE:
                if rng.random() >= 0.65:
                    city = self.country.pick(rng)
                home = new_place(rng, city)
            for p, phone in zip(people, has_phone, strict=True):
                if p.dod is not None and p.dod.year < year:
                    continue
                age = year - p.dob.year
                where = own.get(p.person_id)
                if where is not None:
                    if rng.random() < 0.18:
                        where = own[p.person_id] = new_place(
                            rng,
                            self.country.city_of(where)
                            if rng.random() < 0.7
                            else self.country.pick(rng),
                        )
                elif (p.role == "child" and age >= 19 and rng.random() < 0.22) or (
                    p.role == "spouse" and rng.random() < 0.012
                ):
                    where = own[p.person_id] = new_place(
                        rng, city if rng.random() < 0.7 else self.country.pick(rng), unit_share=0.5
                    )
                place = where or home
                p.residence[year] = place
                if p is po_box_person and box_years[0] <= year <= box_years[-1]:
                    previous = p.mailing.get(year - 1)
                    p.mailing[year] = (
                        previous
                        if previous and previous.city == place.city
                        else po_box_place(rng, place)
                    )
                if age >= 18 and p.filer_kind != "never":
                    chance = 0.96 if p.filer_kind == "regular" else 0.55
                    if p.role == "child" and age <= 21:
                        chance *= 0.7
                    if p.dod is not None and p.dod.year == year:
                        chance *= 0.8
                    if rng.random() < chance:
                        p.filed.append(year)
                if phone and age >= 18:
                    last = p.phone.get(year - 1)
                    keep = last is not None and rng.random() < 0.93
                    p.phone[year] = (
                        last if keep and last else new_phone(rng, self.country.city_of(place))
                    )
