"""Disk side of the request generator: an external shuffle and the output writers.

Rows are spread over bucket files at random while they are generated, then each bucket is
shuffled in memory and written out, so the file order carries no trace of the population
order and memory is bounded by one bucket. Never logs a value.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from taxmatch.contracts import REQUEST_COLUMNS

Format = Literal["csv", "jsonl", "parquet"]
Entry = list[Any]  # [group id, group kind, request fields, truth fields]
REQUEST_SCHEMA = pa.schema([(name, pa.string()) for name in REQUEST_COLUMNS])


class Buckets:
    """Random buckets of entries; in memory when there is one, else JSON-lines files."""

    def __init__(self, directory: Path, count: int) -> None:
        self.count = count
        self._directory = directory
        self._memory: list[Entry] = []
        self._files: list[IO[str]] = []
        if count > 1:
            directory.mkdir(parents=True, exist_ok=True)
            self._files = [
                (directory / f"bucket-{i:04d}.jsonl").open("w", encoding="utf-8")
                for i in range(count)
            ]

    def add(self, bucket: int, entry: Entry) -> None:
        if self.count == 1:
            self._memory.append(entry)
        else:
            self._files[bucket].write(json.dumps(entry, ensure_ascii=False) + "\n")

    def __iter__(self) -> Iterator[list[Entry]]:
        """Each bucket's entries in turn; a bucket file is deleted once read."""
        if self.count == 1:
            yield self._memory
            self._memory = []
            return
        for fh in self._files:
            fh.close()
        for i in range(self.count):
            path = self._directory / f"bucket-{i:04d}.jsonl"
            with path.open(encoding="utf-8") as fh:
                entries = [json.loads(line) for line in fh]
            path.unlink()
            yield entries

    def cleanup(self) -> None:
        for fh in self._files:
            fh.close()
        if self.count > 1:
            shutil.rmtree(self._directory, ignore_errors=True)


@contextmanager
def csv_writer(path: Path, header: Sequence[str]) -> Iterator[Callable[[list[list[str]]], None]]:
    """A CSV file with ``header``; yields the function that writes rows to it."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(header)
        yield out.writerows


@contextmanager
def request_writer(path: Path, fmt: Format) -> Iterator[Callable[[list[list[str]]], None]]:
    """Yields the function that writes request rows (lists in ``REQUEST_COLUMNS`` order)."""

    def records(rows: list[list[str]]) -> list[dict[str, str]]:
        return [dict(zip(REQUEST_COLUMNS, r, strict=True)) for r in rows]

    if fmt == "csv":
        with csv_writer(path, REQUEST_COLUMNS) as write:
            yield write
    elif fmt == "jsonl":
        with path.open("w", encoding="utf-8", newline="") as fh:
            yield lambda rows: fh.writelines(
                json.dumps(r, ensure_ascii=False) + "\n" for r in records(rows)
            )
    else:
        with pq.ParquetWriter(path, REQUEST_SCHEMA, compression="zstd") as parquet:
            yield lambda rows: parquet.write_table(
                pa.Table.from_pylist(records(rows), schema=REQUEST_SCHEMA)
            )
