"""People who are not in the master file: the requester asks about them all the same.

Many share a surname (and some a city, or a whole name) with real filers: a matcher that
discloses on a name alone gets them wrong. Their TINs continue the population's TIN
sequence, so none belongs to a filer. Pure; never logs a value.
"""

from __future__ import annotations

from datetime import date, timedelta
from random import Random

from taxmatch.generate.names import keep_diacritics, person_name, pick_group, pick_surname
from taxmatch.generate.people_file import PersonRecord, YearRecord
from taxmatch.generate.places import Place, city_of, new_place, pick_city
from taxmatch.generate.tins import TinAllocator


def fresh_person(
    rng: Random,
    as_of: date,
    neighbour: PersonRecord | None,
    tins: TinAllocator,
    tags: list[str],
) -> PersonRecord:
    """A person with no filings; sometimes a look-alike of ``neighbour`` (a real filer)."""
    group = neighbour.group if neighbour is not None and rng.random() < 0.5 else pick_group(rng)
    sex = rng.choice("MF")
    name = person_name(rng, group, sex, pick_surname(rng, group), keep_diacritics(rng, group))
    first, middle, last = name.first, name.middle, name.last
    city = pick_city(rng)
    r = rng.random()
    if neighbour is not None and neighbour.history and r < 0.45:
        home = neighbour.history[-1].residence
        city = city_of(Place(*home, ""))
        last = neighbour.last
        tags.append("lookalike_surname_city")
        if r < 0.1:
            first, middle = neighbour.first, ""
            tags.append("lookalike_name")
    place = new_place(rng, city)
    addr = (place.street, place.unit, place.city, place.state, place.zip5)
    dob = date(as_of.year - rng.randint(19, 75), 1, 1) + timedelta(days=rng.randrange(365))
    tin = tins.itin() if group != "general" and rng.random() < 0.2 else tins.ssn()
    return PersonRecord(
        group=group,
        first=first,
        middle=middle,
        last=last,
        suffix=name.suffix,
        dob=dob,
        dod=None,
        tin=tin,
        tins=(tin,),
        flags=frozenset({"not_in_master"}),
        history=(YearRecord(as_of.year - 2, False, addr, addr, tin, ""),),
    )
