"""A batch's decision rows on their way into ``decisions``, in bulk.

A row travels as ``DecisionCells``: the values of a ``DecisionRow``'s fields, in field
order (a batch writes one per input row, and a tuple costs a fraction of a dataclass).
``checked`` is the one check of a row before it is stored; ``lines_of`` its digest lines
(``taxmatch.ledger.digest``), encoded once for the chunk's and the batch's digest;
``insert_decisions`` stores rows, keeping any already stored (SQLite: the driver's
executemany; PostgreSQL: COPY).

Must never put a row's values into an error (errors name the batch and the row number).
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import Any, Final

from sqlalchemy import Connection, Float

from taxmatch.contracts import Disposition, Outcome
from taxmatch.errors import StoreError
from taxmatch.ledger.digest import DecisionLines, decision_lines
from taxmatch.store.ledger_store import DIGESTED
from taxmatch.store.models import DecisionRow, decisions

FIELDS: Final = tuple(DecisionRow.__dataclass_fields__)  # also ``decisions``' column names
DecisionCells = tuple[Any, ...]  # a decision row's values, in ``FIELDS`` order
_BATCH, _ROW = FIELDS.index("batch_id"), FIELDS.index("row_number")
_DISPOSITION, _OUTCOME = FIELDS.index("disposition"), FIELDS.index("outcome")
_DISPOSITIONS = frozenset(d.value for d in Disposition)
_OUTCOMES = frozenset(o.value for o in Outcome)
_digested = itemgetter(*(FIELDS.index(name) for name in DIGESTED))
_STATUTE = FIELDS.index("statute")
_FLOATS = [i for i, name in enumerate(FIELDS) if isinstance(decisions.c[name].type, Float)]


def cells_of(row: DecisionRow) -> DecisionCells:
    return tuple(getattr(row, name) for name in FIELDS)


def checked(batch_id: str, cells: DecisionCells) -> DecisionCells:
    """``cells``, when they are a decision of ``batch_id`` with a known disposition and
    outcome; ``StoreError`` naming the row otherwise."""
    row_number = cells[_ROW]
    if cells[_BATCH] != batch_id:
        raise StoreError(f"decision row {row_number} belongs to another batch")
    if cells[_DISPOSITION] not in _DISPOSITIONS:
        raise StoreError(f"decision row {row_number}: unknown disposition")
    if cells[_OUTCOME] is not None and cells[_OUTCOME] not in _OUTCOMES:
        raise StoreError(f"decision row {row_number}: unknown outcome")
    return cells


def lines_of(rows: Sequence[DecisionCells]) -> DecisionLines:
    """The rows' digest lines, in order."""
    return decision_lines([(_digested(cells), cells[_STATUTE]) for cells in rows])


def insert_decisions(conn: Connection, rows: Sequence[DecisionCells]) -> int:
    """Insert decision rows, keeping any already stored; how many were new."""
    if conn.dialect.name == "postgresql":
        return _copy_decisions(conn, rows)
    # SQLite: the driver's executemany of one prepared statement (every column is text or
    # a number; a score may come as a Decimal, from the exact matcher's SQL, and is bound
    # as the float the column holds); what is new from the connection's count of changed
    # rows, since an ignored conflict changes none.
    marks = ", ".join("?" for _ in FIELDS)
    raw: Any = conn.connection.dbapi_connection
    before = int(raw.total_changes)
    cursor = raw.cursor()
    try:
        cursor.executemany(
            f"INSERT INTO decisions ({', '.join(FIELDS)}) VALUES ({marks}) "
            "ON CONFLICT (batch_id, row_number) DO NOTHING",
            [_bindable(cells) for cells in rows],
        )
    finally:
        cursor.close()
    return int(raw.total_changes) - before


def _bindable(cells: DecisionCells) -> DecisionCells:
    """``cells`` with the float columns' Decimals bound as floats."""
    if all(cells[i] is None or type(cells[i]) is float for i in _FLOATS):
        return cells
    bound = list(cells)
    for i in _FLOATS:
        bound[i] = None if bound[i] is None else float(bound[i])
    return tuple(bound)


def _copy_decisions(conn: Connection, rows: Sequence[DecisionCells]) -> int:
    """PostgreSQL bulk path, several times faster than multi-row INSERT for millions of
    rows: COPY into a temporary table, then insert what is new. A psycopg error is reduced
    to its type and SQLSTATE (never a row's values)."""
    import psycopg

    column_list = ", ".join(f'"{name}"' for name in FIELDS)
    conn.exec_driver_sql(
        "CREATE TEMP TABLE decisions_in (LIKE decisions INCLUDING DEFAULTS) ON COMMIT DROP"
    )
    cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(f"COPY decisions_in ({column_list}) FROM STDIN") as copy:
            for cells in rows:
                copy.write_row(cells)
    except psycopg.Error as exc:
        detail = f"{type(exc).__name__}, SQLSTATE {exc.sqlstate}"
        raise StoreError(f"write_decisions failed ({detail})") from None
    finally:
        cursor.close()
    inserted = conn.exec_driver_sql(
        f"INSERT INTO decisions ({column_list}) SELECT {column_list} FROM decisions_in "
        "ON CONFLICT (batch_id, row_number) DO NOTHING"
    )
    return int(inserted.rowcount)
