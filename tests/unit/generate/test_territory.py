"""territory: a larger population lives in more towns and ZIPs, each ZIP as dense as its
model city's, not in denser ZIPs."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path
from random import Random

import pyarrow.csv as pv
import pyarrow.parquet as pq
import pytest

from taxmatch.generate import generate_population, generate_requests, territory
from taxmatch.generate.places import Place
from taxmatch.generate.tables import cities
from taxmatch.generate.territory import PEOPLE_PER_TILE, tiles_for


def test_one_tile_is_the_real_table() -> None:
    real = cities()
    one = territory.territory(1)
    assert one.towns.items == real.items
    assert one.towns.weights == pytest.approx(real.weights)
    # drawn as the real table's own weighted pick draws (what the generator drew before
    # tiles existed)
    a, b = Random(3), Random(3)
    assert [real.pick(a) for _ in range(200)] == [one.pick(b) for _ in range(200)]


@pytest.mark.parametrize(
    ("people", "tiles"),
    [
        (1, 1),
        (PEOPLE_PER_TILE, 1),
        (1_499_999, 1),
        (1_500_000, 1),
        (1_500_001, 2),
        (2_500_000, 2),
        (3_000_000, 3),
        (3_500_000, 3),
        (20_000_000, 20),
    ],
)
def test_tiles_follow_the_population(people: int, tiles: int) -> None:
    assert tiles_for(people) == tiles


@pytest.mark.parametrize("tiles", [2, 3, 20])
def test_each_tile_is_a_copy_with_towns_and_zips_of_its_own(tiles: int) -> None:
    real = cities().items
    towns = territory.territory(tiles).towns
    items = towns.items
    assert len(items) == len(real) * tiles
    copies = items[len(real) :]
    # one (name, state) a town; no copy is named as a real city is
    assert len({(t.name, t.state) for t in items}) == len(items)
    assert not {t.name for t in copies} & {c.name for c in real}
    # every ZIP belongs to one town, and the copies' 3-digit areas are not the real ones'
    zips = [z for t in items for z in t.zips]
    assert len(set(zips)) == len(zips)
    assert all(len(z) == 5 and z.isdigit() for z in zips)
    assert not {z[:3] for t in copies for z in t.zips} & {z[:3] for c in real for z in c.zips}
    # as a real 3-digit area, a copy's lies in one state
    states: dict[str, set[str]] = {}
    for t in copies:
        for z in t.zips:
            states.setdefault(z[:3], set()).add(t.state)
    assert all(len(s) == 1 for s in states.values())
    # each copy keeps its model city's state, area code, ZIP count and weight: the same
    # density a ZIP, tile after tile
    weights = towns.weights
    for k, town in enumerate(copies):
        model = real[k % len(real)]
        assert (town.state, town.area_code, len(town.zips)) == (
            model.state,
            model.area_code,
            len(model.zips),
        )
        assert weights[len(real) + k] == pytest.approx(weights[k % len(real)])


def test_a_town_of_a_copy_is_known_by_its_place() -> None:
    country = territory.territory(2)
    town = country.towns.items[-1]
    place = Place("1 MAIN ST", "", town.name, town.state, town.zips[0], "0001")
    assert country.city_of(place) == town
    # the real table alone does not know it: a one-ZIP town of its own
    assert territory.territory(1).city_of(place).zips == (town.zips[0],)


def test_a_tiled_population_lives_in_every_tile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a small tile, a small population is spread over three copies of the table,
    and the request batch drawn from it (and its people not in the master file) too."""
    monkeypatch.setattr(territory, "PEOPLE_PER_TILE", 300)
    pop = generate_population(people=900, years=(2021, 2025), seed=2, out=tmp_path / "pop")
    assert json.loads(pop.manifest_path.read_text())["tiles"] == 3
    real = {z for c in cities().items for z in c.zips}
    zips = Counter(z[:5] for z in pq.read_table(pop.master_path).column("zip").to_pylist())
    copied = sum(n for z, n in zips.items() if z not in real)
    # two thirds of the weight lies in the copies
    assert 0.5 < copied / zips.total() < 0.8
    req = generate_requests(
        population=tmp_path / "pop",
        rows=400,
        seed=1,
        out=tmp_path / "req",
        as_of=date(2026, 11, 30),
    )
    opts = pv.ConvertOptions(column_types={"zip": "string"}, strings_can_be_null=False)
    table = pv.read_csv(req.requests_path, convert_options=opts)
    asked = [z for z in table.column("zip").to_pylist() if z]
    assert sum(z[:5] not in real for z in asked) > len(asked) / 3
