"""Request-file readers: CSV, JSON Lines and Parquet rows, in file order, as chunks of
``RawRecord``. Whole-file problems raise ``InputFileError`` when the reader is built; a row
that cannot be read cleanly is never dropped and never crashes the reader: it is yielded
with ``malformed`` naming the bad fields, its values made safe to carry on.

Must never: lose or invent a row, hold more than one chunk and one bounded record in
memory, or put a field value (or a header cell, which may be data) into an error or log.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from taxmatch.contracts import REQUEST_COLUMNS, REQUEST_REQUIRED_COLUMNS, ROW_FIELD, RawRecord
from taxmatch.errors import InputFileError
from taxmatch.files.reader_rows import BAD_CHARS, Row, RowBuilder, arrow_strings, make_record
from taxmatch.files.reader_text import (
    LineSource,
    binary_lines,
    first_record,
    holds_rows,
    is_blank,
    json_values,
    jsonl_records,
    longest,
    parse_alone,
    parse_json,
    text_stream,
)
from taxmatch.processes import collector_paused

Format = Literal["csv", "jsonl", "parquet"]

_SUFFIXES: dict[str, Format] = {
    ".csv": "csv",
    ".txt": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}

# Delimiters tried, in order, when a .csv/.txt header does not split on commas.
_DELIMITERS = (",", "\t", "|", ";")

REQUEST_COLUMNS_SET = frozenset(REQUEST_COLUMNS)
_BLANK = ("",) * len(REQUEST_COLUMNS)

_FOREIGN_MAGIC = (
    (b"PAR1", "a Parquet file"),
    (b"\x1f\x8b", "a gzip file"),
    (b"PK\x03\x04", "a zip file (a spreadsheet?)"),
    (b"\xff\xfe", "UTF-16 text (save it as UTF-8)"),
    (b"\xfe\xff", "UTF-16 text (save it as UTF-8)"),
)


def detect_format(path: Path) -> Format:
    """The request-file format, by suffix; ``InputFileError`` for any other suffix."""
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise InputFileError(
            str(path), "unknown file type (expected .csv, .txt, .jsonl, .ndjson, .parquet, .pq)"
        )
    return fmt


def read_requests(
    path: Path, *, max_field_length: int = 1000, chunk_rows: int = 10_000
) -> RequestFileReader:
    """Open a request file; header problems raise now, rows are read when iterated."""
    if max_field_length < 1 or chunk_rows < 1:
        raise ValueError("max_field_length and chunk_rows must be positive")
    return RequestFileReader(path, max_field_length=max_field_length, chunk_rows=chunk_rows)


class RequestFileReader:
    """A request file's rows in chunks (``contracts.RequestReader``), re-read from the start
    on each iteration. ``columns`` are the file's columns (for JSON Lines, the keys of the
    first record); ``bytes_read``/``total_bytes`` report progress while iterating.
    """

    def __init__(self, path: Path, *, max_field_length: int, chunk_rows: int) -> None:
        self.path = path
        self.format: Format = detect_format(path)
        self.max_field_length = max_field_length
        self.chunk_rows = chunk_rows
        self.bytes_read = 0
        try:
            self.total_bytes = path.stat().st_size
        except OSError as exc:
            raise unreadable(path, exc) from None
        self._delimiter = ","
        header = {"csv": self._csv_header, "jsonl": self._jsonl_header}
        self.columns = header.get(self.format, self._parquet_header)()
        self._builder = RowBuilder(self.columns)

    def __iter__(self) -> Iterator[list[RawRecord]]:
        limit = self.max_field_length
        for chunk in self.row_chunks():
            with collector_paused():  # a chunk of records holds no cycles
                records = [make_record(n, values, flags, limit) for n, values, flags in chunk]
            yield records

    def row_chunks(self) -> Iterator[list[Row]]:
        """The rows ``__iter__`` yields, each before it is made a record (``make_record``
        with ``max_field_length``): for a process that makes the records elsewhere."""
        self.bytes_read = 0
        rows = {"csv": self._iter_csv, "jsonl": self._iter_jsonl}
        try:
            yield from rows.get(self.format, self._iter_parquet)()
        except OSError as exc:
            raise unreadable(self.path, exc) from None
        self.bytes_read = self.total_bytes

    def _open_binary(self) -> BinaryIO:
        try:
            return open(self.path, "rb")
        except OSError as exc:
            raise unreadable(self.path, exc) from None

    def _csv_header(self) -> tuple[str, ...]:
        with self._open_binary() as raw:
            magic = raw.read(4)
            for prefix, what in _FOREIGN_MAGIC:
                if magic.startswith(prefix):
                    raise InputFileError(str(self.path), f"is {what}, not UTF-8 CSV")
            raw.seek(0)
            src = LineSource(text_stream(raw))
            header = first_record(src, csv.reader(src))
            if header is None:
                raise InputFileError(str(self.path), "file is empty (no header row)")
            lines = src.lines
        if any(BAD_CHARS.search(cell) for cell in header):
            raise InputFileError(str(self.path), "header row is not readable UTF-8 CSV text")
        names = tuple(cell.strip() for cell in header)
        if len(names) == 1 and not REQUEST_COLUMNS_SET.issuperset(names):
            for delimiter in _DELIMITERS[1:]:
                cells = parse_alone(lines, delimiter)
                candidate = tuple(cell.strip() for cell in cells or ())
                if set(REQUEST_REQUIRED_COLUMNS).issubset(candidate):
                    self._delimiter = delimiter
                    names = candidate
                    break
        _check_columns(self.path, names)
        return names

    def _iter_csv(self) -> Iterator[list[Row]]:
        builder = self._builder
        pick = builder.pick
        with self._open_binary() as raw:
            rows = (
                # the common case (``broken`` None: one line, one row) kept fast
                (n, pick(cells), ()) if broken is None else builder.cells_row(n, cells, broken)
                for n, (cells, broken) in enumerate(self._csv_records(raw), 1)
            )
            yield from self._chunks(raw, rows)

    def _chunks(self, raw: BinaryIO, rows: Iterator[Row]) -> Iterator[list[Row]]:
        """``rows`` in chunks of ``chunk_rows``, ``bytes_read`` following ``raw`` (a short
        chunk is the last: ``raw`` may be closed by then)."""
        while True:
            with collector_paused():  # a chunk of rows holds no cycles
                chunk = list(itertools.islice(rows, self.chunk_rows))
            if not chunk:
                return
            full = len(chunk) == self.chunk_rows
            self.bytes_read = raw.tell() if full else self.total_bytes
            yield chunk

    def _csv_records(self, raw: BinaryIO) -> Iterator[tuple[list[str], bool | None]]:
        """Each data record's cells, in file order, blank records skipped: the one
        definition of what a CSV record is (``count_records`` counts these). ``broken`` is
        None for a clean one-line row (its cells end with the extra "" ``pick`` expects)."""
        ncols = len(self.columns)
        delimiter = self._delimiter
        src = LineSource(text_stream(raw))
        reader = csv.reader(src, delimiter=delimiter)
        next_record = reader.__next__
        first_record(src, reader)  # the header, checked at construction
        while True:
            src.start_record()
            try:
                cells: list[str] | None = next_record()
            except StopIteration:
                return
            except csv.Error:  # a field over the csv module's limit
                cells = None
            if (
                cells is not None
                and len(cells) == ncols
                and len(src.lines) == 1
                and not src.trouble
            ):
                cells.append("")
                yield cells, None
            else:
                cells, broken = self._recover(src, cells, delimiter)
                if not broken and is_blank(cells):
                    continue
                yield cells, broken

    def _recover(
        self, src: LineSource, cells: list[str] | None, delimiter: str
    ) -> tuple[list[str], bool]:
        """A record that is not one clean line: (cells to map, whether the row is broken).

        A record over several lines holds a quoted newline, or an unbalanced quote that
        swallowed the rows after it. In the latter case only its first line is the row,
        and the other lines go back to be parsed again, so no row is lost.
        """
        broken = cells is None or src.overlong
        if (src.overflow or len(src.lines) > 1) and (
            broken
            or len(cells or ()) != len(self.columns)
            or longest(cells) > self.max_field_length
        ):
            lines = src.lines
            if not src.overflow and holds_rows(lines[1:], delimiter, len(self.columns)):
                src.push_back(lines[1:])
                cells = parse_alone(lines[:1], delimiter)
                broken = True
        if cells is None and src.lines:  # salvage what the first line holds
            cells = parse_alone(src.lines[:1], delimiter)
        return cells or [], broken

    def _jsonl_header(self) -> tuple[str, ...]:
        with self._open_binary() as raw:
            for line, overlong in binary_lines(raw):
                if not line.strip():
                    continue
                obj = None if overlong else parse_json(line)
                if not isinstance(obj, dict):
                    raise InputFileError(
                        str(self.path), "not JSON Lines (the first record is not a JSON object)"
                    )
                names = tuple(obj)
                _check_columns(self.path, names)
                return names
        raise InputFileError(str(self.path), "file is empty (no records)")

    def _iter_jsonl(self) -> Iterator[list[Row]]:
        with self._open_binary() as raw:
            rows = (
                _jsonl_row(n, line, overlong)
                for n, (line, overlong) in enumerate(jsonl_records(raw), 1)
            )
            yield from self._chunks(raw, rows)

    def count_records(self) -> int:
        """How many records iterating yields (the N of ``#row-N`` runs 1..this), without
        building them: CSV records (a quoted newline does not start one, blank lines are
        not records), non-blank JSON Lines, Parquet rows."""
        try:
            if self.format == "parquet":
                with self._parquet_file() as pf:
                    groups = range(pf.num_row_groups)
                    return sum(int(pf.metadata.row_group(g).num_rows) for g in groups)
            with self._open_binary() as raw:
                records = self._csv_records(raw) if self.format == "csv" else jsonl_records(raw)
                return sum(1 for _ in records)
        except OSError as exc:
            raise unreadable(self.path, exc) from None

    def _parquet_file(self) -> pq.ParquetFile:
        try:
            return pq.ParquetFile(self.path)
        except OSError as exc:
            if isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError):
                raise unreadable(self.path, exc) from None
            raise InputFileError(str(self.path), "not a readable Parquet file") from None
        except (pa.ArrowException, ValueError):
            raise InputFileError(str(self.path), "not a readable Parquet file") from None

    def _parquet_header(self) -> tuple[str, ...]:
        with self._parquet_file() as pf:
            names = tuple(str(name) for name in pf.schema_arrow.names)
        _check_columns(self.path, names)
        return names

    def _iter_parquet(self) -> Iterator[list[Row]]:
        present = [c for c in REQUEST_COLUMNS if c in self.columns]
        row_number = 0
        with self._parquet_file() as pf:
            total_rows = max(int(pf.metadata.num_rows), 1)
            for group in range(pf.num_row_groups):
                end = row_number + int(pf.metadata.row_group(group).num_rows)
                batches = pf.iter_batches(
                    batch_size=self.chunk_rows, row_groups=[group], columns=present
                )
                try:
                    for batch in batches:
                        strings = {name: arrow_strings(batch.column(name)) for name in present}
                        wrong = tuple(name for name in present if strings[name] is None)
                        blank = [""] * batch.num_rows
                        rows = zip(*(strings.get(c) or blank for c in REQUEST_COLUMNS), strict=True)
                        chunk: list[Row] = [
                            (row_number + 1 + i, row, wrong) for i, row in enumerate(rows)
                        ]
                        row_number += batch.num_rows
                        self.bytes_read = self.total_bytes * row_number // total_rows
                        yield chunk
                except (pa.ArrowException, OSError):
                    # A damaged row group: its unread rows are still rows of the request.
                    while row_number < end:
                        n = min(self.chunk_rows, end - row_number)
                        yield [(row_number + 1 + i, _BLANK, (ROW_FIELD,)) for i in range(n)]
                        row_number += n


def _jsonl_row(row_number: int, line: bytes, overlong: bool) -> Row:
    obj = None if overlong else parse_json(line)
    if isinstance(obj, dict):
        return (row_number, *json_values(obj))
    return row_number, _BLANK, (ROW_FIELD,)


def _check_columns(path: Path, names: Sequence[str]) -> None:
    """Every required column present, no known column twice; names ours, never the file's."""
    seen: set[str] = set()
    for name in names:
        if name in REQUEST_COLUMNS_SET and name in seen:
            raise InputFileError(str(path), "column appears more than once", field=name)
        seen.add(name)
    missing = [c for c in REQUEST_REQUIRED_COLUMNS if c not in seen]
    if missing:
        more = f" (and {len(missing) - 1} more: {', '.join(missing[1:])})" if missing[1:] else ""
        raise InputFileError(str(path), f"required column is missing{more}", field=missing[0])


def unreadable(
    path: Path, exc: OSError, error: type[InputFileError] = InputFileError
) -> InputFileError:
    return error(str(path), f"cannot be read ({exc.strerror or type(exc).__name__})")
