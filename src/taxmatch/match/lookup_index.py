"""The lookup index: a snapshot's master records and person tables as memory-mapped Arrow
files, with, per key, sorted 64-bit hashes and the rows they come from.

Every blocking rule (``model.BLOCKING``) is a conjunction of equalities, so a request's
own keys fetch every master record any rule could pair it with: a superset of the
batch's candidates (a hash collision only adds a record, which the blocking then drops).
Built once per snapshot, beside it (``<snapshot>.lookup-<digest>/``). Never logs a value.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from taxmatch.errors import ReferenceSnapshotError, memory_size
from taxmatch.files.duck import attach, sql_path
from taxmatch.match.evidence import ADDRESS_FIELDS
from taxmatch.match.levels import RuleKey
from taxmatch.owner_only import make_dir, restrict_tree

INDEX_VERSION = "lookup-index-4"
Row = dict[str, Any]
Rows = npt.NDArray[np.uint64]  # row numbers in the master records' order
Mask = npt.NDArray[np.bool_]


def key_sql(cols: tuple[str, ...], alias: str) -> str:
    """A rule's key: a hash of its columns' values, null when any value is null (an
    equality with a null never pairs two records)."""
    parts = [f"{alias}.{c}" for c in cols]
    nulls = " OR ".join(f"{p} IS NULL" for p in parts)
    values = ", ".join(f"CAST({p} AS VARCHAR)" for p in parts)
    return f"CASE WHEN {nulls} THEN NULL ELSE hash({values}) END"


def index_path(snapshot: Path, keys: list[RuleKey]) -> Path:
    """The lookup index's directory beside ``snapshot``, named by a digest of everything its
    content depends on besides the snapshot: the rules, how keys are made, which person
    tables are kept by which keys, and DuckDB's version (``hash`` is only stable within one)."""
    text = json.dumps(
        [[[k.left, k.right] for k in keys], key_sql(("a", "b"), "m"), PERSON_TABLES, ALIGNED]
    )
    digest = hashlib.sha256(f"{INDEX_VERSION}|{duckdb.__version__}|{text}".encode()).hexdigest()
    return snapshot.with_name(f"{snapshot.stem}.lookup-{digest[:12]}")


# The person tables ``collapse`` reads, kept in the index with the keys a lookup fetches
# them by: the best person's rows, and every filer at that person's addresses.
ADDRESS_KEY = (
    "CASE WHEN house_number <> '' THEN hash('H', house_number, street, zip5) "
    "ELSE hash('P', po_box, zip5) END"
)
# A door in any ZIP (house number and street): the other filers there under other ZIPs.
DOOR_KEY = "hash('D', house_number, street)"
# A street, and a house number, in a ZIP: the other filers at nearby doors.
STREET_KEY = "hash('S', street, zip5)"
NUMBER_KEY = "hash('N', house_number, zip5)"
PERSON_TABLES: dict[str, dict[str, str]] = {
    "persons": {"pk": "hash(person_id)"},
    "person_names": {"pk": "hash(person_id)"},
    "filings": {"pk": "hash(person_id)"},
    "person_addresses": {"ak": ADDRESS_KEY, "dk": DOOR_KEY, "sk": STREET_KEY, "nk": NUMBER_KEY},
}
# Per row, the key a lookup goes on to fetch by (so that it need not ask DuckDB to hash
# it): a candidate's person, a filing's address and door.
ALIGNED: dict[str, dict[str, str]] = {
    "master_records": {"pk": "hash(person_id)"},
    "filings": {"ak": ADDRESS_KEY, "dk": DOOR_KEY, "sk": STREET_KEY, "nk": NUMBER_KEY},
}


class Keyed:
    """One table of the lookup index: its rows (a memory-mapped Arrow file) and, per key,
    the sorted key values with the row each comes from."""

    def __init__(self, directory: Path, name: str, keys: list[str]) -> None:
        self._source = pa.memory_map(str(directory / f"{name}.arrow"), "r")
        reader = pa.ipc.open_file(self._source)
        self.schema = reader.schema
        self.batches = [reader.get_batch(i) for i in range(reader.num_record_batches)]
        sizes = [b.num_rows for b in self.batches]
        self.starts = np.cumsum([0, *sizes[:-1]]).astype(np.uint64) if sizes else np.empty(0)
        self.keys = {k: np.load(directory / f"{name}.{k}.npy", mmap_mode="r") for k in keys}
        self.aligned = {
            k: np.load(directory / f"{name}.{k}.aligned.npy", mmap_mode="r")
            for k in ALIGNED.get(name, {})
        }

    def close(self) -> None:
        self.batches = []
        self.keys = {}
        self.aligned = {}
        self._source.close()

    def rows(self, wanted: Mapping[str, Sequence[int] | Rows]) -> Rows:
        """The row numbers, sorted and each once, of the rows whose key ``k`` is one of
        ``wanted[k]``, for any ``k``."""
        found: list[Rows] = []
        for key, values in wanted.items():
            pairs = self.keys[key]
            v = _distinct(np.asarray(values, dtype=np.uint64))  # sorted: near pages in turn
            lo, hi = np.searchsorted(pairs[0], v, "left"), np.searchsorted(pairs[0], v, "right")
            n = (hi - lo).astype(np.int64)
            # every position in [lo, hi) of every value, without a loop over the values
            at = np.repeat(lo.astype(np.int64) - (np.cumsum(n) - n), n) + np.arange(n.sum())
            found.append(pairs[1][at])
        return _distinct(np.concatenate(found)) if found else np.empty(0, np.uint64)

    def take_rows(self, rows: Rows) -> pa.Table:
        """The rows at ``rows`` (sorted row numbers), in the table's order. Taken batch by
        batch: a take across the whole (chunked) table would copy it."""
        if not len(rows):
            return self.schema.empty_table()
        which = np.searchsorted(self.starts, rows, "right") - 1
        taken = []
        for b in np.unique(which):
            local = rows[which == b] - self.starts[b]
            taken.append(self.batches[int(b)].take(pa.array(local, pa.uint64())))
        return pa.Table.from_batches(taken, self.schema)

    def take(self, wanted: Mapping[str, Sequence[int] | Rows]) -> tuple[pa.Table, Rows]:
        """The rows whose key ``k`` is one of ``wanted[k]``, for any ``k``, each once, and
        their row numbers, in the table's order (to index ``aligned`` with)."""
        rows = self.rows(wanted)
        return self.take_rows(rows), rows


def _distinct(values: Rows) -> Rows:
    """``values`` sorted, each once (by a sort: quicker than ``np.unique``'s hashing)."""
    ordered = np.sort(values)
    return (
        ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))] if len(ordered) else ordered
    )


INDEX_MEMORY_LIMIT = "1GB"  # DuckDB's limit while it sorts the keys, unless given one


def build_lookup_index(
    snapshot: Path, keys: list[RuleKey], *, memory_limit: str = INDEX_MEMORY_LIMIT
) -> Path:
    """The snapshot's lookup index for ``keys`` (one hashed key per blocking rule on
    ``master_records``; ``PERSON_TABLES``), built now if it is not there yet, DuckDB
    given ``memory_limit`` (beyond it, it spills to disk). Built in a temporary
    directory and renamed, so a reader never sees half an index and two processes
    building at once both end with a whole one."""
    memory_size(memory_limit)
    target = index_path(snapshot, keys)
    if target.exists():
        return target
    _sweep_partials(target)
    tmp = target.with_name(f"{target.name}.{uuid.uuid4().hex}.partial")
    make_dir(tmp)
    con = duckdb.connect()
    try:
        con.execute(f"SET memory_limit='{memory_limit}'")
        con.execute("SET threads=2")
        con.execute(f"SET temp_directory='{sql_path(tmp / 'spill')}'")  # the sorts spill
        attach(con, snapshot)
        rules = {f"k{i}": key_sql(k.right, "m") for i, k in enumerate(keys)}
        tables = {"master_records": rules, **PERSON_TABLES}
        for name, key_exprs in tables.items():
            _write_keyed(con, tmp, name, key_exprs, ALIGNED.get(name, {}))
        con.close()
        shutil.rmtree(tmp / "spill", ignore_errors=True)
        restrict_tree(tmp)
        try:
            os.replace(tmp, target)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            if not target.exists():
                raise
            # another process finished first: its index is as good
    except BaseException:
        con.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


PARTIAL_AGE_SECONDS = 6 * 3600


def _sweep_partials(target: Path) -> None:
    """Remove what builds of this index that died left behind (a build takes seconds to
    minutes; one untouched for hours is dead, not running in another process)."""
    now = time.time()
    for partial in target.parent.glob(f"{target.name}.*.partial"):
        try:
            if now - partial.stat().st_mtime > PARTIAL_AGE_SECONDS:
                shutil.rmtree(partial, ignore_errors=True)
        except OSError:
            continue


def _write_keyed(
    con: duckdb.DuckDBPyConnection,
    directory: Path,
    name: str,
    key_exprs: dict[str, str],
    aligned_sql: dict[str, str],
) -> None:
    """``name``'s rows as an Arrow file, and its keys, each sorted by DuckDB (which spills
    to disk beyond its memory limit) and streamed into a memory-mapped array: the build's
    memory is bounded by the connection's limit, not by the size of the table. A row's
    number is its ``rowid``, which the rows are written in the order of (a table the
    snapshot made at once, never deleted from, numbers its rows 0, 1, 2, ...)."""
    reader = con.sql(f"SELECT * FROM ref.{name} ORDER BY rowid").to_arrow_reader(200_000)
    with pa.ipc.new_file(str(directory / f"{name}.arrow"), reader.schema) as writer:
        for batch in reader:
            writer.write_batch(batch)
    rows, first, last = con.execute(
        f"SELECT count(*), min(rowid), max(rowid) FROM ref.{name}"
    ).fetchall()[0]
    if rows and (first, last) != (0, rows - 1):
        raise ReferenceSnapshotError("a reference table's rows are not numbered 0 to n - 1")
    for k, expr in key_exprs.items():
        keyed = (
            f"SELECT * FROM (SELECT {expr} AS k, rowid AS r FROM ref.{name} m) WHERE k IS NOT NULL"
        )
        (n,) = con.execute(f"SELECT count(*) FROM ({keyed})").fetchall()[0]
        pairs = np.lib.format.open_memmap(directory / f"{name}.{k}.npy", "w+", np.uint64, (2, n))
        _stream_into(con, f"{keyed} ORDER BY k, r", pairs)
        pairs.flush()
        del pairs
    for k, expr in aligned_sql.items():
        path = directory / f"{name}.{k}.aligned.npy"
        column = np.lib.format.open_memmap(path, "w+", np.uint64, (rows,))
        if _stream_into(con, f"SELECT {expr} FROM ref.{name} m ORDER BY rowid", column):
            raise ReferenceSnapshotError("a lookup index key is unexpectedly null")
        column.flush()
        del column


def _stream_into(con: duckdb.DuckDBPyConnection, sql: str, out: npt.NDArray[np.uint64]) -> int:
    """The column(s) of ``sql`` into ``out`` (one column: a vector; two: the rows of a
    2 x n array), a batch at a time; how many null values were met (written as 0)."""
    at, nulls = 0, 0
    for batch in con.sql(sql).to_arrow_reader(1_000_000):
        end = at + batch.num_rows
        for i, column in enumerate(batch.columns):
            nulls += column.null_count
            target = out[i] if out.ndim == 2 else out
            target[at:end] = np.asarray(column.fill_null(0), dtype=np.uint64)
        at = end
    return nulls


def people_of(
    master: Keyed, tables: dict[str, Keyed], ids: set[str], listed: list[Row], taken: Rows
) -> dict[str, list[Row]]:
    """The person tables' rows of the persons ``ids`` (candidates among ``listed``, the
    master records taken at rows ``taken``) and, of ``person_addresses``, the rows their
    evidence needs (``addresses_of``, as a batch chunk takes them)."""
    people: dict[str, list[Row]] = {name: [] for name in tables}
    if not ids:
        return people
    person_hash = master.aligned["pk"]  # beside each candidate, its person's key
    hashes = sorted(
        {
            int(person_hash[row])
            for row, c in zip(taken, listed, strict=True)
            if c["person_id"] in ids
        }
    )
    for name in ("persons", "person_names"):
        rows = tables[name].take({"pk": hashes})[0].to_pylist()
        # a 64-bit hash collision would add another person's rows: keep the persons'
        people[name] = [r for r in rows if r["person_id"] in ids]
    filings, filing_rows = tables["filings"].take({"pk": hashes})
    filed = [r for r in filings.to_pylist() if r["person_id"] in ids]
    people["filings"] = filed
    if filed:  # (another person's filings, of a hash collision, only add rows)
        people["person_addresses"] = addresses_of(tables, filing_rows, filings).to_pylist()
    return people


# Which rows of ``person_addresses`` a best person's evidence needs: those ``collapse``
# gathers from (and ``lookup_judge`` reads), defined once for a single lookup
# (``people_of``) and a batch chunk (``chunk_ref``).


def addresses_of(tables: Mapping[str, Keyed], rows: Rows, filings: pa.Table) -> pa.Table:
    """The ``person_addresses`` rows the evidence of the persons of ``filings`` (the
    index's ``filings`` rows at ``rows``: every filing of theirs) needs, each once:
    ``filed_keys``'s, then, of the persons' own rows among them, ``variant_keys``'."""
    addresses = tables["person_addresses"]
    aligned = tables["filings"].aligned
    if not filings.num_rows:
        return addresses.schema.empty_table()
    door = pc.fill_null(pc.not_equal(filings.column("house_number"), ""), False)
    doors = door.to_numpy(zero_copy_only=False)
    first = addresses.rows(filed_keys(aligned, rows, doors))
    reached = addresses.take_rows(first)
    one_year = doors & filed_in_one_year(filings, reached)
    if not one_year.any():
        return reached
    nearby = addresses.rows(variant_keys(aligned, rows, one_year))
    more = np.setdiff1d(nearby, first, assume_unique=True)
    return pa.concat_tables([reached, addresses.take_rows(more)]) if len(more) else reached


def filed_keys(aligned: Mapping[str, Rows], rows: Rows, doors: Mask) -> dict[str, Rows]:
    """The keys of every filer at a building of one of the filings at ``rows`` (``ak``:
    the persons' own addresses among them, their neighbours, units and co-filers), and
    at a filing's door (``doors``: a house number; a PO box is no door) under any ZIP
    (``dk``: who files there elsewhere)."""
    return {"ak": aligned["ak"][rows], "dk": aligned["dk"][rows][doors]}


def variant_keys(aligned: Mapping[str, Rows], rows: Rows, one_year: Mask) -> dict[str, Rows]:
    """The keys of every filer on the street and at the house number, in its ZIP, of a
    filing at ``rows`` at a door its person filed in one year only (``one_year``): where
    ``collapse`` looks for a variant of a one-off address. Not every door's street: at a
    batch's 100 000 persons that would be tens of millions of rows."""
    return {"sk": aligned["sk"][rows][one_year], "nk": aligned["nk"][rows][one_year]}


def filed_in_one_year(filings: pa.Table, addresses: pa.Table) -> Mask:
    """Per row of ``filings``, whether its address is one of its person's in ``addresses``
    with ``n_years = 1``. Nulls compare equal here, and a value with the separator in it
    may match another: either only takes more rows, never fewer."""
    once = addresses.select(["person_id", *ADDRESS_FIELDS]).filter(
        pc.equal(addresses.column("n_years"), 1)
    )
    wanted = _address_ids(once).combine_chunks()
    found = pc.is_in(_address_ids(filings), value_set=wanted)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.bool_)


def _address_ids(table: pa.Table) -> pa.ChunkedArray:
    """Each row's person and address (``ADDRESS_FIELDS``) as one string."""
    columns = [table.column(c) for c in ("person_id", *ADDRESS_FIELDS)]
    return pc.binary_join_element_wise(
        *columns, "\x1f", null_handling="replace", null_replacement="\x00"
    )
