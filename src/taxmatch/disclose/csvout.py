"""Safe CSV output for the response package: atomic, hashed, formula-neutralised.

``SafeCsvWriter`` writes UTF-8 CSV with LF line endings to ``<path>.tmp`` and moves it
into place only on a clean close, so a reader never sees half a file. Every string cell
goes through ``neutralise`` first, so a value that a spreadsheet would run as a formula
(OWASP "CSV injection") is written as text. ``csv_stats`` gives a finished file's sha256
and data-row count for the manifest.

Must never: leave a partial file under the final name, write a string cell without
neutralising it, or put a cell value into an error or log.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from taxmatch.files.reader_text import FIELD_LIMIT
from taxmatch.owner_only import open_private

# A cell starting with one of these (after leading spaces) is a formula to a spreadsheet.
_FORMULA_STARTS = frozenset("=+-@\t\r")


def neutralise(value: str) -> str:
    """``value`` with a leading ``'`` if a spreadsheet would read it as a formula.

    Idempotent: a neutralised value starts with ``'`` and is returned unchanged.
    """
    for char in value:
        if char in _FORMULA_STARTS:
            return "'" + value
        if not char.isspace():
            return value
    return value


class SafeCsvWriter:
    """A CSV file written atomically: header first, rows as given, LF line endings.

    Use as a context manager. ``rows`` counts data rows. Leaving the block on an exception
    removes the temporary file and leaves any existing file at ``path`` untouched.
    """

    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        self.path = path
        self.columns = tuple(columns)
        self.rows = 0
        self._tmp = path.with_name(path.name + ".tmp")
        self._handle: BinaryIO | None = open_private(self._tmp, "wb")  # closed in close/abort
        self._write(self._handle, _format_row(self.columns))

    def __enter__(self) -> SafeCsvWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def write(self, row: Sequence[str | int | float | None]) -> None:
        """One data row; None is "", numbers are written plainly, strings neutralised."""
        self.write_many([row])

    def write_many(self, rows: Sequence[Sequence[str | int | float | None]]) -> None:
        """Data rows, in order, as ``write`` writes each, in one write to the file."""
        if self._handle is None:
            raise ValueError("write to a closed SafeCsvWriter")
        width = len(self.columns)
        for row in rows:
            if len(row) != width:
                raise ValueError(f"row has {len(row)} cells, the file has {width} columns")
        if rows:
            text = "".join([_format_row([_cell(value) for value in row]) for row in rows])
            self._write(self._handle, text)
            self.rows += len(rows)

    def _write(self, handle: BinaryIO, text: str) -> None:
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: the file stays valid UTF-8
            data = text.encode("utf-8", "replace")
        handle.write(data)

    def close(self) -> None:
        """Flush, sync and move the file into place. Idempotent."""
        if self._handle is None:
            return
        handle, self._handle = self._handle, None
        try:
            handle.flush()
            os.fsync(handle.fileno())
        finally:
            handle.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        """Drop the temporary file; the final path is not touched. Idempotent."""
        if self._handle is not None:
            handle, self._handle = self._handle, None
            handle.close()
            self._tmp.unlink(missing_ok=True)


def _format_row(cells: Sequence[str]) -> str:
    # Quoted when holding a delimiter, quote, CR or LF (the csv module in 3.11 leaves a
    # lone CR unquoted when the line ending is LF); a lone empty cell is quoted so the
    # row is not a blank line.
    if len(cells) == 1 and not cells[0]:
        return '""\n'
    return ",".join(_quote(cell) for cell in cells) + "\n"


_NEEDS_QUOTES = re.compile(r'[,"\r\n]')


def _quote(cell: str) -> str:
    if _NEEDS_QUOTES.search(cell):
        return '"' + cell.replace('"', '""') + '"'
    return cell


def _cell(value: str | int | float | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)  # a float's str is its repr: the shortest that reads back equal
    raise TypeError(f"a CSV cell must be str, int, float or None, not {type(value).__name__}")


def csv_stats(path: Path) -> tuple[str, int]:
    """(sha256, number of data rows) of a CSV file, counting quoted newlines correctly."""
    with open(path, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256")
    if csv.field_size_limit() < FIELD_LIMIT:
        csv.field_size_limit(FIELD_LIMIT)
    with open(path, encoding="utf-8", errors="replace", newline="") as text:
        records = sum(1 for record in csv.reader(text) if record)
    return digest.hexdigest(), max(records - 1, 0)
