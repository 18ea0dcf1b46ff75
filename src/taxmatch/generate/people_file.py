"""Read ``people.parquet`` back as small per-person records, a batch at a time, so memory
stays flat however large the population is. Read-only; never logs a value.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import cached_property
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
    """What the request generator needs of a person: true name, identifiers and history."""

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
_SCALARS = tuple(
    c
    for c in PEOPLE_TEXT_COLUMNS
    if c not in ("person_id", "household_id", "role", "sex", "twin_of", "junior_senior")
)


class PeopleBatch:
    """One batch of ``people.parquet``: flags at once, full records only when asked for."""

    def __init__(self, batch: pa.RecordBatch) -> None:
        self._batch = batch
        self.flags: list[str] = batch.column("flags").to_pylist()
        self.dob: list[str] = batch.column("date_of_birth").to_pylist()
        self.dod: list[str | None] = batch.column("date_of_death").to_pylist()

    def __len__(self) -> int:
        return len(self.flags)

    @cached_property
    def _columns(self) -> tuple[dict[str, list[Any]], list[int], list[YearRecord]]:
        """The scalar columns, the history offsets and every history row, read once."""
        cols = {name: self._batch.column(name).to_pylist() for name in _SCALARS}
        hist = self._batch.column("history")
        values = hist.values
        h = [values.field(name).to_pylist() for name in HISTORY_FIELDS]
        history = list(
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
        return cols, hist.offsets.to_pylist(), history

    def record(self, i: int) -> PersonRecord:
        cols, offsets, history = self._columns
        dod = cols["date_of_death"][i]
        return PersonRecord(
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
            history=tuple(history[offsets[i] : offsets[i + 1]]),
        )


def iter_people(path: Path, *, records: bool = True) -> Iterator[PeopleBatch]:
    """Batches of people in file order; with ``records=False`` only flags and dates are read
    (in larger batches): enough to count who is eligible."""
    pf = pq.ParquetFile(path, pre_buffer=False)
    columns = [*_SCALARS, "history"] if records else ["flags", "date_of_birth", "date_of_death"]
    for batch in pf.iter_batches(batch_size=BATCH_PEOPLE if records else 100_000, columns=columns):
        yield PeopleBatch(batch)
