"""Request-file readers: CSV, JSON Lines and Parquet rows as chunks of ``RawRecord``.

Reads a requester's file in constant memory (the csv module over an open text stream,
JSON Lines line by line, Parquet in record batches) and yields every data row, in file
order, as raw strings by column. Whole-file problems (unreadable file, empty file, wrong
format, missing required column) raise ``InputFileError`` when the reader is built; a row
that cannot be read cleanly is never dropped and never crashes the reader: it is yielded
with ``malformed`` naming the bad fields, and its values are made safe to carry on
(undecodable bytes and control characters replaced by U+FFFD, over-long values cut).

Must never: lose or invent a row, hold more than one chunk and one bounded record in
memory, or put a field value (or a header cell, which may be data) into an error or log.
"""

from __future__ import annotations

import csv
import io
import json
import math
import operator
import re
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from taxmatch.contracts import REQUEST_COLUMNS, REQUEST_REQUIRED_COLUMNS, ROW_FIELD, RawRecord
from taxmatch.errors import InputFileError

Format = Literal["csv", "jsonl", "parquet"]

_SUFFIXES: dict[str, Format] = {
    ".csv": "csv",
    ".txt": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}

# Control characters other than tab/LF/CR (C0, DEL, C1) and lone surrogates, which is
# how undecodable bytes arrive after ``surrogateescape`` (or a JSON "\udXXX" escape).
_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_REPLACEMENT = "\ufffd"

# Memory bounds, in characters. A field larger than _FIELD_LIMIT makes the csv module
# raise (the row is then malformed); a physical line longer than _LINE_CAP is cut; one
# record's raw lines are kept for re-splitting only while they total under _RECORD_CAP.
_FIELD_LIMIT = 8 * 1024 * 1024
_LINE_CAP = 16 * 1024 * 1024
_RECORD_CAP = 32 * 1024 * 1024

# Delimiters tried, in order, when a .csv/.txt header does not split on commas.
_DELIMITERS = (",", "\t", "|", ";")

REQUEST_COLUMNS_SET = frozenset(REQUEST_COLUMNS)
_STR_OR_NULL = frozenset({str, type(None)})
_decode_json = json.JSONDecoder().decode

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
    first record); ``bytes_read``/``total_bytes`` report progress while iterating;
    ``rows_read`` counts the records yielded so far by the current iteration.
    """

    def __init__(self, path: Path, *, max_field_length: int, chunk_rows: int) -> None:
        self.path = path
        self.format: Format = detect_format(path)
        self.max_field_length = max_field_length
        self.chunk_rows = chunk_rows
        self.bytes_read = 0
        self.rows_read = 0
        try:
            self.total_bytes = path.stat().st_size
        except OSError as exc:
            raise _unreadable(path, exc) from None
        self._delimiter = ","
        if self.format == "csv":
            self.columns = self._csv_header()
        elif self.format == "jsonl":
            self.columns = self._jsonl_header()
        else:
            self.columns = self._parquet_header()
        self._builder = _RowBuilder(self.columns, max_field_length)

    def __iter__(self) -> Iterator[list[RawRecord]]:
        self.bytes_read = 0
        self.rows_read = 0
        try:
            if self.format == "csv":
                yield from self._iter_csv()
            elif self.format == "jsonl":
                yield from self._iter_jsonl()
            else:
                yield from self._iter_parquet()
        except OSError as exc:
            raise _unreadable(self.path, exc) from None
        self.bytes_read = self.total_bytes

    # --- CSV ---------------------------------------------------------------------------

    def _open_binary(self) -> BinaryIO:
        try:
            return open(self.path, "rb")
        except OSError as exc:
            raise _unreadable(self.path, exc) from None

    def _csv_header(self) -> tuple[str, ...]:
        with self._open_binary() as raw:
            magic = raw.read(4)
            for prefix, what in _FOREIGN_MAGIC:
                if magic.startswith(prefix):
                    raise InputFileError(str(self.path), f"is {what}, not UTF-8 CSV")
            raw.seek(0)
            text = _text_stream(raw)
            src = _LineSource(text)
            header = _first_record(src, csv.reader(src))
            if header is None:
                raise InputFileError(str(self.path), "file is empty (no header row)")
            lines = src.lines
        if any(_BAD_CHARS.search(cell) for cell in header):
            raise InputFileError(str(self.path), "header row is not readable UTF-8 CSV text")
        names = tuple(cell.strip() for cell in header)
        if len(names) == 1 and not REQUEST_COLUMNS_SET.issuperset(names):
            for delimiter in _DELIMITERS[1:]:
                cells = _parse_alone(lines, delimiter)
                candidate = tuple(cell.strip() for cell in cells or ())
                if set(REQUEST_REQUIRED_COLUMNS).issubset(candidate):
                    self._delimiter = delimiter
                    names = candidate
                    break
        _check_columns(self.path, names)
        return names

    def _iter_csv(self) -> Iterator[list[RawRecord]]:
        builder = self._builder
        build, pick = builder.from_values, builder.pick
        with self._open_binary() as raw:
            chunk: list[RawRecord] = []
            row_number = 0
            for cells, broken in self._csv_records(raw):
                row_number += 1
                if broken is None:  # the common case: one line, one row, kept fast
                    chunk.append(build(row_number, pick(cells), ()))
                else:
                    chunk.append(builder.from_cells(row_number, cells, broken))
                if len(chunk) >= self.chunk_rows:
                    self.rows_read = row_number
                    self.bytes_read = raw.tell()
                    yield chunk
                    chunk = []
            self.rows_read = row_number
            self.bytes_read = self.total_bytes
            if chunk:
                yield chunk

    def _csv_records(self, raw: BinaryIO) -> Iterator[tuple[list[str], bool | None]]:
        """Each data record's cells, in file order, blank records skipped: the one
        definition of what a CSV record is (``count_records`` counts these). ``broken`` is
        None for a clean one-line row (its cells end with the extra "" ``pick`` expects)."""
        ncols = len(self.columns)
        delimiter = self._delimiter
        src = _LineSource(_text_stream(raw))
        reader = csv.reader(src, delimiter=delimiter)
        next_record = reader.__next__
        _first_record(src, reader)  # the header, checked at construction
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
                if not broken and _is_blank(cells):
                    continue
                yield cells, broken

    def _recover(
        self, src: _LineSource, cells: list[str] | None, delimiter: str
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
            or _longest(cells) > self.max_field_length
        ):
            lines = src.lines
            if not src.overflow and _holds_rows(lines[1:], delimiter, len(self.columns)):
                src.push_back(lines[1:])
                cells = _parse_alone(lines[:1], delimiter)
                broken = True
        if cells is None and src.lines:  # salvage what the first line holds
            cells = _parse_alone(src.lines[:1], delimiter)
        return cells or [], broken

    # --- JSON Lines -------------------------------------------------------------------

    def _jsonl_header(self) -> tuple[str, ...]:
        with self._open_binary() as raw:
            for line, overlong in _binary_lines(raw):
                if not line.strip():
                    continue
                obj = None if overlong else _parse_json(line)
                if not isinstance(obj, dict):
                    raise InputFileError(
                        str(self.path), "not JSON Lines (the first record is not a JSON object)"
                    )
                names = tuple(obj)
                _check_columns(self.path, names)
                return names
        raise InputFileError(str(self.path), "file is empty (no records)")

    def _iter_jsonl(self) -> Iterator[list[RawRecord]]:
        build = self._builder.from_values
        with self._open_binary() as raw:
            chunk: list[RawRecord] = []
            row_number = 0
            for line, overlong in _jsonl_records(raw):
                row_number += 1
                obj = None if overlong else _parse_json(line)
                if isinstance(obj, dict):
                    values, wrong = _json_values(obj)
                    chunk.append(build(row_number, values, wrong))
                else:
                    chunk.append(build(row_number, [""] * len(REQUEST_COLUMNS), (ROW_FIELD,)))
                if len(chunk) >= self.chunk_rows:
                    self.rows_read = row_number
                    self.bytes_read = raw.tell()
                    yield chunk
                    chunk = []
            self.rows_read = row_number
            self.bytes_read = self.total_bytes
            if chunk:
                yield chunk

    # --- counting ---------------------------------------------------------------------

    def count_records(self) -> int:
        """How many records iterating yields (the N of ``#row-N`` runs 1..this), without
        building them: CSV records (a quoted newline does not start one, blank lines are
        not records), non-blank JSON Lines, Parquet rows."""
        try:
            if self.format == "parquet":
                pf = self._parquet_file()
                try:
                    return sum(
                        int(pf.metadata.row_group(g).num_rows) for g in range(pf.num_row_groups)
                    )
                finally:
                    pf.close()
            with self._open_binary() as raw:
                records = self._csv_records(raw) if self.format == "csv" else _jsonl_records(raw)
                return sum(1 for _ in records)
        except OSError as exc:
            raise _unreadable(self.path, exc) from None

    # --- Parquet ----------------------------------------------------------------------

    def _parquet_file(self) -> pq.ParquetFile:
        try:
            return pq.ParquetFile(self.path)
        except OSError as exc:
            if isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError):
                raise _unreadable(self.path, exc) from None
            raise InputFileError(str(self.path), "not a readable Parquet file") from None
        except (pa.ArrowException, ValueError):
            raise InputFileError(str(self.path), "not a readable Parquet file") from None

    def _parquet_header(self) -> tuple[str, ...]:
        pf = self._parquet_file()
        try:
            names = tuple(str(name) for name in pf.schema_arrow.names)
        finally:
            pf.close()
        _check_columns(self.path, names)
        return names

    def _iter_parquet(self) -> Iterator[list[RawRecord]]:
        pf = self._parquet_file()
        try:
            yield from self._parquet_rows(pf)
        finally:
            pf.close()

    def _parquet_rows(self, pf: pq.ParquetFile) -> Iterator[list[RawRecord]]:
        present = [c for c in REQUEST_COLUMNS if c in self.columns]
        total_rows = max(int(pf.metadata.num_rows), 1)
        build = self._builder.from_values
        row_number = 0
        for group in range(pf.num_row_groups):
            expected = int(pf.metadata.row_group(group).num_rows)
            done = 0
            batches = pf.iter_batches(
                batch_size=self.chunk_rows, row_groups=[group], columns=present
            )
            try:
                for batch in batches:
                    n = batch.num_rows
                    columns: list[list[str]] = []
                    wrong: list[str] = []
                    for name in REQUEST_COLUMNS:
                        values = _arrow_strings(batch.column(name)) if name in present else None
                        if values is None:
                            values = [""] * n
                            if name in present:
                                wrong.append(name)
                        columns.append(values)
                    flags = tuple(wrong)
                    first = row_number + 1
                    rows = zip(*columns, strict=True)
                    chunk = [build(first + i, row, flags) for i, row in enumerate(rows)]
                    row_number += n
                    done += n
                    self.rows_read = row_number
                    self.bytes_read = self.total_bytes * row_number // total_rows
                    yield chunk
            except (pa.ArrowException, OSError):
                # A damaged row group: its unread rows are still rows of the request.
                blank = [""] * len(REQUEST_COLUMNS)
                while done < expected:
                    n = min(self.chunk_rows, expected - done)
                    first = row_number + 1
                    yield [build(first + i, blank, (ROW_FIELD,)) for i in range(n)]
                    row_number += n
                    done += n
                    self.rows_read = row_number


class _RowBuilder:
    """Maps one row's cells to a ``RawRecord``: strip, check, make safe, cut to length."""

    def __init__(self, columns: Sequence[str], max_field_length: int) -> None:
        index = {name: i for i, name in reversed(list(enumerate(columns)))}
        # ``pick(cells + [""])``: values in REQUEST_COLUMNS order, absent columns at -1.
        self.pick: Callable[[list[str]], tuple[str, ...]] = operator.itemgetter(
            *(index.get(name, -1) for name in REQUEST_COLUMNS)
        )
        self._ncols = len(columns)
        self._limit = max_field_length

    def from_cells(self, row_number: int, cells: list[str], broken: bool) -> RawRecord:
        """A CSV row; ``broken`` (or a wrong cell count) marks the whole row."""
        ncols = self._ncols
        if len(cells) != ncols:
            broken = True
            cells = cells[:ncols] + [""] * (ncols - len(cells))
        cells.append("")
        return self.from_values(row_number, self.pick(cells), (ROW_FIELD,) if broken else ())

    def from_values(
        self, row_number: int, values: Sequence[str], flags: tuple[str, ...]
    ) -> RawRecord:
        """Values in ``REQUEST_COLUMNS`` order; ``flags`` names fields known to be bad."""
        if not flags:
            joined = "".join(values)
            limit = self._limit
            clean = (joined.isascii() and joined.isprintable()) or not _BAD_CHARS.search(joined)
            if clean and (len(joined) <= limit or max(map(len, values)) <= limit):
                fields = dict(zip(REQUEST_COLUMNS, map(str.strip, values), strict=True))
                return RawRecord(row_number, fields)
        return self._slow(row_number, values, flags)

    def _slow(self, row_number: int, values: Sequence[str], flags: tuple[str, ...]) -> RawRecord:
        malformed = [ROW_FIELD] if ROW_FIELD in flags else []
        fields: dict[str, str] = {}
        for name, value in zip(REQUEST_COLUMNS, values, strict=True):
            bad = name in flags
            if _BAD_CHARS.search(value):
                value = _BAD_CHARS.sub(_REPLACEMENT, value)
                bad = True
            value = value.strip()
            if len(value) > self._limit:
                value = value[: self._limit]
                bad = True
            fields[name] = value
            if bad:
                malformed.append(name)
        return RawRecord(row_number, fields, tuple(malformed))


class _LineSource:
    """Physical lines for the csv module, remembering those of the current record.

    The csv module pulls exactly the lines of one record per ``next``, so the lines
    pulled since ``start_record`` are that record's; ``push_back`` returns lines to be
    parsed again. Lines over ``_LINE_CAP`` are cut (``overlong``); a record's lines are
    kept only while they total under ``_RECORD_CAP`` (else ``overflow``). ``trouble``
    says either happened.
    """

    __slots__ = ("_chars", "_pending", "_readline", "lines", "overflow", "overlong", "trouble")

    def __init__(self, stream: io.TextIOBase) -> None:
        self._readline = stream.readline
        self._pending: deque[str] = deque()
        self.lines: list[str] = []
        self._chars = 0
        self.overflow = self.overlong = self.trouble = False

    def __iter__(self) -> _LineSource:
        return self

    def __next__(self) -> str:
        if self._pending:
            line = self._pending.popleft()
        else:
            line = self._readline(_LINE_CAP)
            if not line:
                raise StopIteration
            if len(line) >= _LINE_CAP and not line.endswith(("\n", "\r")):
                while True:  # skip the rest of the physical line, in bounded pieces
                    rest = self._readline(_LINE_CAP)
                    if not rest or rest.endswith(("\n", "\r")):
                        break
                self.overlong = self.trouble = True
                line += "\n"
        if not self.overflow:
            self._chars += len(line)
            if self._chars > _RECORD_CAP:
                self.overflow = self.trouble = True
                self.lines = []
            else:
                self.lines.append(line)
        return line

    def start_record(self) -> None:
        self.lines = []
        self._chars = 0
        if self.trouble:
            self.overflow = self.overlong = self.trouble = False

    def push_back(self, lines: Sequence[str]) -> None:
        self._pending.extendleft(reversed(lines))


def _text_stream(raw: BinaryIO) -> io.TextIOWrapper:
    # The csv module's field limit is process-wide; it is set (not just raised) because
    # it is what stops an unbalanced quote from swallowing the rest of the file.
    csv.field_size_limit(_FIELD_LIMIT)
    # Undecodable bytes become lone surrogates, caught per field by _BAD_CHARS.
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")


def _first_record(src: _LineSource, reader: Iterator[list[str]]) -> list[str] | None:
    """The first non-blank record (the header), or None for an empty file."""
    while True:
        src.start_record()
        try:
            cells = next(reader)
        except StopIteration:
            return None
        except csv.Error:
            return ["\x00"]  # unreadable: fails the header check without naming a value
        if not _is_blank(cells):
            return cells


def _is_blank(cells: list[str]) -> bool:
    return not cells or (len(cells) == 1 and not cells[0].strip())


def _longest(cells: list[str] | None) -> int:
    return max(map(len, cells), default=0) if cells else 0


def _parse_alone(lines: Sequence[str], delimiter: str) -> list[str] | None:
    try:
        return next(csv.reader(lines, delimiter=delimiter), [])
    except csv.Error:
        return None


def _holds_rows(lines: Sequence[str], delimiter: str, ncols: int) -> bool:
    """Whether any of these lines is, on its own, a complete row of the file."""
    for line in lines:
        cells = _parse_alone([line], delimiter)
        if cells is not None and len(cells) == ncols:
            return True
    return False


def _binary_lines(raw: BinaryIO) -> Iterator[tuple[bytes, bool]]:
    """(line, overlong) per physical line; the BOM is dropped, long lines are cut."""
    first = True
    while True:
        line = raw.readline(_LINE_CAP)
        if not line:
            return
        if first:
            line = line.removeprefix(b"\xef\xbb\xbf")
            first = False
        overlong = len(line) >= _LINE_CAP and not line.endswith(b"\n")
        if overlong:
            while (rest := raw.readline(_LINE_CAP)) and not rest.endswith(b"\n"):
                pass
            line = b""
        yield line, overlong


def _jsonl_records(raw: BinaryIO) -> Iterator[tuple[bytes, bool]]:
    """(line, overlong) per JSON Lines record: every physical line but blank ones."""
    for line, overlong in _binary_lines(raw):
        if overlong or line.strip():
            yield line, overlong


def _parse_json(line: bytes) -> object:
    """A JSON Lines record, or None when it is not JSON (bad bytes stay as surrogates)."""
    text = line.decode("utf-8", "surrogateescape")
    try:
        return _decode_json(text)
    except (ValueError, RecursionError):
        return None


def _json_values(obj: dict[str, Any]) -> tuple[list[str], tuple[str, ...]]:
    """A record's values in ``REQUEST_COLUMNS`` order, and the names of wrong-typed ones."""
    raw = list(map(obj.get, REQUEST_COLUMNS))
    if _STR_OR_NULL.issuperset(map(type, raw)):  # the common case, kept fast
        return ["" if value is None else value for value in raw], ()
    values: list[str] = []
    wrong: list[str] = []
    for name, value in zip(REQUEST_COLUMNS, raw, strict=True):
        if isinstance(value, str):
            values.append(value)
        elif value is None:
            values.append("")
        elif isinstance(value, int) and not isinstance(value, bool):
            values.append(str(value))
        elif isinstance(value, float) and math.isfinite(value):
            values.append(repr(value))
        else:  # bool, non-finite number, array or object: wrong type
            values.append("")
            wrong.append(name)
    return values, tuple(wrong)


def _arrow_strings(column: pa.Array) -> list[str] | None:
    """A Parquet column as Python strings (null is ""); None when it cannot be text."""
    kind = column.type
    try:
        if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
            return _decode_all(column.to_pylist())
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            column = pc.cast(column, pa.string())
        try:
            values: list[str] = pc.fill_null(column, "").to_pylist()
        except UnicodeDecodeError:  # a string column holding invalid UTF-8
            values = _decode_all(pc.cast(column, pa.binary(), safe=False).to_pylist())
        return values
    except (pa.ArrowException, ValueError, TypeError):
        return None


def _decode_all(items: list[bytes | None]) -> list[str]:
    return ["" if b is None else b.decode("utf-8", "surrogateescape") for b in items]


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


def _unreadable(path: Path, exc: OSError) -> InputFileError:
    reason = exc.strerror or type(exc).__name__
    return InputFileError(str(path), f"cannot be read ({reason})")
