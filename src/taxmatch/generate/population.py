"""``generate_population``: stream a seeded synthetic population to Parquet.

Households are generated and written in chunks, so memory does not grow with the number
of people; one ``random.Random(seed)`` drives everything, so the same arguments give
byte-identical files. Never prints or logs a name, address or TIN.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from random import Random

import pyarrow as pa
import pyarrow.parquet as pq

from taxmatch.contracts import MASTER_COLUMNS
from taxmatch.events import Event, emit
from taxmatch.files.inputs import MASTER_SCHEMA, sha256_file
from taxmatch.generate.household import HouseholdBuilder, Person
from taxmatch.generate.master import MasterColumns, render_rows
from taxmatch.generate.people_file import HISTORY_TYPE, PEOPLE_SCHEMA
from taxmatch.generate.territory import territory, tiles_for
from taxmatch.generate.tins import TinAllocator

CHUNK_PEOPLE = 25_000
MAX_HOUSEHOLD = 6
PEOPLE_ROW_GROUP = 5_000  # small groups keep the request generator's reads small
POPULATION_SCHEMA = "taxmatch/population/v1"


@dataclass(frozen=True, slots=True)
class PopulationSummary:
    """What ``generate_population`` wrote."""

    people: int
    households: int
    filers: int
    master_rows: int
    seed: int
    years: tuple[int, int]
    master_path: Path
    people_path: Path
    manifest_path: Path


def write_json(path: Path, payload: object) -> None:
    """Stable JSON (sorted keys, trailing newline) so equal inputs give equal bytes."""
    path.write_text(
        json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False) + "\n", "utf-8"
    )


class _PeopleColumns:
    """Column buffers for one chunk of ``people.parquet``."""

    def __init__(self) -> None:
        self.people: dict[str, list[object]] = {name: [] for name in PEOPLE_SCHEMA.names}
        self.years: dict[str, list[object]] = {f.name: [] for f in HISTORY_TYPE.value_type}
        self.offsets: list[int] = [0]

    def add(self, p: Person, noise: dict[int, str], flags: list[str]) -> None:
        name = p.name
        person = {
            "person_id": p.person_id,
            "household_id": p.household_id,
            "role": p.role,
            "sex": p.sex,
            "name_group": p.group,
            "first_name": name.first,
            "middle_name": name.middle,
            "last_name": name.last,
            "suffix": name.suffix,
            "date_of_birth": p.dob.isoformat(),
            "date_of_death": p.dod.isoformat() if p.dod else None,
            "tin": p.tin,
            "tins": ";".join(tin for _, tin in p.tins),
            "twin_of": p.twin_of,
            "junior_senior": p.junior_senior,
            "flags": ";".join(flags),
            "itin": p.itin,
            "filer": bool(p.filed),
        }
        for key, value in person.items():
            self.people[key].append(value)
        for year, home in p.residence.items():
            mail = p.mailing.get(year, home)
            values = (
                year,
                year in p.filed,
                *(home.street, home.unit, home.city, home.state, home.zip5),
                *(mail.street, mail.unit, mail.city, mail.state, mail.zip5),
                p.tin_in(year),
                noise.get(year, ""),
            )
            for column, item in zip(self.years.values(), values, strict=True):
                column.append(item)
        self.offsets.append(len(self.years["tax_year"]))

    def table(self) -> pa.Table:
        structs = pa.StructArray.from_arrays(
            [
                pa.array(values, f.type)
                for f, values in zip(HISTORY_TYPE.value_type, self.years.values(), strict=True)
            ],
            fields=list(HISTORY_TYPE.value_type),
        )
        history = pa.ListArray.from_arrays(pa.array(self.offsets, pa.int32()), structs)
        return pa.Table.from_pydict({**self.people, "history": history}, schema=PEOPLE_SCHEMA)


def _household_flags(members: list[Person]) -> dict[str, list[str]]:
    """Per-person flags, including relations that need the whole household."""
    out = {p.person_id: p.flags() for p in members}
    filed_places = {(m.person_id, m.residence[y]) for m in members for y in m.filed}
    for p in members:
        if p.filed or not p.residence:
            continue
        homes = set(p.residence.values())
        if any(pid != p.person_id and place in homes for pid, place in filed_places):
            out[p.person_id].append("household_of_filer")
    names = Counter((p.name.first, p.name.last) for p in members)
    for p in members:
        if names[(p.name.first, p.name.last)] > 1:
            out[p.person_id].append("household_same_name")
    return out


def _master_table(cols: MasterColumns, rng: Random) -> pa.Table:
    table = pa.Table.from_pydict(cols, schema=MASTER_SCHEMA)
    # Row order inside a chunk carries no household structure, as in a real extract.
    order = list(range(table.num_rows))
    rng.shuffle(order)
    return table.take(pa.array(order, pa.int64()))


def generate_population(
    *,
    people: int,
    years: tuple[int, int],
    seed: int,
    out: Path,
    progress: Callable[[int], None] | None = None,
) -> PopulationSummary:
    """Write under ``out``: ``master.parquet`` (one noisy row per person per tax year filed,
    ``MASTER_COLUMNS``), ``people.parquet`` (the truth about each person, with the true
    address history) and ``population.json`` (seed, counts and sha256 of each file)."""
    first, last = years
    if people < 1:
        raise ValueError("people must be at least 1")
    if first > last:
        raise ValueError("years must be (first, last) with first <= last")
    out.mkdir(parents=True, exist_ok=True)
    master_path, people_path = out / "master.parquet", out / "people.parquet"
    rng = Random(seed)
    tins = TinAllocator(seed)
    tiles = tiles_for(people)
    builder = HouseholdBuilder(rng, (first, last), tins, territory(tiles))
    master_rows = filers = 0
    eligible_household = 0
    with (
        pq.ParquetWriter(master_path, MASTER_SCHEMA, compression="zstd") as master_writer,
        pq.ParquetWriter(people_path, PEOPLE_SCHEMA, compression="zstd") as people_writer,
    ):
        while builder.next_person < people:
            cols: MasterColumns = {name: [] for name in MASTER_COLUMNS}
            chunk = _PeopleColumns()
            start = builder.next_person
            while builder.next_person < people and builder.next_person - start < CHUNK_PEOPLE:
                members = builder.build(min(MAX_HOUSEHOLD, people - builder.next_person))
                flags = _household_flags(members)
                for p in members:
                    noise = render_rows(p, rng, cols)
                    chunk.add(p, noise, flags[p.person_id])
                    filers += bool(p.filed)
                    eligible_household += "household_of_filer" in flags[p.person_id]
            master_table = _master_table(cols, rng)
            master_rows += master_table.num_rows
            master_writer.write_table(master_table)
            people_writer.write_table(chunk.table(), row_group_size=PEOPLE_ROW_GROUP)
            if progress is not None:
                progress(builder.next_person - start)
    manifest = out / "population.json"
    write_json(
        manifest,
        {
            "schema": POPULATION_SCHEMA,
            "seed": seed,
            "people": people,
            "tiles": tiles,
            "years": [first, last],
            "households": builder.next_household,
            "filers": filers,
            "household_of_filer": eligible_household,
            "master_rows": master_rows,
            "ssn_issued": tins.ssn_next,
            "itin_issued": tins.itin_next,
            "files": {
                "master.parquet": {"rows": master_rows, "sha256": sha256_file(master_path)},
                "people.parquet": {"rows": people, "sha256": sha256_file(people_path)},
            },
        },
    )
    emit(Event.GENERATED, kind="population", people=people, master_rows=master_rows)
    return PopulationSummary(
        people=people,
        households=builder.next_household,
        filers=filers,
        master_rows=master_rows,
        seed=seed,
        years=(first, last),
        master_path=master_path,
        people_path=people_path,
        manifest_path=manifest,
    )
