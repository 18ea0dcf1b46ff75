"""The encoding of ``disclosure_subjects``' protected columns: the one place that
encrypts them on write (``subject_params``) and the one place that decrypts them on read
(``open_subject``), plus re-encryption under a new data key (``reseal_subjects``).

``tin`` and ``relevance`` are sealed (``taxmatch.store.sealed``) and bound to their row's
``disclosure_id``; ``tin_index`` is the TIN's blind index. Everything else in the row is
stored as given.

Must never: put a TIN or a stated reason into an error or log; write a row unsealed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import datetime

from sqlalchemy import Connection, select

from taxmatch.errors import StoreError
from taxmatch.store.keys import Keys
from taxmatch.store.models import Params, SubjectRow, disclosure_subjects
from taxmatch.store.sealed import blind_index, key_of, place, seal, unseal

_S = disclosure_subjects.c
_TABLE = "disclosure_subjects"
_PAGE = 1_000
_ROW = tuple(f.name for f in fields(SubjectRow))


def subject_params(batch_id: str, row: SubjectRow, moment: datetime, keys: Keys) -> Params:
    """The stored form of ``row``: TIN and stated reason encrypted, the TIN indexed."""
    if row.batch_id != batch_id:
        raise StoreError(f"disclosure {row.disclosure_id} belongs to another batch")
    if len(row.tin) != 9 or not row.tin.isdigit():
        raise StoreError(f"disclosure {row.disclosure_id}: tin must be 9 digits")
    values = {name: getattr(row, name) for name in _ROW}  # not ``asdict``: no deep copy
    return sealed_values({**values, "disclosed_at": moment}, keys)


def sealed_values(values: Mapping[str, object], keys: Keys) -> Params:
    """A plaintext ``disclosure_subjects`` row (column -> value) as it is stored."""
    did, tin = str(values["disclosure_id"]), str(values["tin"])
    return {
        **values,
        "tin": seal(keys, tin, place(_TABLE, "tin", did)),
        "relevance": seal(keys, str(values["relevance"]), place(_TABLE, "relevance", did)),
        "tin_index": blind_index(keys, tin),
    }


def insert_subjects(conn: Connection, params: Sequence[Params]) -> None:
    """Insert stored rows (``subject_params``'s) in one driver ``executemany``.

    SQLAlchemy's ``insert()`` processes every parameter of every row, which costs more
    than the insert: here each row is a tuple in column order, and a column whose type
    converts values (``disclosed_at``: ``UTCDateTime``, then the dialect's) converts each
    distinct value once, as ``insert()`` would (a seal's rows share one moment)."""
    if not params:
        return
    dialect = conn.dialect
    columns = list(disclosure_subjects.columns)
    converting = []
    for i, column in enumerate(columns):
        convert = column.type.dialect_impl(dialect).bind_processor(dialect)
        if convert is not None:
            converting.append((i, convert, dict[object, object]()))
    rows = []
    for row in params:
        cells = [row.get(column.name) for column in columns]
        for i, convert, seen in converting:
            value = cells[i]
            if value not in seen:
                seen[value] = None if value is None else convert(value)
            cells[i] = seen[value]
        rows.append(tuple(cells))
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    names = ", ".join(column.name for column in columns)
    marks = ", ".join(mark for _ in columns)
    conn.exec_driver_sql(f"INSERT INTO {_TABLE} ({names}) VALUES ({marks})", rows)


def open_subject(keys: Keys, disclosure_id: str, column: str, stored: str) -> str:
    """The plaintext of a stored ``tin`` or ``relevance``; ``StoreError`` naming the row."""
    return unseal(keys, stored, place(_TABLE, column, disclosure_id))


def tin_lookup(keys: Keys, tin: str) -> list[str]:
    """The ``tin_index`` values a lookup by ``tin`` matches: its index under every data
    key known (a rotation re-indexes every row, but one that failed half-way may not)."""
    return [blind_index(keys, tin, key) for _, key in keys.data]


def reseal_subjects(conn: Connection, keys: Keys) -> int:
    """Re-encrypt every row not sealed under the data key in use, and re-index its TIN;
    how many rows changed. ``keys`` must still know the keys the rows were sealed with."""
    kid, _ = keys.current("data")
    changed, last = 0, ""
    while True:
        page = conn.execute(
            select(_S.disclosure_id, _S.tin, _S.relevance)
            .where(_S.disclosure_id > last)
            .order_by(_S.disclosure_id)
            .limit(_PAGE)
        ).all()
        for disclosure_id, tin, relevance in page:
            if key_of(tin) == kid and key_of(relevance) == kid:
                continue
            plain = {
                "tin": open_subject(keys, disclosure_id, "tin", tin),
                "relevance": open_subject(keys, disclosure_id, "relevance", relevance),
            }
            values = sealed_values({"disclosure_id": disclosure_id, **plain}, keys)
            conn.execute(
                disclosure_subjects.update()
                .where(_S.disclosure_id == disclosure_id)
                .values({name: values[name] for name in ("tin", "relevance", "tin_index")})
            )
            changed += 1
        if len(page) < _PAGE:
            return changed
        last = page[-1][0]
