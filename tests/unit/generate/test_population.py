"""generate_population: contracts, determinism and the household structures it must hold."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from taxmatch.contracts import MASTER_COLUMNS
from taxmatch.files.inputs import sha256_file
from taxmatch.generate import PopulationSummary, generate_population

from .generate_support import PEOPLE


def _people(summary: PopulationSummary) -> list[dict[str, object]]:
    return pq.read_table(summary.people_path).to_pylist()


def test_master_columns_are_the_contract(population: PopulationSummary) -> None:
    schema = pq.read_schema(population.master_path)
    assert tuple(schema.names) == MASTER_COLUMNS
    for field in schema:
        assert field.type == (pa.int64() if field.name == "tax_year" else pa.string()), field.name


def test_required_master_fields_are_filled(population: PopulationSummary) -> None:
    table = pq.read_table(population.master_path)
    for name in ("tin", "first_name", "last_name", "street_address", "city", "state", "zip"):
        values = table.column(name).to_pylist()
        assert all(values), name
    assert all(len(t) == 9 and t.isdigit() for t in table.column("tin").to_pylist())
    zips = table.column("zip").to_pylist()
    assert all(len(z.replace("-", "")) in (5, 9) for z in zips)
    assert any(len(z.replace("-", "")) == 9 for z in zips)


def test_manifest_counts_and_hashes(population: PopulationSummary) -> None:
    meta = json.loads(population.manifest_path.read_text())
    assert meta["people"] == PEOPLE == population.people
    assert (
        meta["files"]["master.parquet"]["rows"] == pq.read_metadata(population.master_path).num_rows
    )
    assert meta["files"]["master.parquet"]["sha256"] == sha256_file(population.master_path)
    assert meta["files"]["people.parquet"]["sha256"] == sha256_file(population.people_path)
    assert pq.read_metadata(population.people_path).num_rows == PEOPLE


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    runs = [
        generate_population(people=600, years=(2020, 2025), seed=seed, out=tmp_path / str(i))
        for i, seed in enumerate((3, 3, 4))
    ]
    for name in ("master.parquet", "people.parquet", "population.json"):
        a, b, c = ((tmp_path / str(i) / name).read_bytes() for i in range(3))
        assert a == b, name
        assert a != c, name
    assert runs[0].master_rows == runs[1].master_rows


def test_progress_counts_every_person(tmp_path: Path) -> None:
    seen: list[int] = []
    generate_population(people=777, years=(2021, 2024), seed=1, out=tmp_path, progress=seen.append)
    assert sum(seen) == 777


def test_household_structures_exist(population: PopulationSummary) -> None:
    flags = Counter(f for p in _people(population) for f in str(p["flags"]).split(";"))
    for wanted in (
        "itin",
        "ssn",
        "twin",
        "junior",
        "senior",
        "mover",
        "deceased",
        "po_box",
        "compound_surname",
        "household_of_filer",
        "household_same_name",
        "never_filed",
        "diacritics",
        "tin_changed",
    ):
        assert flags[wanted] > 0, wanted


def test_tins_unique_and_itins_begin_with_nine(population: PopulationSummary) -> None:
    people = _people(population)
    all_tins = [t for p in people for t in str(p["tins"]).split(";")]
    assert len(all_tins) == len(set(all_tins))
    for p in people:
        first = str(p["tins"]).split(";")[0]
        assert first.startswith("9") == bool(p["itin"])
        assert p["tin"] == str(p["tins"]).split(";")[-1]


def test_jr_sr_and_twins_share_a_home(population: PopulationSummary) -> None:
    people = _people(population)
    by_household: dict[object, list[dict[str, object]]] = defaultdict(list)
    for p in people:
        by_household[p["household_id"]].append(p)
    juniors = [p for p in people if p["junior_senior"] in ("Jr", "II", "III")]
    assert juniors
    for junior in juniors:
        seniors = [q for q in by_household[junior["household_id"]] if q["junior_senior"] == "Sr"]
        assert seniors
        assert seniors[0]["first_name"] == junior["first_name"]
        assert seniors[0]["last_name"] == junior["last_name"]
    by_id = {p["person_id"]: p for p in people}
    twins = [p for p in people if p["twin_of"]]
    assert twins
    for twin in twins:
        other = by_id[twin["twin_of"]]
        assert other["date_of_birth"] == twin["date_of_birth"]
        assert other["household_id"] == twin["household_id"]
        assert other["first_name"] != twin["first_name"]
        assert other["last_name"] == twin["last_name"]


def test_filings_follow_life(population: PopulationSummary) -> None:
    """Adults only, nothing after death, one master row per filed year (TINs may be keyed
    wrong on a rare row, so rows are matched through the truth's year records)."""
    master = pq.read_table(population.master_path, columns=["tin", "tax_year", "date_of_death"])
    tins, years = master.column("tin").to_pylist(), master.column("tax_year").to_pylist()
    rows = Counter(zip(tins, years, strict=True))
    filed_total = 0
    typo_rows = 0
    for p in _people(population):
        born = int(str(p["date_of_birth"])[:4])
        died = int(str(p["date_of_death"])[:4]) if p["date_of_death"] else None
        for y in p["history"]:  # type: ignore[attr-defined]
            if died is not None:
                assert y["tax_year"] <= died
            if y["filed"]:
                filed_total += 1
                assert y["tax_year"] - born >= 18
                if "tin_typo" in y["master_noise"]:
                    typo_rows += 1
                else:
                    assert rows[(y["tin"], y["tax_year"])] >= 1
    assert filed_total == master.num_rows
    assert typo_rows < filed_total * 0.01
    deaths = [d for d in master.column("date_of_death").to_pylist() if d]
    assert deaths
    assert all(len(d) == 10 for d in deaths)
