"""Reading a request file's text in bounded memory: physical lines, CSV records and JSON
Lines records. A line or record over its cap is cut and flagged, never held whole; no
value read here ever goes into an error or a log.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO

from taxmatch.contracts import REQUEST_COLUMNS

# Memory bounds, in characters. A field larger than FIELD_LIMIT makes the csv module
# raise (the row is then malformed); a physical line longer than LINE_CAP is cut; one
# record's raw lines are kept for re-splitting only while they total under RECORD_CAP.
FIELD_LIMIT = 8 * 1024 * 1024
LINE_CAP = 16 * 1024 * 1024
RECORD_CAP = 32 * 1024 * 1024

_STR_OR_NULL = frozenset({str, type(None)})
_decode_json = json.JSONDecoder().decode


class LineSource:
    """Physical lines for the csv module, remembering those of the current record.

    The csv module pulls exactly the lines of one record per ``next``, so the lines
    pulled since ``start_record`` are that record's; ``push_back`` returns lines to be
    parsed again. Lines over ``LINE_CAP`` are cut (``overlong``); a record's lines are
    kept only while they total under ``RECORD_CAP`` (else ``overflow``). ``trouble``
    says either happened.
    """

    __slots__ = ("_chars", "_pending", "_readline", "lines", "overflow", "overlong", "trouble")

    def __init__(self, stream: io.TextIOBase) -> None:
        self._readline = stream.readline
        self._pending: deque[str] = deque()
        self.lines: list[str] = []
        self._chars = 0
        self.overflow = self.overlong = self.trouble = False

    def __iter__(self) -> LineSource:
        return self

    def __next__(self) -> str:
        if self._pending:
            line = self._pending.popleft()
        else:
            line = self._readline(LINE_CAP)
            if not line:
                raise StopIteration
            if len(line) >= LINE_CAP and not line.endswith(("\n", "\r")):
                while True:  # skip the rest of the physical line, in bounded pieces
                    rest = self._readline(LINE_CAP)
                    if not rest or rest.endswith(("\n", "\r")):
                        break
                self.overlong = self.trouble = True
                line += "\n"
        if not self.overflow:
            self._chars += len(line)
            if self._chars > RECORD_CAP:
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


def text_stream(raw: BinaryIO) -> io.TextIOWrapper:
    # The csv module's field limit is process-wide; it is set (not just raised) because
    # it is what stops an unbalanced quote from swallowing the rest of the file.
    csv.field_size_limit(FIELD_LIMIT)
    # Undecodable bytes become lone surrogates, caught per field by BAD_CHARS.
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")


def first_record(src: LineSource, reader: Iterator[list[str]]) -> list[str] | None:
    """The first non-blank record (the header), or None for an empty file."""
    while True:
        src.start_record()
        try:
            cells = next(reader)
        except StopIteration:
            return None
        except csv.Error:
            return ["\x00"]  # unreadable: fails the header check without naming a value
        if not is_blank(cells):
            return cells


def is_blank(cells: list[str]) -> bool:
    return not cells or (len(cells) == 1 and not cells[0].strip())


def longest(cells: list[str] | None) -> int:
    return max(map(len, cells or ()), default=0)


def parse_alone(lines: Sequence[str], delimiter: str) -> list[str] | None:
    try:
        return next(csv.reader(lines, delimiter=delimiter), [])
    except csv.Error:
        return None


def holds_rows(lines: Sequence[str], delimiter: str, ncols: int) -> bool:
    """Whether any of these lines is, on its own, a complete row of the file."""
    return any(len(parse_alone([line], delimiter) or ()) == ncols for line in lines)


def binary_lines(raw: BinaryIO) -> Iterator[tuple[bytes, bool]]:
    """(line, overlong) per physical line; the BOM is dropped, long lines are cut."""
    for n, line in enumerate(iter(functools.partial(raw.readline, LINE_CAP), b"")):
        if n == 0:
            line = line.removeprefix(b"\xef\xbb\xbf")
        overlong = len(line) >= LINE_CAP and not line.endswith(b"\n")
        if overlong:
            while (rest := raw.readline(LINE_CAP)) and not rest.endswith(b"\n"):
                pass
            line = b""
        yield line, overlong


def jsonl_records(raw: BinaryIO) -> Iterator[tuple[bytes, bool]]:
    """(line, overlong) per JSON Lines record: every physical line but blank ones."""
    for line, overlong in binary_lines(raw):
        if overlong or line.strip():
            yield line, overlong


def parse_json(line: bytes) -> object:
    """A JSON Lines record, or None when it is not JSON (bad bytes stay as surrogates)."""
    text = line.decode("utf-8", "surrogateescape")
    try:
        return _decode_json(text)
    except (ValueError, RecursionError):
        return None


def json_values(obj: dict[str, Any]) -> tuple[list[str], tuple[str, ...]]:
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
