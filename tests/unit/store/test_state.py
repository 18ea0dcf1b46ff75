"""The state database: migrations, batches, decisions, the ledger key and error wrapping.

Runs on SQLite and PostgreSQL (``state_url``); the ledger itself is tested in
``tests/unit/ledger/test_ledger_store.py``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Connection, create_engine, inspect, text
from sqlalchemy.exc import DBAPIError

from taxmatch.errors import BatchNotFound, StoreError, StoreMissing
from taxmatch.ledger.chain import LedgerDraft
from taxmatch.store.database import keyring_for
from taxmatch.store.decision_rows import FIELDS, cells_of, insert_decisions
from taxmatch.store.migrations import MIGRATIONS_DIR, guard
from taxmatch.store.models import batch_params, batches, decisions, metadata
from taxmatch.store.state import STATE_FILE, BatchRow, DecisionRow, StateStore

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
SECRET = "SECRET-VALUE-7f3a"


def batch(batch_id: str = "B1", agency: str = "ICE", created: datetime = T0) -> BatchRow:
    return BatchRow(
        batch_id=batch_id,
        agency=agency,
        request_letter_id="LTR-1",
        input_sha256="a" * 64,
        envelope_sha256="b" * 64,
        policy_version="2026.1",
        policy_sha256="c" * 64,
        input_rows=4,
        status="queued",
        created_at=created,
        finished_at=None,
        counts={},
        package_dir=f"/out/{batch_id}",
        as_of=date(2026, 11, 30),
        matcher="exact/1",
        reference_id="ref-1",
        error_code=None,
    )


def decision(row_number: int, batch_id: str = "B1", request_id: str | None = None) -> DecisionRow:
    disclosed = row_number % 2 == 0
    return DecisionRow(
        batch_id=batch_id,
        row_number=row_number,
        request_id=request_id or f"R-{row_number}",
        disposition="disclosed" if disclosed else "rejected",
        outcome="DISCLOSED" if disclosed else None,
        reason_codes="" if disclosed else "R01;R03",
        fields="" if disclosed else "first_name;zip",
        disclosure_id=f"D-{row_number}" if disclosed else None,
        score=0.9995 if disclosed else None,
        person_key="e" * 64 if disclosed else None,
        # rejected rows: some cite no parseable statute (NULL, as rows before schema 0005)
        statute="8 U.S.C. 1326(a)"
        if disclosed
        else (None if row_number % 3 == 0 else "8 U.S.C. 1253(a)(1)"),
    )


def write(store: StateStore, batch_id: str, rows: Iterable[DecisionRow]) -> int:
    """Record ``rows`` as one chunk, as a batch run does; how many were new."""
    before = stored(store, batch_id)
    store.record_decisions(batch_id, list(rows), chunk=1)
    return stored(store, batch_id) - before


def stored(store: StateStore, batch_id: str) -> int:
    return sum(1 for _ in store.iter_decisions(batch_id))


# --- opening and migrations ---------------------------------------------------------------


def test_migrations_are_idempotent_and_match_the_models(state_url: str) -> None:
    StateStore(state_url).close()
    with StateStore(state_url) as store:  # second open: upgrade is a no-op
        assert store.ledger_head()[0] == 0
    engine = create_engine(state_url)
    try:
        with engine.connect() as conn:
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
            assert version == ["0013"]
            tables = set(inspect(conn).get_table_names())
            assert {
                "batches",
                "decisions",
                "ledger_entries",
                "ledger_head",
                "disclosure_subjects",
                "request_counts",
                "group_counts",
            } <= tables
            assert "ledger_key" not in tables  # the key lives in the keyring (0008)
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        engine.dispose()


def _alembic(conn: Connection, action: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = conn
    config.attributes["keyring"] = keyring_for(conn.engine.url)  # as StateStore passes it
    getattr(command, action)(config, revision)


def test_0005_adds_a_nullable_statute_to_existing_decisions(state_url: str) -> None:
    old = decision(2)
    engine = create_engine(state_url)
    try:
        with engine.begin() as conn:
            _alembic(conn, "upgrade", "0004")
            conn.execute(batches.insert(), batch_params(batch()))
            values = {k: v for k, v in zip(FIELDS, cells_of(old), strict=True) if k != "statute"}
            conn.execute(decisions.insert(), values)  # the 0004 columns only
    finally:
        engine.dispose()
    with StateStore(state_url) as store:  # upgrades 0004 -> 0005 on open
        assert [d.statute for d in store.iter_decisions("B1")] == [None]
        assert next(iter(store.iter_decisions("B1"))) == replace(old, statute=None)
        write(store, "B1", [decision(4), decision(3)])
        stored = {d.row_number: d.statute for d in store.iter_decisions("B1")}
        assert stored == {2: None, 3: None, 4: "8 U.S.C. 1326(a)"}
    engine = create_engine(state_url)
    try:
        with engine.begin() as conn:
            _alembic(conn, "downgrade", "0004")
            assert "statute" not in {c["name"] for c in inspect(conn).get_columns("decisions")}
            assert conn.execute(text("SELECT count(*) FROM decisions")).scalar_one() == 3
            _alembic(conn, "upgrade", "head")
            assert "statute" in {c["name"] for c in inspect(conn).get_columns("decisions")}
    finally:
        engine.dispose()


def test_unknown_schema_revision_is_refused(state_url: str) -> None:
    StateStore(state_url).close()
    engine = create_engine(state_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(StoreError, match="unknown to this taxmatch"):
        StateStore(state_url)


def test_open_defaults_to_sqlite_in_the_store_dir(tmp_path: Path) -> None:
    store_dir = tmp_path / "nested" / "store"
    with StateStore.open(store_dir, create=True) as store:
        assert store.backend == "sqlite"
    con = sqlite3.connect(store_dir / STATE_FILE)
    try:
        assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        con.close()


def test_open_with_url_overrides_the_store_dir(tmp_path: Path, state_url: str) -> None:
    # A store directory is still needed (reference, packages, keyring beside it), but it
    # holds no state database: an existing empty one is a store when a URL is given.
    (tmp_path / "store").mkdir()
    with StateStore.open(tmp_path / "store", state_url) as store:
        assert store.backend in {"sqlite", "postgresql"}
    assert not (tmp_path / "store" / STATE_FILE).exists()
    with pytest.raises(StoreMissing):  # never made by a command that opens one
        StateStore.open(tmp_path / "unused", state_url)
    assert not (tmp_path / "unused").exists()


def test_sqlite_connections_enforce_foreign_keys(tmp_path: Path) -> None:
    with StateStore(f"sqlite+pysqlite:///{tmp_path / 's.sqlite3'}") as store:
        with store._engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 60_000
        with pytest.raises(BatchNotFound, match="batch NOPE"):
            write(store, "NOPE", [decision(1, "NOPE")])


@pytest.mark.parametrize(
    ("url", "match"),
    [("mysql://u@h/db", "SQLite or PostgreSQL"), ("not a url", "opening the state database")],
)
def test_bad_urls_are_store_errors(url: str, match: str) -> None:
    with pytest.raises(StoreError, match=match):
        StateStore(url)


def test_in_memory_sqlite_works(tmp_path: Path) -> None:
    with StateStore("sqlite://") as store:
        store.create_batch(batch())
        assert store.find_batch("B1") is not None


# --- batches ------------------------------------------------------------------------------


def test_batch_round_trips(state_store: StateStore) -> None:
    row = batch(created=datetime(2026, 11, 30, 11, 0, 0, 5, tzinfo=timezone(timedelta(hours=2))))
    state_store.create_batch(row)
    found = state_store.find_batch("B1")
    assert found == replace(row, created_at=datetime(2026, 11, 30, 9, 0, 0, 5, tzinfo=UTC))
    assert found is not None
    assert found.created_at.tzinfo == UTC
    assert state_store.find_batch("B2") is None


def test_list_batches_orders_by_creation_and_filters_by_agency(state_store: StateStore) -> None:
    state_store.create_batch(batch("B2", created=T0 + timedelta(minutes=1)))
    state_store.create_batch(batch("B1"))
    state_store.create_batch(batch("B3", agency="FBI", created=T0 - timedelta(minutes=1)))
    assert [b.batch_id for b in state_store.list_batches()] == ["B3", "B1", "B2"]
    assert [b.batch_id for b in state_store.list_batches("ICE")] == ["B1", "B2"]
    assert state_store.list_batches("DEA") == []


def test_duplicate_batch_is_refused(state_store: StateStore) -> None:
    state_store.create_batch(batch())
    with pytest.raises(StoreError, match="batch B1 already exists"):
        state_store.create_batch(batch())


def test_set_batch_status_updates_only_what_is_given(state_store: StateStore) -> None:
    state_store.create_batch(batch())
    state_store.set_batch_status("B1", "running")
    state_store.set_batch_status("B1", "failed", error_code="TM300")
    failed = state_store.find_batch("B1")
    assert failed is not None
    assert (failed.status, failed.error_code, failed.finished_at) == ("failed", "TM300", None)
    state_store.set_batch_status("B1", "running")  # a restart clears the failure
    running = state_store.find_batch("B1")
    assert running is not None
    assert (running.status, running.error_code) == ("running", None)
    finished = T0 + timedelta(hours=1)
    state_store.set_batch_status(
        "B1", "done", counts={"DISCLOSED": 2, "REJECTED": 2}, finished_at=finished
    )
    done = state_store.find_batch("B1")
    assert done is not None
    assert (done.status, done.counts, done.finished_at) == (
        "done",
        {"DISCLOSED": 2, "REJECTED": 2},
        finished,
    )


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda s: s.set_batch_status("NOPE", "done"), BatchNotFound, "batch NOPE not found"),
        (lambda s: s.set_batch_status("B1", "finished"), StoreError, "status"),
        (
            lambda s: s.set_batch_status("B1", "done", finished_at=datetime(2026, 1, 1)),
            StoreError,
            "timezone",
        ),
        (
            lambda s: s.create_batch(batch("B9", created=datetime(2026, 1, 1))),
            StoreError,
            "timezone",
        ),
        (lambda s: s.create_batch(replace(batch("B9"), status="later")), StoreError, "status"),
        (lambda s: s.create_batch(replace(batch("B9"), counts={"x": "1"})), StoreError, "counts"),
    ],
)
def test_batch_misuse_is_refused(
    state_store: StateStore, call: object, error: type[Exception], match: str
) -> None:
    state_store.create_batch(batch())
    with pytest.raises(error, match=match):
        call(state_store)  # type: ignore[operator]


# --- decisions ----------------------------------------------------------------------------


def test_decisions_are_idempotent_on_batch_and_row(state_store: StateStore) -> None:
    state_store.create_batch(batch())
    assert write(state_store, "B1", [decision(i) for i in range(1, 6)]) == 5
    assert write(state_store, "B1", [decision(i) for i in range(1, 6)]) == 0
    changed = [decision(3, request_id="other"), decision(6), decision(7)]
    assert write(state_store, "B1", changed) == 2
    assert stored(state_store, "B1") == 7
    rows = {d.row_number: d for d in state_store.iter_decisions("B1")}
    assert rows[3] == decision(3)  # the first decision written stands


def test_a_decimal_score_is_stored_as_the_float_it_is(state_store: StateStore) -> None:
    """The exact matcher's SQL gives scores as DECIMAL; the store keeps them as floats."""
    state_store.create_batch(batch())
    row = replace(decision(2), score=Decimal("0.999"))  # type: ignore[arg-type]
    assert write(state_store, "B1", [row]) == 1
    stored = next(iter(state_store.iter_decisions("B1")))
    assert stored.score == 0.999
    assert type(stored.score) is float


def test_iter_decisions_pages_in_row_order(state_store: StateStore) -> None:
    state_store.create_batch(batch())
    state_store.create_batch(batch("B2"))
    order = [7, 1, 10, 3, 2, 9, 4, 8, 6, 5]
    write(state_store, "B1", (decision(i) for i in order))
    write(state_store, "B2", [decision(i, "B2") for i in (1, 2)])
    assert [d.row_number for d in state_store.iter_decisions("B1", chunk=3)] == list(range(1, 11))
    assert [d.row_number for d in state_store.iter_decisions("B1", chunk=5)] == list(range(1, 11))
    assert list(state_store.iter_decisions("B1"))[1] == decision(2)
    assert list(state_store.iter_decisions("NOPE")) == []
    with pytest.raises(StoreError, match="chunk"):
        list(state_store.iter_decisions("B1", chunk=0))
    with pytest.raises(StoreError, match="chunk"):
        list(state_store.iter_ledger(chunk=-1))


def test_delete_decisions_only_touches_one_batch(state_store: StateStore) -> None:
    state_store.create_batch(batch())
    state_store.create_batch(batch("B2"))
    write(state_store, "B1", [decision(1), decision(2)])
    write(state_store, "B2", [decision(1, "B2")])
    state_store.delete_decisions("B1")
    assert (stored(state_store, "B1"), stored(state_store, "B2")) == (0, 1)
    assert write(state_store, "B1", [decision(1)]) == 1


@pytest.mark.parametrize(
    ("row", "error", "match"),
    [
        (decision(1, "B2"), StoreError, "row 1 belongs to another batch"),
        (replace(decision(1), disposition="maybe"), StoreError, "disposition"),
        (replace(decision(2), outcome="GUESSED"), StoreError, "outcome"),
    ],
)
def test_bad_decisions_are_refused(
    state_store: StateStore, row: DecisionRow, error: type[Exception], match: str
) -> None:
    state_store.create_batch(batch())
    with pytest.raises(error, match=match):
        write(state_store, "B1", [row])
    with pytest.raises(BatchNotFound):
        write(state_store, "NOPE", [decision(1, "NOPE")])


# --- ledger key ---------------------------------------------------------------------------


def test_ledger_key_is_made_once_and_kept(state_url: str) -> None:
    with StateStore(state_url) as first, StateStore(state_url) as second:
        key = first.ledger_key()
        assert len(key) == 32
        assert second.ledger_key() == key
    with StateStore(state_url) as again:
        assert again.ledger_key() == key


# --- errors never carry values --------------------------------------------------------------


@pytest.mark.postgres
def test_database_errors_are_wrapped_without_values(postgres_url: str) -> None:
    with StateStore(postgres_url) as store:
        store.create_batch(batch())
        bad = replace(decision(2), score=SECRET)  # type: ignore[arg-type]
        with (
            pytest.raises(StoreError) as info,
            store.writing("write_decisions", StoreError) as conn,
        ):
            insert_decisions(conn, [cells_of(bad)])
    message = str(info.value)
    assert message.startswith("TM300: write_decisions failed (")
    assert SECRET not in message
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_guard_drops_the_dbapi_message() -> None:
    orig = Exception(f"duplicate key: Key (request_id)=({SECRET})")
    with pytest.raises(StoreError) as info, guard("write_decisions"):
        raise DBAPIError("INSERT INTO decisions ...", {"request_id": SECRET}, orig)
    assert str(info.value) == "TM300: write_decisions failed (Exception)"
    assert info.value.__cause__ is None


def test_0011_voids_the_disclosure_entries_of_old_unfinished_and_resumed_runs(
    state_url: str,
) -> None:
    """A ledger as older versions wrote it: disclosure entries with the decisions, again
    for a resumed batch, and for a batch that never finished."""
    with StateStore(state_url) as store:
        for name in ("B1", "B2"):
            store.create_batch(batch(name))
            store.record_decisions(
                name, [cells_of(decision(n, name)) for n in range(1, 5)], chunk=1
            )
        store.set_batch_status("B1", "done", counts={"DISCLOSED": 2}, finished_at=T0)
        old = [("D-2", "B1"), ("D-4", "B1"), ("D-2", "B2"), ("D-2", "B1"), ("D-4", "B1")]
        store.append_ledger(
            [LedgerDraft("disclosure", "svc", "cli", True, did, {"batch_id": b}) for did, b in old]
        )
        seqs = [e.seq for e in store.iter_ledger() if e.event_type == "disclosure"]
    engine = create_engine(state_url)
    try:
        with engine.begin() as conn:
            _alembic(conn, "downgrade", "0010")
            _alembic(conn, "upgrade", "head")
            _alembic(conn, "downgrade", "0010")  # and again: nothing is voided twice
            _alembic(conn, "upgrade", "head")
    finally:
        engine.dispose()
    with StateStore(state_url) as store:
        entries = [e for e in store.iter_ledger() if e.event_type == "disclosures_voided"]
        voided = {(e.object_id, e.payload["why"]): e.payload["seqs"] for e in entries}
        assert len(entries) == 2
        assert store.verify_ledger().ok
    # D-2 of B2 is not made (B2 is not done); B1's first entries are superseded
    assert voided == {
        ("B1", "superseded"): [str(seqs[0]), str(seqs[1])],
        ("B2", "unsealed"): [str(seqs[2])],
    }
