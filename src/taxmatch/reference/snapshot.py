"""Reference snapshots: the custodian's master file (CSV or Parquet), loaded once into
DuckDB in chunks, each distinct name and address normalised once, as an immutable snapshot
``STORE/reference/<snapshot_id>.duckdb`` named by the content hash of its inputs.
``STORE/reference/CURRENT`` names the snapshot in force.

Never logs a value; errors name files and columns only.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path

import duckdb
import pyarrow as pa

from taxmatch.errors import InputFileError, ReferenceSnapshotError, memory_advice, memory_size
from taxmatch.files.inputs import MASTER_SCHEMA, iter_master, sha256_file
from taxmatch.normalise import NORMALISE_VERSION
from taxmatch.normalise.address import parse_address, salvage_address
from taxmatch.normalise.names import normalise_name
from taxmatch.owner_only import make_dir, restrict, write_private_text
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
    normalise: Callable[[tuple[str, ...]], tuple[str, ...]],
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
) -> ReferenceInfo:
    """Load master files into a new snapshot and make it current. Idempotent per content.
    ``prepare`` adds what the matcher needs before the snapshot is sealed;
    ``prepare_version`` names it, so a changed preparation makes a new snapshot. DuckDB
    may use ``memory_limit``; beyond it, it spills to ``<store>/work/<snapshot>-spill``."""
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
            filings, tins = _load(tmp, files, spill, memory_limit, progress, prepare)
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
) -> tuple[int, int]:
    """The snapshot database at ``tmp``, built under ``memory_limit``: its filings and
    TINs."""
    con = duckdb.connect(str(tmp))
    try:
        con.execute(f"SET memory_limit='{memory_limit}'")
        con.execute(f"SET temp_directory='{str(spill).replace(chr(39), chr(39) * 2)}'")
        con.execute("SET preserve_insertion_order=false")
        con.from_arrow(MASTER_SCHEMA.empty_table()).create("raw")
        rows = 0
        for path in files:
            for batch in iter_master(path, chunk_rows=_CHUNK):
                con.from_arrow(batch).insert_into("raw")
                rows += batch.num_rows
                if progress is not None:
                    progress(batch.num_rows)
        if not rows:
            raise InputFileError(str(files[0]), "master file has no rows")
        _build_filings(con)
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


def _build_filings(con: duckdb.DuckDBPyConnection) -> None:
    """Normalise distinct names and addresses once, then join them back onto filings."""
    con.execute(
        "CREATE TABLE names (raw_first VARCHAR, raw_middle VARCHAR, raw_last VARCHAR, "
        "raw_suffix VARCHAR, first_name VARCHAR, middle_name VARCHAR, last_name VARCHAR, "
        "suffix VARCHAR, last_key VARCHAR)"
    )
    _insert_normalised(
        con,
        "names",
        """SELECT DISTINCT coalesce(first_name,''), coalesce(middle_name,''),
                  coalesce(last_name,''), coalesce(suffix,'') FROM raw""",
        _name_row,
    )
    con.execute(
        "CREATE TABLE addrs (raw_street VARCHAR, raw_unit VARCHAR, raw_city VARCHAR, "
        "raw_state VARCHAR, raw_zip VARCHAR, house_number VARCHAR, street VARCHAR, "
        "unit_n VARCHAR, po_box VARCHAR, city_n VARCHAR, state_n VARCHAR, zip5 VARCHAR, "
        "line1 VARCHAR)"
    )
    _insert_normalised(
        con,
        "addrs",
        """SELECT DISTINCT coalesce(street_address,''), coalesce(unit,''), coalesce(city,''),
                  coalesce(state,''), coalesce(zip,'') FROM raw""",
        _address_row,
    )
    con.execute(
        """CREATE TABLE filings AS
           SELECT regexp_replace(r.tin, '[^0-9]', '', 'g') AS tin,
                  CAST(r.tax_year AS INTEGER) AS tax_year,
                  n.first_name, n.middle_name, n.last_name, n.suffix, n.last_key,
                  TRY_CAST(r.date_of_birth AS DATE) AS date_of_birth,
                  TRY_CAST(r.date_of_death AS DATE) AS date_of_death,
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
    )
    for table in ("raw", "names", "addrs"):
        con.execute(f"DROP TABLE {table}")
    resolve_persons(con)
    con.execute("CHECKPOINT")
