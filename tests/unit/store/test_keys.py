"""The keyring: outside the store, 0600, environment overrides, rotation, no key in any
message (issue 12, defect 1)."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from taxmatch.errors import StoreError
from taxmatch.store.keys import Keyring, key_id, keyring_path

KEY_A, KEY_B = bytes(range(32)), bytes(range(1, 33))


def test_default_path_is_beside_the_store_and_env_overrides(tmp_path: Path) -> None:
    assert keyring_path(tmp_path / "store", {}) == tmp_path / "store.keys"
    assert keyring_path(tmp_path / "store", {"TAXMATCH_KEYRING": "/k/r.keys"}) == Path("/k/r.keys")


def test_created_0600_with_both_kinds_and_read_back_the_same(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        keys = Keyring(tmp_path / "s.keys", {}).load(create=True)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "s.keys").stat().st_mode) == 0o600
    assert Keyring(tmp_path / "s.keys", {}).load() == keys
    assert len(keys.current("ledger")[1]) == len(keys.current("data")[1]) == 32
    assert keys.current("ledger")[0] == key_id("ledger", keys.current("ledger")[1])
    assert base64.b64encode(keys.current("data")[1]).decode() not in repr(keys)


def test_missing_keyring_is_an_error_naming_the_path(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"s\.keys not found"):
        Keyring(tmp_path / "s.keys", {}).load()


def test_environment_keys_come_first_and_bad_ones_are_named_not_shown(tmp_path: Path) -> None:
    env = {
        "TAXMATCH_LEDGER_KEY": KEY_A.hex(),
        "TAXMATCH_DATA_KEY": base64.b64encode(KEY_B).decode(),
    }
    keys = Keyring(tmp_path / "none.keys", env).load()  # no file needed
    assert (keys.current("ledger")[1], keys.current("data")[1]) == (KEY_A, KEY_B)
    assert not (tmp_path / "none.keys").exists()
    bad = "not-a-key-SECRET"
    with pytest.raises(StoreError) as info:
        Keyring(tmp_path / "none.keys", {**env, "TAXMATCH_DATA_KEY": f"{KEY_B.hex()},{bad}"}).load()
    assert "TAXMATCH_DATA_KEY: entry 2" in str(info.value)
    assert bad not in str(info.value)


def test_adopting_the_databases_ledger_key(tmp_path: Path) -> None:
    ring = Keyring(tmp_path / "s.keys", {})
    ring.adopt_ledger_key(KEY_A)
    ring.adopt_ledger_key(KEY_A)  # idempotent
    assert ring.load().ledger == ((key_id("ledger", KEY_A), KEY_A),)
    with pytest.raises(StoreError, match="another store's ledger key"):
        ring.adopt_ledger_key(KEY_B)


def test_rotation_puts_a_new_key_first_and_retire_drops_the_old(tmp_path: Path) -> None:
    ring = Keyring(tmp_path / "s.keys", {})
    first = ring.load(create=True)
    new_ledger = ring.rotate("ledger")
    new_data = ring.rotate("data")
    keys = ring.load()
    assert [kid for kid, _ in keys.ledger] == [new_ledger, first.current("ledger")[0]]
    assert [kid for kid, _ in keys.data] == [new_data, first.current("data")[0]]
    assert ring.retire("data", keep=2) == 0
    third = ring.rotate("data")
    assert ring.retire("data", keep=2) == 1  # the oldest goes, the previous one stays
    assert [kid for kid, _ in ring.load().data] == [third, new_data]


def test_a_tampered_entry_is_refused(tmp_path: Path) -> None:
    ring = Keyring(tmp_path / "s.keys", {})
    ring.load(create=True)
    doc = json.loads(ring.path.read_text())
    doc["data"][0]["id"] = "0" * 16
    ring.path.write_text(json.dumps(doc))
    with pytest.raises(StoreError, match="data key 1: its id does not match"):
        ring.load()


def test_an_open_store_seals_under_a_key_rotated_by_another_process(tmp_path: Path) -> None:
    from taxmatch.store.state import StateStore

    ring = Keyring(tmp_path / "s.keys", {})
    with StateStore(f"sqlite+pysqlite:///{tmp_path / 'state.sqlite3'}", ring) as state:
        before = state.keys.current("data")[0]
        rotated = Keyring(tmp_path / "s.keys", {}).rotate("data")  # "another process"
        assert rotated != before
        assert state.keys.current("data")[0] == rotated
