"""The ledger as stored: append, verify, tamper evidence, triggers and concurrent appenders.

Runs on SQLite and PostgreSQL (``state_url``). Tampering goes through raw SQL on a
separate connection after switching the append-only triggers off, as an attacker with
database access would.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.exc import DBAPIError

from taxmatch.errors import LedgerError
from taxmatch.ledger.chain import (
    GENESIS,
    PROBLEM_HEAD,
    PROBLEM_MALFORMED,
    PROBLEM_SEQUENCE,
    LedgerDraft,
    link,
)
from taxmatch.store.state import StateStore

TEXT_COLUMNS = (
    "recorded_at",
    "event_type",
    "actor",
    "origin",
    "object_id",
    "payload",
    "prev_hash",
    "entry_hash",
)


def draft(i: int, who: str = "svc-1") -> LedgerDraft:
    return LedgerDraft(
        "record_decision",
        who,
        "cli",
        i % 3 != 0,
        f"REQ-{i}",
        {"batch_id": "B1", "rows": i, "share": i / 7, "codes": ["R01", "R05"], "note": None},
    )


def fill(store: StateStore, n: int) -> str:
    head = GENESIS
    for i in range(0, n, 3):
        head = store.append_ledger([draft(j) for j in range(i, min(n, i + 3))])
    return head


@contextmanager
def raw(url: str) -> Iterator[Connection]:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


@contextmanager
def triggers_off(url: str) -> Iterator[Connection]:
    """A transaction in which the append-only triggers do not fire."""
    with raw(url) as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            saved = conn.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
            ).all()
            for name, _ in saved:
                conn.exec_driver_sql(f"DROP TRIGGER {name}")
        else:
            for table in ("ledger_entries", "ledger_head"):
                conn.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        yield conn
        if sqlite:
            for _, sql in saved:
                conn.exec_driver_sql(sql)
        else:
            for table in ("ledger_entries", "ledger_head"):
                conn.exec_driver_sql(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def flip(value: str, position: int, mask: int) -> str:
    i = position % len(value)
    return value[:i] + chr(ord(value[i]) ^ mask) + value[i + 1 :]


# --- append and read back ----------------------------------------------------------------


def test_append_links_entries_and_moves_the_head(state_store: StateStore) -> None:
    assert state_store.ledger_head() == (0, GENESIS)
    moment = datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=UTC)
    head = state_store.append_ledger([draft(1), draft(2)], now=lambda: moment)
    assert state_store.ledger_head() == (2, head)
    entries = list(state_store.iter_ledger())
    assert [e.seq for e in entries] == [1, 2]
    assert entries[0].prev_hash == GENESIS
    assert entries[1].prev_hash == entries[0].entry_hash
    assert entries[1].entry_hash == head
    assert entries[0].recorded_at == "2026-11-30T12:00:00.123456Z"
    assert entries[0] == link(
        draft(1), seq=1, prev_hash=GENESIS, recorded_at=entries[0].recorded_at
    )
    assert entries[0].payload == {
        "batch_id": "B1",
        "codes": ["R01", "R05"],
        "note": None,
        "rows": 1,
        "share": 1 / 7,
    }
    result = state_store.verify_ledger()
    assert (result.ok, result.entries, result.head) == (True, 2, head)


def test_empty_append_changes_nothing(state_store: StateStore) -> None:
    assert state_store.append_ledger([]) == GENESIS
    head = state_store.append_ledger([draft(1)])
    assert state_store.append_ledger([]) == head
    assert state_store.ledger_head() == (1, head)


def test_iter_ledger_pages_in_seq_order(state_store: StateStore) -> None:
    fill(state_store, 10)
    assert [e.seq for e in state_store.iter_ledger(chunk=3)] == list(range(1, 11))
    entries = list(state_store.iter_ledger(chunk=4))
    assert [e.prev_hash for e in entries] == [GENESIS, *(e.entry_hash for e in entries[:-1])]
    assert state_store.ledger_head() == (10, entries[-1].entry_hash)


def test_bad_draft_or_clock_appends_nothing(state_store: StateStore) -> None:
    head = state_store.append_ledger([draft(1)])
    bad = LedgerDraft("disclosure", "svc-1", "cli", True, "D-1", {"tin": {"nested": "x"}})  # type: ignore[dict-item]
    with pytest.raises(LedgerError, match="'tin'"):
        state_store.append_ledger([draft(2), bad])
    with pytest.raises(LedgerError, match="timezone"):
        state_store.append_ledger([draft(2)], now=lambda: datetime(2026, 1, 1))
    assert state_store.ledger_head() == (1, head)
    assert state_store.verify_ledger().ok


# --- the database refuses changes ---------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_entries SET actor = 'someone-else' WHERE seq = 1",
        "DELETE FROM ledger_entries WHERE seq = 2",
        "DELETE FROM ledger_entries",
        "UPDATE ledger_head SET seq = 1",
        "DELETE FROM ledger_head",
    ],
)
def test_triggers_refuse_update_and_delete(
    state_store: StateStore, state_url: str, statement: str
) -> None:
    fill(state_store, 3)
    with pytest.raises(DBAPIError) as info, raw(state_url) as conn:
        conn.exec_driver_sql(statement)
    message = str(info.value.orig)
    assert "append-only" in message or "only moves forward" in message
    assert state_store.verify_ledger().ok
    assert state_store.ledger_head()[0] == 3


@pytest.mark.postgres
def test_postgres_refuses_truncate(postgres_url: str) -> None:
    with StateStore(postgres_url) as store:
        fill(store, 2)
        for table in ("ledger_entries", "ledger_head"):  # ledger_key left the database (0008)
            with pytest.raises(DBAPIError, match="append-only"), raw(postgres_url) as conn:
                conn.exec_driver_sql(f"TRUNCATE {table} CASCADE")
        assert store.verify_ledger().ok


# --- tampering with triggers off is caught ------------------------------------------------


def test_any_stored_field_change_is_caught_at_its_seq(
    state_store: StateStore, state_url: str
) -> None:
    n = 6
    fill(state_store, n)

    @settings(
        max_examples=12,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        seq=st.integers(1, n),
        column=st.sampled_from((*TEXT_COLUMNS, "seq", "success")),
        position=st.integers(0, 200),
        mask=st.integers(1, 127),
    )
    def check(seq: int, column: str, position: int, mask: int) -> None:
        with raw(state_url) as conn:
            old = conn.execute(
                text(f"SELECT {column} FROM ledger_entries WHERE seq = :s"), {"s": seq}
            ).scalar_one()
        if column == "seq":
            new: Any = seq + 1_000_000
            where = new
        else:
            new = (not old) if column == "success" else flip(old, position, mask)
            where = seq
            assume("\x00" not in str(new))
        with triggers_off(state_url) as conn:
            conn.execute(
                text(f"UPDATE ledger_entries SET {column} = :v WHERE seq = :s"),
                {"v": new, "s": seq},
            )
        result = state_store.verify_ledger()
        with triggers_off(state_url) as conn:
            conn.execute(
                text(f"UPDATE ledger_entries SET {column} = :v WHERE seq = :s"),
                {"v": old, "s": where},
            )
        assert not result.ok
        assert result.first_bad_seq == seq
        assert result.entries == seq - 1
        assert state_store.verify_ledger().ok

    check()


@pytest.mark.parametrize(
    ("seq", "problem"), [(1, PROBLEM_SEQUENCE), (3, PROBLEM_SEQUENCE), (5, PROBLEM_HEAD)]
)
def test_deleted_entry_is_caught(
    state_store: StateStore, state_url: str, seq: int, problem: str
) -> None:
    fill(state_store, 5)
    with triggers_off(state_url) as conn:
        conn.execute(text("DELETE FROM ledger_entries WHERE seq = :s"), {"s": seq})
    result = state_store.verify_ledger()
    assert (result.ok, result.first_bad_seq, result.problem) == (False, seq, problem)


def test_reordered_entries_are_caught(state_store: StateStore, state_url: str) -> None:
    fill(state_store, 5)
    with triggers_off(state_url) as conn:
        for a, b in ((2, -1), (4, 2), (-1, 4)):
            conn.execute(
                text("UPDATE ledger_entries SET seq = :b WHERE seq = :a"), {"a": a, "b": b}
            )
    result = state_store.verify_ledger()
    assert (result.ok, result.first_bad_seq) == (False, 2)


def test_forged_entry_beyond_the_head_is_caught(state_store: StateStore, state_url: str) -> None:
    head = fill(state_store, 4)
    forged = link(draft(99), seq=5, prev_hash=head, recorded_at="2026-11-30T00:00:00.000000Z")
    with raw(state_url) as conn:
        conn.execute(
            text(
                "INSERT INTO ledger_entries (seq, ledger_schema, recorded_at, event_type, actor, "
                "origin, success, object_id, payload, prev_hash, entry_hash) VALUES (:seq, "
                "'taxmatch/ledger/v1', :ra, :et, :ac, :og, :su, :ob, '{}', :ph, :eh)"
            ),
            {
                "seq": 5,
                "ra": forged.recorded_at,
                "et": forged.event_type,
                "ac": forged.actor,
                "og": forged.origin,
                "su": forged.success,
                "ob": forged.object_id,
                "ph": forged.prev_hash,
                "eh": forged.entry_hash,
            },
        )
    result = state_store.verify_ledger()
    assert (result.ok, result.first_bad_seq) == (False, 5)


def test_moved_head_is_caught_and_blocks_appends(state_store: StateStore, state_url: str) -> None:
    fill(state_store, 3)
    with triggers_off(state_url) as conn:
        conn.execute(text("UPDATE ledger_head SET seq = 2"))
    result = state_store.verify_ledger()
    assert (result.ok, result.problem, result.first_bad_seq) == (False, PROBLEM_HEAD, 3)
    with pytest.raises(LedgerError, match="ledger verify"):
        state_store.append_ledger([draft(9)])


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("payload", "not json"),
        ("payload", "[1]"),
        ("payload", '{"rows": 1}'),
        ("ledger_schema", "v0"),
    ],
)
def test_unreadable_row_is_reported_not_raised(
    state_store: StateStore, state_url: str, column: str, value: str
) -> None:
    fill(state_store, 3)
    with triggers_off(state_url) as conn:
        conn.execute(text(f"UPDATE ledger_entries SET {column} = :v WHERE seq = 2"), {"v": value})
    result = state_store.verify_ledger()
    assert (result.ok, result.first_bad_seq) == (False, 2)
    assert result.problem in {PROBLEM_MALFORMED, "entry_hash does not match the entry's content"}
    if result.problem == PROBLEM_MALFORMED:
        with pytest.raises(LedgerError, match="ledger entry 2"):
            list(state_store.iter_ledger())


# --- concurrency --------------------------------------------------------------------------


def test_concurrent_threads_keep_one_chain(state_url: str) -> None:
    stores = [StateStore(state_url), StateStore(state_url)]
    rounds = 15

    def work(worker: int) -> None:
        store = stores[worker % 2]
        for i in range(rounds):
            store.append_ledger([draft(i, f"w{worker}"), draft(i, f"w{worker}")])

    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            for future in [pool.submit(work, w) for w in range(4)]:
                future.result()
        result = stores[0].verify_ledger()
        assert result.ok
        assert result.entries == 4 * rounds * 2
        entries = list(stores[1].iter_ledger())
        for first, second in zip(entries[::2], entries[1::2], strict=True):
            assert (first.actor, first.object_id) == (second.actor, second.object_id)
    finally:
        for store in stores:
            store.close()


_CHILD = """
import sys
from taxmatch.ledger.chain import LedgerDraft
from taxmatch.store.state import StateStore
url, who, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with StateStore(url) as store:
    for i in range(n):
        store.append_ledger([LedgerDraft("e", who, "worker", True, str(i), {"i": i})])
"""


def test_concurrent_processes_keep_one_chain(state_url: str) -> None:
    StateStore(state_url).close()  # migrate once; concurrent first opens are not required
    children = [
        subprocess.Popen([sys.executable, "-c", _CHILD, state_url, f"p{k}", "20"]) for k in range(2)
    ]
    assert [child.wait(timeout=60) for child in children] == [0, 0]
    with StateStore(state_url) as store:
        result = store.verify_ledger()
        assert (result.ok, result.entries) == (True, 40)
