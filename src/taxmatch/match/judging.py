"""The rules on the rows ``collapse`` gathers: each row of a ``collapse_in`` batch read
into the rules' records (``evidence``) a column at a time and judged by ``rules.judge``;
and the readers of a request and an address key that the lookup and ``explain`` share.
Pure apart from Arrow; never logs a value.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from itertools import repeat
from typing import Any, TypeVar, cast

import pyarrow as pa
import pyarrow.compute as pc

from taxmatch.match.evidence import (
    Address,
    Best,
    Evidence,
    Filer,
    Filing,
    Key,
    Name,
    Outcome,
    Person,
    Request,
)
from taxmatch.match.rules import judge
from taxmatch.processes import collector_paused

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T", bound=tuple[Any, ...])

_OUTCOME_TYPES = {  # the rest are flags (booleans)
    **dict.fromkeys(("row_number", "candidates"), pa.int64()),
    **dict.fromkeys(("score", "margin_log2"), pa.float64()),
    "filing_year": pa.int32(),
    **dict.fromkeys(
        ("person_tin", "line1", "unit", "city", "state", "zip5", "phone", "address_mended"),
        pa.string(),
    ),
    "mended_from": pa.string(),
}
# ``outcomes`` in the column order of the ``Outcome`` record (one definition of the columns).
OUTCOME_SCHEMA = pa.schema([(n, _OUTCOME_TYPES.get(n, pa.bool_())) for n in Outcome._fields])


def judge_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``rules.judge`` on each row of a ``collapse_in`` batch, read a column at a time:
    the person tables' lists as records of their fields, never a dictionary per row."""
    column = batch.column
    requests = map(
        Request._make,
        zip(
            *(column(c).to_pylist() for c in Request._fields[:7]),
            map(_date, column("date_of_birth").to_pylist()),
            (tuple(t or ()) for t in column("tax_periods").to_pylist()),
            *(column(c).to_pylist() for c in Request._fields[9:]),
            strict=True,
        ),
    )
    ranked = ("p", "strong", "margin", "strong_all", "margin_all")  # ``Best``'s, in order
    with collector_paused():
        rows = zip(
            column("row_number").to_pylist(),
            column("person_id").to_pylist(),
            zip(*(column(c).to_pylist() for c in ranked), strict=True),
            column("has_person").to_pylist(),
            requests,
            column("nicknames").to_pylist(),
            column("fixes").to_pylist(),
            *(column(c).to_pylist() for c in ("tin", "deceased", "p_suffix", "p_dob")),
            _records(column("names"), Name),
            _records(column("addresses"), Address),
            _records(column("filings"), Filing),
            _records(column("neighbours"), tuple),
            _records(column("co_filed"), tuple),
            column("units").to_pylist(),
            _records(column("elsewhere"), tuple),
            _records(column("variants"), tuple),
            strict=True,
        )
        judged = []
        for rn, person_id, scores, has_person, request, nicknames, fixes, *rest in rows:
            if person_id is None:
                judged.append(judge(rn, request, None, None, (), ()))
                continue
            evidence = _evidence(person_id, *rest) if has_person else None
            best = Best(person_id, *scores)
            judged.append(judge(rn, request, best, evidence, nicknames or (), fixes or ()))
    return record_batch(judged, OUTCOME_SCHEMA)


def _evidence(
    person_id: str,
    tin: str | None,
    deceased: bool | None,
    suffix: str | None,
    dob: object,
    names: list[Name] | None,
    addresses: list[Address] | None,
    filings: list[Filing] | None,
    neighbours: list[tuple[Any, ...]] | None,
    co_filed: list[tuple[Any, ...]] | None,
    units: list[list[str | None]] | None,
    elsewhere: list[tuple[Any, ...]] | None,
    variants: list[tuple[Any, ...]] | None,
) -> Evidence:
    """The best person's ``Evidence`` from one gathered row's columns (``neighbours`` and
    ``co_filed``: an address key's fields, then the other filer's person id;
    ``elsewhere``: an address key's fields, then the other filer's ``Elsewhere``;
    ``variants``: an address key's fields, then the other filer's ``Filer``)."""
    return Evidence(
        person=Person(person_id, tin, deceased, suffix, _date(dob)),
        names=names or [],
        addresses=addresses or [],
        filings=filings or [],
        neighbours=grouped((n[:5], n[5]) for n in neighbours or ()),
        co_filed=grouped((c[5], c[:5]) for c in co_filed or ()),
        units_at=frozenset((u[0], u[1], u[2]) for u in units or ()),
        elsewhere=grouped((e[:5], e[5:]) for e in elsewhere or ()),
        variants=grouped((v[:5], Filer._make(v[5:])) for v in variants or ()),
    )


def _records(lists: pa.Array, record: type[T]) -> list[list[T] | None]:
    """A column of lists of structs as Python lists of ``record`` tuples of each struct's
    fields in order (None for a missing list)."""
    lengths = pc.list_value_length(lists).to_pylist()
    fields = [f.to_pylist() for f in lists.flatten().flatten()]
    if len(fields) != len(getattr(record, "_fields", fields)):
        raise TypeError("a gathered list whose fields are not the record's")
    # ``tuple.__new__`` as ``record._make`` makes it, less the Python call a record.
    items = cast(list[T], list(map(tuple.__new__, repeat(record), zip(*fields, strict=True))))
    out: list[list[T] | None] = []
    at = 0
    for n in lengths:
        if n is None:
            out.append(None)
        else:
            out.append(items[at : at + n])
            at += n
    return out


def record_batch(rows: Sequence[tuple[Any, ...]], schema: pa.Schema) -> pa.RecordBatch:
    """``rows`` (tuples in the schema's column order) as one record batch."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(schema)
    return pa.RecordBatch.from_arrays(
        [pa.array(c, type=f.type) for c, f in zip(columns, schema, strict=True)], schema=schema
    )


def request_of(row: Mapping[str, Any]) -> Request:
    """The checks' view of a valid row (``valid``'s columns)."""
    given = {c: row[c] for c in Request._fields}
    given["date_of_birth"] = _date(given["date_of_birth"])
    given["tax_periods"] = tuple(given["tax_periods"] or ())
    return Request(**given)


def _date(value: object) -> dt.date | None:
    if value is None or type(value) is dt.date:
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return dt.date(value.year, value.month, value.day)
    raise TypeError("a date of birth that is not a date")


def key_of(row: Mapping[str, Any]) -> Key:
    """A row's address as the tables key it (house number, street, unit, PO box, ZIP)."""
    return (row["house_number"], row["street"], row["unit"], row["po_box"], row["zip5"])


def grouped(pairs: Iterable[tuple[K, V]]) -> dict[K, frozenset[V]]:
    """Each first item with the set of second items paired with it."""
    out: dict[K, set[V]] = defaultdict(set)
    for k, v in pairs:
        out[k].add(v)
    return {k: frozenset(v) for k, v in out.items()}
