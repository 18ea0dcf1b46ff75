"""A batch read through the lookup index decides as one read over the whole snapshot
(``taxmatch.match.chunk_ref``), and the index's row search is an exact search.

A generated population and its generated requests are run as a batch twice: as the
batch runs (each chunk's candidates, ranked persons and evidence taken from the index)
and with the index set aside (the blocking and the gathering SQL over the whole
snapshot). The packages (without ``disclosure_id``, which hashes the batch id) and the
decisions must be the same.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taxmatch.files.duck import attach
from taxmatch.generate import generate_population, generate_requests
from taxmatch.match import chunk_ref, collapse, probabilistic
from taxmatch.match.evidence import Request
from taxmatch.match.levels import RuleKey
from taxmatch.match.lookup_index import PERSON_TABLES, Keyed, index_path, people_of
from taxmatch.match.model import BLOCKING
from taxmatch.pipeline.batch import BatchRequest, run_batch
from taxmatch.pipeline.reference import load_reference_snapshot, train_current_model
from taxmatch.reference.snapshot import current_reference
from taxmatch.reference.workspace import BATCH_MEMORY_LIMIT
from taxmatch.store.state import StateStore

AS_OF = date(2026, 11, 30)
FILES = ("disclosed", "rejected", "unmatched", "pending")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("chunk-ref")
    generate_population(people=2500, years=(2019, 2025), seed=5, out=root / "pop")
    generate_requests(population=root / "pop", rows=600, seed=6, out=root / "req", as_of=AS_OF)
    store = root / "store"
    load_reference_snapshot(store, [root / "pop" / "master.parquet"])
    train_current_model(store)
    return store, root / "req"


def _run(
    store: Path, req: Path, tmp: Path, letter: str, memory_limit: str = BATCH_MEMORY_LIMIT
) -> tuple[dict[str, list[str]], list[str]]:
    envelope = json.loads((req / "envelope.json").read_text(encoding="utf-8"))
    path = tmp / f"envelope-{letter}.json"
    path.write_text(json.dumps({**envelope, "request_letter_id": letter}), encoding="utf-8")
    url = f"sqlite+pysqlite:///{tmp / f'state-{letter}.sqlite3'}"
    result = run_batch(
        BatchRequest(
            store=store,
            requests=req / "requests.csv",
            envelope=path,
            out=tmp / f"out-{letter}",
            as_of=AS_OF,
            database_url=url,
            workers=1,
            memory_limit=memory_limit,
        )
    )
    package: dict[str, list[str]] = {}
    for name in FILES:
        with (result.package / f"{name}.csv").open(newline="", encoding="utf-8") as fh:
            package[name] = [
                repr({k: v for k, v in row.items() if k != "disclosure_id"})
                for row in csv.DictReader(fh)
            ]
    with StateStore(url) as state:
        outcomes = [f"{d.row_number}:{d.outcome}" for d in state.iter_decisions(result.batch_id)]
    return package, outcomes


def test_a_batch_read_through_the_index_decides_as_over_the_whole_snapshot(
    generated: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, req = generated
    taken: list[int] = []
    evidence = chunk_ref.ChunkReference.evidence

    def counted(self: chunk_ref.ChunkReference, person_ids: str) -> None:
        taken.append(1)
        evidence(self, person_ids)

    found: list[bool] = []
    candidates = chunk_ref.ChunkReference.candidates

    def checked(self: chunk_ref.ChunkReference, requests: str) -> pa.Table | None:
        table = candidates(self, requests)
        found.append(table is not None)
        return table

    limits: list[str] = []
    build = chunk_ref.build_lookup_index

    def built(snapshot: Path, keys: list[RuleKey], *, memory_limit: str) -> Path:
        limits.append(memory_limit)
        return build(snapshot, keys, memory_limit=memory_limit)

    monkeypatch.setattr(chunk_ref.ChunkReference, "evidence", counted)
    monkeypatch.setattr(chunk_ref.ChunkReference, "candidates", checked)
    monkeypatch.setattr(chunk_ref, "build_lookup_index", built)
    indexed = _run(store, req, tmp_path, "indexed", memory_limit="1536MB")
    # the index (built here had `reference load` not built it) within the batch's limit
    assert limits
    assert set(limits) == {"1536MB"}
    assert taken  # the batch did read through the index
    assert found  # and found its candidates there (the key columns' types agree)
    assert all(found)
    monkeypatch.setattr(probabilistic, "declared_rules", lambda _settings: False)
    whole = _run(store, req, tmp_path, "whole")
    assert indexed == whole
    # The sample can fail meaningfully: it discloses, holds and finds no one.
    outcomes = Counter(o.split(":")[1] for o in indexed[1])
    assert {"DISCLOSED", "NO_MATCH"} <= set(outcomes)
    assert len(indexed[0]["disclosed"]) > 50


def _evidence(con: duckdb.DuckDBPyConnection, ref: str) -> list[str]:
    """``collapse_in`` gathered from ``ref``, each row's lists in a fixed order (the SQL
    does not order them)."""
    collapse._gather(con, ref)
    rows = con.sql("SELECT * FROM collapse_in ORDER BY row_number").to_arrow_table().to_pylist()
    return [
        repr({k: sorted(map(repr, v)) if isinstance(v, list) else v for k, v in r.items()})
        for r in rows
    ]


def _sample(con: duckdb.DuckDBPyConnection, every: int) -> None:
    """One in ``every`` of the snapshot's persons as requests' best persons
    (``collapse_best``, ``collapse_part``), the requests asking every year."""
    kinds_of = {"date_of_birth": "NULL::DATE", "tax_periods": "range(2015, 2026)"}
    fields = ", ".join(f"{kinds_of.get(c, 'NULL::VARCHAR')} AS {c}" for c in Request._fields)
    con.execute(
        f"""CREATE TEMP TABLE collapse_best AS
            SELECT row_number() OVER (ORDER BY person_id) AS row_number, person_id,
                   0.99 AS p, 1 AS strong, 10.0 AS margin, 1 AS strong_all,
                   10.0 AS margin_all
            FROM ref.persons WHERE hash(person_id) % {every} = 0;
            CREATE TEMP TABLE collapse_part AS
            SELECT row_number, {fields} FROM collapse_best;
            CREATE TEMP TABLE nick (first_name VARCHAR, nicknames VARCHAR[], fixes VARCHAR[])"""
    )


def test_persons_evidence_from_the_index_is_the_whole_snapshots(
    generated: tuple[Path, Path],
) -> None:
    """A quarter of the snapshot's persons taken as requests' best persons: what
    ``collapse`` gathers from the chunk's slice equals what it gathers from the whole
    snapshot, and the sample holds every kind of evidence (so the comparison can fail)."""
    store, _ = generated
    snapshot = current_reference(store).path
    with duckdb.connect() as con:
        attach(con, snapshot)
        _sample(con, 4)
        whole = _evidence(con, "ref")
        chunk = chunk_ref.ChunkReference(con, snapshot, list(BLOCKING))
        try:
            chunk.evidence("SELECT person_id FROM collapse_best")
            indexed = _evidence(con, chunk_ref.SCHEMA)
        finally:
            chunk.close()
        kinds = ("neighbours", "co_filed", "units", "elsewhere", "variants")
        held = con.execute(
            f"SELECT {', '.join(f'count({k})' for k in kinds)} FROM collapse_in"
        ).fetchone()
    assert held is not None
    assert all(held), dict(zip(kinds, held, strict=True))
    assert indexed == whole


def test_one_persons_evidence_from_a_chunk_or_a_lookup_is_the_whole_snapshots(
    generated: tuple[Path, Path],
) -> None:
    """Each person whose evidence holds another filer at their door under another ZIP
    or a variant of a one-off address (the rows beyond their buildings'), alone as a
    chunk's best person and as a single lookup's (``people_of``): ``collapse`` gathers
    from the rows taken (``lookup_index.addresses_of`` chooses them for both) what it
    gathers from the whole snapshot. Alone, so that no other person's keys reach a row
    this person's keys missed: leaving out any of the keys (``dk``, ``sk``, ``nk``) or
    the one-year doors fails here. Row numbers only in a failure."""
    store, _ = generated
    snapshot = current_reference(store).path
    index = index_path(snapshot, list(BLOCKING))
    master = Keyed(index, "master_records", [])
    tables = {t: Keyed(index, t, list(k)) for t, k in PERSON_TABLES.items()}
    with duckdb.connect() as con:
        attach(con, snapshot)
        _sample(con, 1)
        whole = dict(enumerate(_evidence(con, "ref"), start=1))
        picks = con.execute(
            """SELECT row_number, person_id FROM collapse_in
               WHERE elsewhere IS NOT NULL OR variants IS NOT NULL
               ORDER BY row_number"""
        ).fetchall()
        ways = con.execute(
            """SELECT count(*) FILTER (v.v_street = v.street),
                      count(*) FILTER (v.v_street <> v.street AND v.v_house_number = v.house_number)
               FROM (SELECT unnest(variants) AS v FROM collapse_in)"""
        ).fetchone()
        con.execute(
            "ALTER TABLE collapse_best RENAME TO sample_best; "
            "ALTER TABLE collapse_part RENAME TO sample_part; ATTACH ':memory:' AS lookup_ref"
        )
        chunk = chunk_ref.ChunkReference(con, snapshot, list(BLOCKING))
        pk = np.asarray(master.aligned["pk"])
        differ: dict[str, list[int]] = {"chunk": [], "lookup": []}  # row numbers only
        try:
            for row_number, person_id in picks:
                con.execute(
                    f"""CREATE OR REPLACE TEMP TABLE collapse_best AS
                        SELECT * FROM sample_best WHERE row_number = {row_number};
                        CREATE OR REPLACE TEMP TABLE collapse_part AS
                        SELECT * FROM sample_part WHERE row_number = {row_number}"""
                )
                chunk.evidence("SELECT person_id FROM collapse_best")
                if _evidence(con, chunk_ref.SCHEMA) != [whole[row_number]]:
                    differ["chunk"].append(row_number)
                ((h,),) = con.execute("SELECT hash(?)", [person_id]).fetchall()
                taken = np.flatnonzero(pk == np.uint64(h)).astype(np.uint64)
                listed = master.take_rows(taken).to_pylist()
                for name, rows in people_of(master, tables, {person_id}, listed, taken).items():
                    held = pa.Table.from_pylist(rows, schema=tables[name].schema)
                    con.register("lookup_rows", held)
                    con.execute(f"CREATE OR REPLACE TABLE lookup_ref.{name} AS FROM lookup_rows")
                if _evidence(con, "lookup_ref") != [whole[row_number]]:
                    differ["lookup"].append(row_number)
        finally:
            chunk.close()
            master.close()
            for keyed in tables.values():
                keyed.close()
    assert ways is not None
    assert all(ways), ways
    assert len(picks) > 20
    assert differ == {"chunk": [], "lookup": []}


def _keyed(tmp: Path, keys: list[int]) -> Keyed:
    """A one-key table of the lookup index's layout: row ``i`` has key ``keys[i]``."""
    table = pa.table({"i": list(range(len(keys)))})
    with pa.ipc.new_file(str(tmp / "t.arrow"), table.schema) as writer:
        for batch in table.to_batches(max_chunksize=7):  # several batches
            writer.write_batch(batch)
    values = np.asarray(keys, dtype=np.uint64)
    order = np.argsort(values, kind="stable")
    np.save(tmp / "t.k.npy", np.stack([values, np.arange(len(keys), dtype=np.uint64)])[:, order])
    return Keyed(tmp, "t", ["k"])


@settings(max_examples=60, deadline=None)
@given(
    keys=st.lists(st.integers(0, 20), min_size=1, max_size=60),
    wanted=st.lists(st.integers(0, 25), max_size=30),
)
def test_rows_are_every_row_of_a_wanted_key_once_in_order(
    tmp_path_factory: pytest.TempPathFactory, keys: list[int], wanted: list[int]
) -> None:
    keyed = _keyed(tmp_path_factory.mktemp("keyed"), keys)
    try:
        rows = keyed.rows({"k": wanted})
        assert rows.tolist() == [i for i, k in enumerate(keys) if k in set(wanted)]
        assert keyed.take_rows(rows).column("i").to_pylist() == rows.tolist()
    finally:
        keyed.close()
