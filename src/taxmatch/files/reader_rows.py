"""Making a row safe to carry on: a row's raw values become a ``RawRecord`` with bad
bytes and control characters replaced, over-long values cut, and every such field named
in ``malformed``. Parquet columns arrive here as Python strings.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from taxmatch.contracts import REQUEST_COLUMNS, ROW_FIELD, RawRecord

# Control characters other than tab/LF/CR (C0, DEL, C1) and lone surrogates, which is
# how undecodable bytes arrive after ``surrogateescape`` (or a JSON "\udXXX" escape).
BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
REPLACEMENT = "\ufffd"


# A row as read, before it is made a ``RawRecord`` (``make_record``): its row number, its
# values in ``REQUEST_COLUMNS`` order and the fields known to be bad.
Row = tuple[int, Sequence[str], tuple[str, ...]]


class RowBuilder:
    """Maps one CSV row's cells to a ``Row`` in ``REQUEST_COLUMNS`` order (``make_record``
    then makes it safe)."""

    def __init__(self, columns: Sequence[str]) -> None:
        index = {name: i for i, name in reversed(list(enumerate(columns)))}
        # ``pick(cells + [""])``: values in REQUEST_COLUMNS order, absent columns at -1.
        self.pick: Callable[[list[str]], tuple[str, ...]] = operator.itemgetter(
            *(index.get(name, -1) for name in REQUEST_COLUMNS)
        )
        self._ncols = len(columns)

    def cells_row(self, row_number: int, cells: list[str], broken: bool) -> Row:
        """A CSV row; ``broken`` (or a wrong cell count) marks the whole row."""
        ncols = self._ncols
        if len(cells) != ncols:
            broken = True
            cells = cells[:ncols] + [""] * (ncols - len(cells))
        cells.append("")
        return row_number, self.pick(cells), (ROW_FIELD,) if broken else ()


def make_record(
    row_number: int, values: Sequence[str], flags: tuple[str, ...], limit: int
) -> RawRecord:
    """A ``Row``'s record: values stripped, bad characters replaced and values over
    ``limit`` characters cut, each such field (and each of ``flags``) named malformed."""
    if not flags:
        joined = "".join(values)
        clean = (joined.isascii() and joined.isprintable()) or not BAD_CHARS.search(joined)
        if clean and (len(joined) <= limit or max(map(len, values)) <= limit):
            fields = dict(zip(REQUEST_COLUMNS, map(str.strip, values), strict=True))
            return RawRecord(row_number, fields)
    malformed = [ROW_FIELD] if ROW_FIELD in flags else []
    fields = {}
    for name, value in zip(REQUEST_COLUMNS, values, strict=True):
        bad = name in flags
        if BAD_CHARS.search(value):
            value = BAD_CHARS.sub(REPLACEMENT, value)
            bad = True
        value = value.strip()
        if len(value) > limit:
            value = value[:limit]
            bad = True
        fields[name] = value
        if bad:
            malformed.append(name)
    return RawRecord(row_number, fields, tuple(malformed))


def arrow_strings(column: Any) -> list[str] | None:
    """A Parquet column as Python strings (null is ""); None when it cannot be text."""
    kind = column.type
    try:
        if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
            return decode_all(column.to_pylist())
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            column = pc.cast(column, pa.string())
        try:
            values: list[str] = pc.fill_null(column, "").to_pylist()
        except UnicodeDecodeError:  # a string column holding invalid UTF-8
            values = decode_all(pc.cast(column, pa.binary(), safe=False).to_pylist())
        return values
    except (pa.ArrowException, ValueError, TypeError):
        return None


def decode_all(items: list[bytes | None]) -> list[str]:
    return ["" if b is None else b.decode("utf-8", "surrogateescape") for b in items]
