"""The one connection and transaction handling of the state database, on SQLite and
PostgreSQL: ``StateStore`` and ``ServiceStore`` run in the same ``reading`` and
``writing``; a read sees one snapshot, and a failure is the store's error naming the
operation, never a value."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from taxmatch.errors import LedgerError, StoreError, StoreMissing
from taxmatch.store.database import StateDatabase
from taxmatch.store.service import ServiceStore
from taxmatch.store.state import StateStore

SECRET = "555-12-3456"
ADD_ICE = text(
    "INSERT INTO agencies (agency_id, status, created_at, updated_at) "
    "VALUES ('ICE', 'active', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
)


@pytest.fixture
def stores(state_url: str) -> Iterator[tuple[StateStore, ServiceStore]]:
    with StateStore(state_url) as state, ServiceStore(state_url) as service:
        yield state, service


def _defined_in(kind: type, name: str) -> type:
    return next(cls for cls in kind.__mro__ if name in vars(cls))


def test_both_stores_run_in_the_one_definition() -> None:
    for name in ("reading", "writing", "open", "close", "backend"):
        assert _defined_in(StateStore, name) is StateDatabase, name
        assert _defined_in(ServiceStore, name) is StateDatabase, name


def test_a_read_sees_one_snapshot(stores: tuple[StateStore, ServiceStore]) -> None:
    for store in stores:
        with store.reading("isolation") as conn:
            if store.backend == "postgresql":
                level = conn.execute(text("SHOW transaction_isolation")).scalar_one()
                assert level == "repeatable read"
            else:
                assert conn.execute(text("SELECT 1")).scalar_one() == 1


def test_a_failed_write_names_the_operation_not_the_value(
    stores: tuple[StateStore, ServiceStore],
) -> None:
    state, service = stores
    bad = text("INSERT INTO no_such_table VALUES (:v)")
    with (
        pytest.raises(LedgerError, match="state write failed") as raised,
        state.writing("state write") as conn,
    ):
        conn.execute(bad, {"v": SECRET})
    assert SECRET not in str(raised.value)
    with (
        pytest.raises(StoreError, match="service write failed") as raised,
        service.writing("service write") as conn,
    ):
        conn.execute(bad, {"v": SECRET})
    assert not isinstance(raised.value, LedgerError)
    assert SECRET not in str(raised.value)


def test_a_failed_read_is_a_store_error(stores: tuple[StateStore, ServiceStore]) -> None:
    for store in stores:
        with pytest.raises(StoreError, match="bad read failed"), store.reading("bad read") as c:
            c.execute(text("SELECT * FROM no_such_table"))


def test_a_failed_write_commits_nothing(stores: tuple[StateStore, ServiceStore]) -> None:
    _, service = stores

    def half_written() -> None:
        with service.writing("half") as conn:
            conn.execute(ADD_ICE)
            conn.execute(text("SELECT * FROM no_such_table"))

    with pytest.raises(StoreError):
        half_written()
    assert service.get_agency("ICE") is None


def test_opening_a_missing_store_is_refused(tmp_path: Path) -> None:
    for kind in (StateStore, ServiceStore):
        with pytest.raises(StoreMissing):
            kind.open(tmp_path / "nowhere")
