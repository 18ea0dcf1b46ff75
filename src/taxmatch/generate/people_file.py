"""Read ``people.parquet`` back as small per-person records, a batch at a time.

The request generator needs each person's true name, identifiers and address history; it
reads them column-wise in batches so memory stays flat however large the population is.
Read-only; never logs a value.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq

BATCH_PEOPLE = 10_000

# One true address: street line, unit, city, state, ZIP5.
Addr = tuple[str, str, str, str, str]


class YearRecord(NamedTuple):
    """A person's truth for one tax year: where they lived, whether and where they filed."""

    tax_year: int
    filed: bool
    residence: Addr
    filing: Addr
    tin: str
    master_noise: str


@dataclass(frozen=True, slots=True)
class PersonRecord:
    person_id: str
    household_id: str
    role: str
    sex: str
    group: str
    first: str
    middle: str
    last: str
    suffix: str
    dob: date
    dod: date | None
    tin: str
    tins: tuple[str, ...]
    flags: frozenset[str]
    history: tuple[YearRecord, ...]


_ADDRESS_FIELDS = ("street_address", "unit", "city", "state", "zip")
HISTORY_FIELDS: tuple[str, ...] = (
    *_ADDRESS_FIELDS,
    *(f"filing_{name}" for name in _ADDRESS_FIELDS),
    "tin",
    "master_noise",
)
HISTORY_TYPE = pa.list_(
    pa.struct(
        [("tax_year", pa.int64()), ("filed", pa.bool_())]
        + [(name, pa.string()) for name in HISTORY_FIELDS]
    )
)
PEOPLE_TEXT_COLUMNS: tuple[str, ...] = (
    "person_id",
    "household_id",
    "role",
    "sex",
    "name_group",
    "first_name",
    "middle_name",
    "last_name",
    "suffix",
    "date_of_birth",
    "date_of_death",
    "tin",
    "tins",
    "twin_of",
    "junior_senior",
    "flags",
)
PEOPLE_SCHEMA = pa.schema(
    [(name, pa.string()) for name in PEOPLE_TEXT_COLUMNS]
    + [("itin", pa.bool_()), ("filer", pa.bool_()), ("history", HISTORY_TYPE)]
)
# What the request generator reads back of each person.
_SCALARS = tuple(c for c in PEOPLE_TEXT_COLUMNS if c not in ("twin_of", "junior_senior"))


class PeopleBatch:
    """One batch of ``people.parquet``: flags at once, full records only when asked for."""

    def __init__(self, batch: pa.RecordBatch) -> None:
        self._batch = batch
        self.flags: list[str] = batch.column("flags").to_pylist()
        self.dob: list[str] = batch.column("date_of_birth").to_pylist()
        self.dod: list[str | None] = batch.column("date_of_death").to_pylist()
        self._cols: dict[str, list[Any]] | None = None
        self._history: list[YearRecord] = []
        self._offsets: list[int] = []

    def __len__(self) -> int:
        return len(self.flags)

    def _load(self) -> dict[str, list[Any]]:
        batch = self._batch
        cols = {name: batch.column(name).to_pylist() for name in _SCALARS}
        hist = batch.column("history")
        self._offsets = hist.offsets.to_pylist()
        values = hist.values
        h = [values.field(name).to_pylist() for name in HISTORY_FIELDS]
        self._history = list(
            map(
                YearRecord,
                values.field("tax_year").to_pylist(),
                values.field("filed").to_pylist(),
                zip(*h[:5], strict=True),
                zip(*h[5:10], strict=True),
                h[10],
                h[11],
            )
        )
        self._cols = cols
        return cols

    def record(self, i: int) -> PersonRecord:
        cols = self._cols if self._cols is not None else self._load()
        dod = cols["date_of_death"][i]
        return PersonRecord(
            person_id=cols["person_id"][i],
            household_id=cols["household_id"][i],
            role=cols["role"][i],
            sex=cols["sex"][i],
            group=cols["name_group"][i],
            first=cols["first_name"][i],
            middle=cols["middle_name"][i],
            last=cols["last_name"][i],
            suffix=cols["suffix"][i],
            dob=date.fromisoformat(cols["date_of_birth"][i]),
            dod=date.fromisoformat(dod) if dod else None,
            tin=cols["tin"][i],
            tins=tuple(cols["tins"][i].split(";")),
            flags=frozenset(cols["flags"][i].split(";")) - {""},
            history=tuple(self._history[self._offsets[i] : self._offsets[i + 1]]),
        )


def iter_people(path: Path) -> Iterator[PeopleBatch]:
    """Batches of people in file order."""
    pf = pq.ParquetFile(path, pre_buffer=False)
    for batch in pf.iter_batches(batch_size=BATCH_PEOPLE, columns=[*_SCALARS, "history"]):
        yield PeopleBatch(batch)


def iter_flags(path: Path) -> Iterator[tuple[list[str], list[str], list[str | None]]]:
    """Just (flags, date_of_birth, date_of_death) per batch: for counting who is eligible."""
    pf = pq.ParquetFile(path, pre_buffer=False)
    for batch in pf.iter_batches(
        batch_size=100_000, columns=["flags", "date_of_birth", "date_of_death"]
    ):
        yield (
            batch.column("flags").to_pylist(),
            batch.column("date_of_birth").to_pylist(),
            batch.column("date_of_death").to_pylist(),
        )
