"""Schema 0008 on SQLite and PostgreSQL: the ledger key leaves the database for the
keyring, disclosure subjects are encrypted and indexed, and the downgrade reverses both
(issue 12, defect 1)."""

from __future__ import annotations

import stat
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, create_engine, inspect, text

from taxmatch.errors import StoreError
from taxmatch.store.accounting import batch_subjects, disclosures_about
from taxmatch.store.keys import Keyring
from taxmatch.store.migrations import MIGRATIONS_DIR
from taxmatch.store.models import batch_params, batches
from taxmatch.store.state import StateStore
from tests.unit.store.test_state import batch

OLD_KEY = bytes(range(7, 39))
TIN, REASON = "123456789", "Named in the removal file at this address since 2021"


def _alembic(conn: Connection, action: str, revision: str, keyring: Keyring | None) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = conn
    config.attributes["keyring"] = keyring
    getattr(command, action)(config, revision)


def _old_store(url: str) -> None:
    """A database as taxmatch left it before 0008: key in a table, subjects in clear."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            _alembic(conn, "upgrade", "0005", None)
            conn.execute(
                text("INSERT INTO ledger_key (id, secret, created_at) VALUES (1, :k, :t)"),
                {"k": OLD_KEY, "t": datetime.now(UTC)},
            )
            # a sealed batch: its subjects are disclosures made
            conn.execute(batches.insert(), batch_params(replace(batch(), status="done")))
            conn.execute(
                text(
                    "INSERT INTO disclosure_subjects (disclosure_id, batch_id, row_number, tin,"
                    " statute, relevance, fields, disclosed_at) VALUES ('D-2', 'B1', 2, :tin,"
                    " '8 U.S.C. 1326(a)', :why, 'zip', :t)"
                ),
                {"tin": TIN, "why": REASON, "t": datetime.now(UTC)},
            )
    finally:
        engine.dispose()


def _stored(url: str) -> tuple[str, str, str | None, set[str]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tin, why = conn.execute(text("SELECT tin, relevance FROM disclosure_subjects")).one()
            columns = {c["name"] for c in inspect(conn).get_columns("disclosure_subjects")}
            index = None
            if "tin_index" in columns:
                index = conn.execute(text("SELECT tin_index FROM disclosure_subjects")).scalar()
            return tin, why, index, set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def test_0008_moves_the_key_out_and_encrypts_subjects(state_url: str, tmp_path: Path) -> None:
    _old_store(state_url)
    keyring = Keyring(tmp_path / "old.keys", {})
    with StateStore(state_url, keyring) as state:  # upgrades 0005 -> 0008 on open
        assert state.ledger_key() == OLD_KEY
        assert [r.relevance for r in disclosures_about(state, TIN)] == [REASON]
        assert list(batch_subjects(state, "B1")) == [("D-2", TIN)]
    assert stat.S_IMODE(keyring.path.stat().st_mode) == 0o600
    tin, why, index, tables = _stored(state_url)
    assert "ledger_key" not in tables
    assert tin.startswith("tm1:")
    assert TIN not in tin
    assert why.startswith("tm1:")
    assert REASON not in why
    assert index is not None
    assert len(index) == 64
    with StateStore(state_url, keyring) as again:  # the key now comes from the keyring
        assert again.ledger_key() == OLD_KEY

    engine = create_engine(state_url)
    try:
        with engine.begin() as conn:
            _alembic(conn, "downgrade", "0005", keyring)
            assert conn.execute(text("SELECT secret FROM ledger_key")).scalar() == OLD_KEY
    finally:
        engine.dispose()
    tin, why, index, tables = _stored(state_url)
    assert (tin, why, index) == (TIN, REASON, None)


def test_0008_without_the_keyring_keeps_the_key_in_place(state_url: str) -> None:
    _old_store(state_url)
    engine = create_engine(state_url)
    try:
        with pytest.raises(StoreError, match="needs the store's keyring"), engine.begin() as conn:
            _alembic(conn, "upgrade", "head", None)
    finally:
        engine.dispose()
    assert "ledger_key" in _stored(state_url)[3]  # rolled back: nothing lost


def test_a_keyring_of_another_store_is_refused(state_url: str, tmp_path: Path) -> None:
    _old_store(state_url)
    other = Keyring(tmp_path / "other.keys", {})
    other.load(create=True)
    with pytest.raises(StoreError, match="another store's ledger key"):
        StateStore(state_url, other)
    assert "ledger_key" in _stored(state_url)[3]
