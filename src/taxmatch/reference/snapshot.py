"""Reference snapshots: the custodian's master file (CSV or Parquet), loaded once into
DuckDB in chunks, each distinct name and address normalised once, as an immutable snapshot
``STORE/reference/<snapshot_id>.duckdb`` named by the content hash of its inputs.
``STORE/reference/CURRENT`` names the snapshot in force. The normalisation and the
``filings`` join may run elsewhere (``FilingsElsewhere``: the Spark engine), from the
same definitions (``NORMALISED``, ``filings_sql``); the snapshot is the same.

Never logs a value; errors name files and columns only.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from taxmatch.errors import InputFileError, ReferenceSnapshotError, memory_advice, memory_size
from taxmatch.files.duck import sql_path
from taxmatch.files.inputs import MASTER_SCHEMA, iter_master, sha256_file
from taxmatch.normalise import NORMALISE_VERSION, NormaliseStep, RowFunction
from taxmatch.normalise.address import parse_address, salvage_address
from taxmatch.normalise.names import normalise_name
from taxmatch.owner_only import make_dir, restrict, restrict_tree, write_private_text
from taxmatch.reference.persons import resolve_persons

REFERENCE_SCHEMA = "taxmatch/reference/v4"
_CHUNK = 50_000
LOAD_MEMORY_LIMIT = "2GB"  # DuckDB's limit while loading; beyond it, it spills to disk


@dataclass(frozen=True, slots=True)
class ReferenceInfo:
    snapshot_id: str
    path: Path
    filings: int
    tins: int
    source_sha256: tuple[str, ...]


# Builds ``filings`` elsewhere than in the snapshot's DuckDB: given the directory of the
# master's rows (Parquet of ``MASTER_SCHEMA``, read as ``raw``), ``NORMALISED``,
# ``filings_sql(cast_dates=False)`` and the directory to write its rows to as Parquet.
FilingsBuilder = Callable[[Path, Sequence[NormaliseStep], str, Path], None]


@dataclass(frozen=True, slots=True)
class FilingsElsewhere:
    """Where a load builds ``filings`` other than in DuckDB (the Spark engine): ``build``
    with its files under ``stage`` (a directory its workers see as this process does)."""

    build: FilingsBuilder
    stage: Path


def reference_dir(store: Path) -> Path:
    return store / "reference"


def current_reference(store: Path) -> ReferenceInfo:
    """The snapshot in force, or ReferenceSnapshotError when none was loaded."""
    pointer = reference_dir(store) / "CURRENT"
    if not pointer.exists():
        raise ReferenceSnapshotError(
            f"{store}: no reference loaded; run 'taxmatch reference load --store {store} FILE'"
        )
    snapshot_id = pointer.read_text(encoding="utf-8").strip()
    meta_path = reference_dir(store) / f"{snapshot_id}.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReferenceSnapshotError(f"{meta_path}: reference metadata unreadable") from exc
    if meta.get("schema") != REFERENCE_SCHEMA:
        raise ReferenceSnapshotError(f"{meta_path}: unknown reference schema version")
    return ReferenceInfo(
        snapshot_id=snapshot_id,
        path=reference_dir(store) / f"{snapshot_id}.duckdb",
        filings=int(meta["filings"]),
        tins=int(meta["tins"]),
        source_sha256=tuple(meta["source_sha256"]),
    )


def _name_row(raw: tuple[str, ...]) -> tuple[str, ...]:
    n = normalise_name(*raw)
    return (*raw, n.first, n.middle, n.last, n.suffix, n.last_key)


_ADDRESS_PARTS = attrgetter(
    "house_number", "street", "unit", "po_box", "city", "state", "zip5", "street_line"
)


def _address_row(raw: tuple[str, ...]) -> tuple[str, ...]:
    # A line that does not parse is kept as filed, without a house number: it will
    # not corroborate anything, but its city, state and ZIP still say where it is.
    return (*raw, *_ADDRESS_PARTS(parse_address(*raw).address or salvage_address(*raw)))


def _insert_normalised(
    con: duckdb.DuckDBPyConnection,
    table: str,
    select: str,
    normalise: RowFunction,
) -> None:
    """Each row of ``select`` and what ``normalise`` makes of it into ``table`` (by
    position), a chunk at a time."""
    cur = con.cursor()
    cur.execute(select)
    while rows := cur.fetchmany(_CHUNK):
        columns = zip(*map(normalise, rows), strict=True)
        normalised = pa.table({f"c{i}": list(c) for i, c in enumerate(columns)})
        con.from_arrow(normalised).insert_into(table)


def _snapshot_id(shas: Sequence[str]) -> str:
    salt = REFERENCE_SCHEMA + NORMALISE_VERSION
    digest = hashlib.sha256(("|".join(sorted(shas)) + salt).encode()).hexdigest()
    return f"ref-{digest[:16]}"


def load_reference(
    store: Path,
    files: Sequence[Path],
    *,
    progress: Callable[[int], None] | None = None,
    prepare: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
    prepare_version: str = "",
    memory_limit: str = LOAD_MEMORY_LIMIT,
    elsewhere: FilingsElsewhere | None = None,
) -> ReferenceInfo:
    """Load master files into a new snapshot and make it current. Idempotent per content.
    ``prepare`` adds what the matcher needs before the snapshot is sealed;
    ``prepare_version`` names it, so a changed preparation makes a new snapshot. DuckDB
    may use ``memory_limit``; beyond it, it spills to ``<store>/work/<snapshot>-spill``.
    ``elsewhere``: ``filings`` are built there (the same SQL and Python), then read into
    the snapshot, which is otherwise made as ever."""
    memory_size(memory_limit)
    if not files:
        raise InputFileError("reference load", "no master file given")
    shas = [sha256_file(p) for p in files]
    snapshot_id = _snapshot_id([*shas, prepare_version])
    rdir = reference_dir(store)
    make_dir(rdir)
    final = rdir / f"{snapshot_id}.duckdb"
    if final.exists() and (rdir / f"{snapshot_id}.json").exists():
        write_private_text(rdir / "CURRENT", snapshot_id)
        return current_reference(store)
    tmp = rdir / f"{snapshot_id}.duckdb.tmp"
    tmp.unlink(missing_ok=True)
    spill = store / "work" / f"{snapshot_id}-spill"
    make_dir(spill)
    try:
        with memory_advice("reference load", memory_limit, "--memory-limit"):
            filings, tins = _load(tmp, files, spill, memory_limit, progress, prepare, elsewhere)
    finally:
        shutil.rmtree(spill, ignore_errors=True)
    os.replace(tmp, final)
    meta = {
        "schema": REFERENCE_SCHEMA,
        "snapshot_id": snapshot_id,
        "source_sha256": shas,
        "filings": filings,
        "tins": tins,
    }
    write_private_text(rdir / f"{snapshot_id}.json", json.dumps(meta, indent=2))
    write_private_text(rdir / "CURRENT", snapshot_id)
    return current_reference(store)


def _load(
    tmp: Path,
    files: Sequence[Path],
    spill: Path,
    memory_limit: str,
    progress: Callable[[int], None] | None,
    prepare: Callable[[duckdb.DuckDBPyConnection], None] | None,
    elsewhere: FilingsElsewhere | None = None,
) -> tuple[int, int]:
    """The snapshot database at ``tmp``, built under ``memory_limit`` (``filings``
    perhaps ``elsewhere``): its filings and TINs."""
    con = duckdb.connect(str(tmp))
    try:
        con.execute(f"SET memory_limit='{memory_limit}'")
        con.execute(f"SET temp_directory='{str(spill).replace(chr(39), chr(39) * 2)}'")
        con.execute("SET preserve_insertion_order=false")
        if elsewhere is None:
            con.from_arrow(MASTER_SCHEMA.empty_table()).create("raw")
            _read(files, progress, lambda batch: con.from_arrow(batch).insert_into("raw"))
            _build_filings(con)
        else:
            _build_elsewhere(con, files, progress, elsewhere)
        if prepare is not None:
            prepare(con)
            con.execute("CHECKPOINT")
        counts = "SELECT count(*), count(DISTINCT tin) FROM filings"
        filings, tins = con.execute(counts).fetchall()[0]
    finally:
        con.close()
        for made in (tmp, tmp.with_name(tmp.name + ".wal")):
            restrict(made)  # DuckDB creates its files with the umask's mode
    return int(filings), int(tins)


# What a load normalises: each distinct name and address (SQL over ``raw``), made by the
# Python of ``_name_row`` / ``_address_row`` into a row of these columns (by position).
NAME_COLUMNS = (
    "raw_first",
    "raw_middle",
    "raw_last",
    "raw_suffix",
    "first_name",
    "middle_name",
    "last_name",
    "suffix",
    "last_key",
)
ADDRESS_COLUMNS = (
    "raw_street",
    "raw_unit",
    "raw_city",
    "raw_state",
    "raw_zip",
    "house_number",
    "street",
    "unit_n",
    "po_box",
    "city_n",
    "state_n",
    "zip5",
    "line1",
)
NORMALISED: tuple[NormaliseStep, ...] = (
    (
        "names",
        """SELECT DISTINCT coalesce(first_name,''), coalesce(middle_name,''),
                  coalesce(last_name,''), coalesce(suffix,'') FROM raw""",
        _name_row,
        NAME_COLUMNS,
    ),
    (
        "addrs",
        """SELECT DISTINCT coalesce(street_address,''), coalesce(unit,''), coalesce(city,''),
                  coalesce(state,''), coalesce(zip,'') FROM raw""",
        _address_row,
        ADDRESS_COLUMNS,
    ),
)
_DATES = ("date_of_birth", "date_of_death")


def _date(col: str, source: str = "r.") -> str:
    return f"TRY_CAST({source}{col} AS DATE) AS {col}"


def filings_sql(*, cast_dates: bool = True) -> str:
    """SQL: ``filings`` from ``raw`` and its normalised ``names`` and ``addrs``. Without
    ``cast_dates`` the dates stay the strings filed, for ``DATES_CAST`` to cast (another
    engine's cast from a string to a date accepts what DuckDB's refuses)."""
    dob, dod = (_date(c) if cast_dates else f"r.{c} AS {c}" for c in _DATES)
    return f"""SELECT regexp_replace(r.tin, '[^0-9]', '', 'g') AS tin,
                  CAST(r.tax_year AS INTEGER) AS tax_year,
                  n.first_name, n.middle_name, n.last_name, n.suffix, n.last_key,
                  {dob},
                  {dod},
                  a.house_number, a.street, a.unit_n AS unit, a.po_box,
                  a.city_n AS city, a.state_n AS state, a.zip5, a.line1,
                  r.phone
           FROM raw r
           JOIN names n ON n.raw_first = coalesce(r.first_name,'')
                AND n.raw_middle = coalesce(r.middle_name,'')
                AND n.raw_last = coalesce(r.last_name,'') AND n.raw_suffix = coalesce(r.suffix,'')
           JOIN addrs a ON a.raw_street = coalesce(r.street_address,'')
                AND a.raw_unit = coalesce(r.unit,'') AND a.raw_city = coalesce(r.city,'')
                AND a.raw_state = coalesce(r.state,'') AND a.raw_zip = coalesce(r.zip,'')"""


# ``filings_sql(cast_dates=False)``'s rows with their dates cast as ``filings_sql()`` does.
DATES_CAST = f"* REPLACE ({', '.join(_date(c, '') for c in _DATES)})"


def _read(
    files: Sequence[Path],
    progress: Callable[[int], None] | None,
    write: Callable[[pa.RecordBatch], object],
) -> None:
    """Each master file's rows (``MASTER_SCHEMA``) to ``write``, a chunk at a time."""
    rows = 0
    for path in files:
        for batch in iter_master(path, chunk_rows=_CHUNK):
            write(batch)
            rows += batch.num_rows
            if progress is not None:
                progress(batch.num_rows)
    if not rows:
        raise InputFileError(str(files[0]), "master file has no rows")


def _build_elsewhere(
    con: duckdb.DuckDBPyConnection,
    files: Sequence[Path],
    progress: Callable[[int], None] | None,
    elsewhere: FilingsElsewhere,
) -> None:
    """``filings`` built by ``elsewhere`` from the master's rows, read into ``con`` with
    their dates cast, then persons resolved: a private directory under its ``stage``
    holds the rows (names, addresses, TINs) only while it runs."""
    stage = make_dir(elsewhere.stage / f".load-{uuid.uuid4().hex}")
    try:
        raw, out = make_dir(stage / "raw"), stage / "filings"
        with pq.ParquetWriter(raw / "master.parquet", MASTER_SCHEMA) as writer:
            _read(files, progress, writer.write_batch)
        restrict_tree(raw)
        elsewhere.build(raw, NORMALISED, filings_sql(cast_dates=False), out)
        restrict_tree(out)
        parquet = f"read_parquet('{sql_path(out)}/*.parquet')"
        con.execute(f"CREATE TABLE filings AS SELECT {DATES_CAST} FROM {parquet}")
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    resolve_persons(con)
    con.execute("CHECKPOINT")


def _build_filings(con: duckdb.DuckDBPyConnection) -> None:
    """Normalise distinct names and addresses once, then join them back onto filings."""
    for table, select, normalise, columns in NORMALISED:
        con.execute(f"CREATE TABLE {table} ({', '.join(f'{c} VARCHAR' for c in columns)})")
        _insert_normalised(con, table, select, normalise)
    con.execute(f"CREATE TABLE filings AS {filings_sql()}")
    for table in ("raw", "names", "addrs"):
        con.execute(f"DROP TABLE {table}")
    resolve_persons(con)
    con.execute("CHECKPOINT")
