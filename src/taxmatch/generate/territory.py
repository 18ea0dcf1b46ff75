"""The country a generated population lives in.

Up to about ``PEOPLE_PER_TILE`` people live in the real cities of ``data/cities.csv``
(128 cities, 402 ZIP codes: about 2 500 people a ZIP on average, from a few hundred in a
small town's ZIP to some 17 000 in a Manhattan one). A larger population does not crowd
into the same ZIPs — a national master file covers more towns, not denser ones — so the
table is tiled: each further tile is a copy of every real city (same state, area code,
weight and number of ZIPs) under a town name of its own and ZIP codes of its own, taken
from the 3-digit ZIP areas the real table leaves unused. Each ZIP keeps the density of its
model city; the 3-digit areas fill up as the country grows (a real one holds some 150 000
filers, more than any tile gives it), and street names, house numbers and personal names
repeat across tiles as they do across a country. A population of at most 1.5 M people
lives in the real table alone, drawn exactly as before tiles existed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cache
from itertools import product
from math import ceil
from random import Random
from typing import TYPE_CHECKING

from taxmatch.generate.tables import City, Weighted, cities

if TYPE_CHECKING:
    from taxmatch.generate.places import Place

PEOPLE_PER_TILE = 1_000_000

# Town names of the tiles: an adjective or a tree, a place word, sometimes a third word.
_FIRST = (
    "ASH BIRCH CEDAR CLEAR COLD DEER EAGLE ELM FAIR FOX GLEN GOLD GRAND GREEN HAWK HIGH "
    "IRON LAKE LAUREL MAPLE MILL OAK PINE RED RIVER ROCK SALT SILVER SPRING STONE SUN "
    "WILLOW WOLF BELL BROOK CROSS DOVE FERN HAZEL KING"
)
_SECOND = (
    "BURG DALE FIELD FORD GATE HAVEN HILL LAND MONT PORT RIDGE TON VALE VIEW VILLE WOOD "
    "WATER CREST SHIRE BRIDGE"
)
_THIRD = ("", " HEIGHTS", " SPRINGS", " PARK", " JUNCTION", " FALLS", " CENTER", " GROVE")


@dataclass(frozen=True, slots=True)
class Territory:
    """The towns people are drawn into, weighted, and each town by its name and state."""

    towns: Weighted[City]
    tiles: int

    def pick(self, rng: Random) -> City:
        return self.towns.pick(rng)

    def city_of(self, place: Place) -> City:
        """The town of ``place`` (a one-ZIP town if the place is in none of them)."""
        return _index(self).get(
            (place.city, place.state), City(place.city, place.state, "555", (place.zip5,))
        )


def tiles_for(people: int) -> int:
    """How many copies of the real table a population of ``people`` lives in: the nearest
    whole number of ``PEOPLE_PER_TILE``, a half rounded down, at least one."""
    return max(1, (people + (PEOPLE_PER_TILE - 1) // 2) // PEOPLE_PER_TILE)


@cache
def territory(tiles: int = 1) -> Territory:
    """The real table and ``tiles - 1`` copies of it (``ValueError`` beyond the names and
    3-digit ZIP areas there are)."""
    real = cities()
    if tiles == 1:
        return Territory(real, 1)
    models = list(zip(real.items, real.weights, strict=True))
    copies = len(real.items) * (tiles - 1)
    taken = {c.name for c in real.items}
    names = [
        n
        for n in (a + b + c for c, a, b in product(_THIRD, _FIRST.split(), _SECOND.split()))
        if n not in taken
    ]
    if copies > len(names):
        raise ValueError(
            f"a generated country holds at most {len(names) // len(real.items) + 1} tiles"
        )
    zips = _zip_codes(real.items, tiles - 1)
    towns = list(models)
    for k, (model, weight) in enumerate(models * (tiles - 1)):
        towns.append((City(names[k], model.state, model.area_code, zips[k]), weight))
    return Territory(Weighted(towns), tiles)


def _zip_codes(real: list[City], copies: int) -> list[tuple[str, ...]]:
    """The ZIP codes of each town of ``copies`` copies of ``real`` (in that order), in the
    3-digit areas no real city uses. As a real area lies in one state, an area holds the
    ZIPs of one state of one copy, filled before the next; at least as many ZIPs an area
    as the real table has on average, more when the free areas would not do."""
    used = {z[:3] for c in real for z in c.zips}
    free = [a for a in (f"{i:03d}" for i in range(10, 1000)) if a not in used]
    by_state = Counter[str]()
    for c in real:
        by_state[c.state] += len(c.zips)
    base = ceil(by_state.total() / len(used))
    fits = (
        p
        for p in range(base, 100)
        if copies * sum(ceil(n / p) for n in by_state.values()) <= len(free)
    )
    per_area = next(fits, None)
    if per_area is None:
        most = len(free) // len(by_state) + 1  # every state one area a copy, at the least
        raise ValueError(f"a generated country has ZIP areas for at most {most} tiles")
    step = 99 // per_area
    unused = iter(free)
    towns: list[tuple[str, ...]] = []
    for _ in range(copies):
        areas: dict[str, tuple[str, int]] = {}  # a state's open area, and its ZIPs so far
        for city in real:
            own = []
            for _zip in city.zips:
                area, held = areas.get(city.state, ("", per_area))
                if held == per_area:
                    area, held = next(unused), 0
                own.append(f"{area}{held * step + 1:02d}")
                areas[city.state] = (area, held + 1)
            towns.append(tuple(own))
    return towns


@cache
def _index(where: Territory) -> dict[tuple[str, str], City]:
    return {(c.name, c.state): c for c in where.towns.items}
