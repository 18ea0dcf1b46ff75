"""``taxmatch store init``, ``taxmatch keys rotate``, and no store made by accident
(issue 12, defects 10 and 1)."""

from __future__ import annotations

import csv
import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from taxmatch.cli import main
from tests.integration.conftest import request_row

from .conftest import run_exact_batch

MARIA = "123456789"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize(
    "command",
    [
        ["ledger", "verify"],
        ["ledger", "export-head"],
        ["agency", "add", "ICE"],
        ["accounting", "report", "--year", "2026"],
        ["batch", "replay", "B1"],
        ["model", "train"],
        ["officer", "add", "ana", "--role", "auditor"],
        ["keys", "rotate"],
    ],
)
def test_no_command_but_the_makers_makes_a_store(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    mistyped = tmp_path / "taxmtach-data"
    result = invoke(*command, "--store", str(mistyped))
    assert result.exit_code == 4, result.output
    assert result.output.strip().splitlines() == [
        f"taxmatch: error TM303: store {mistyped} does not exist; make one with "
        "'taxmatch store init' or 'taxmatch reference load'"
    ]
    assert not mistyped.exists()
    default = invoke(*command)  # no --store: ./taxmatch-data, which is not there either
    assert default.exit_code == 4, default.output
    assert not (tmp_path / "taxmatch-data").exists()
    assert list(tmp_path.iterdir()) == []


def test_an_empty_directory_is_not_a_store(tmp_path: Path) -> None:
    result = invoke("ledger", "verify", "--store", str(tmp_path))
    assert result.exit_code == 4
    assert "is not a taxmatch store" in result.output
    assert not (tmp_path / "state.sqlite3").exists()


def test_store_init_makes_an_owner_only_store_with_its_keyring_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TAXMATCH_KEYRING")
    store = tmp_path / "store"
    old = os.umask(0o022)
    try:
        made = invoke("store", "init", "--store", str(store))
    finally:
        os.umask(old)
    assert made.exit_code == 0, made.output
    assert made.output.strip() == f"store {store} ready; keyring {tmp_path / 'store.keys'}"
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in [store, *store.iterdir()]}
    assert modes == {"store": 0o700, "state.sqlite3": 0o600} | {
        name: 0o600 for name in modes if name.startswith("state.sqlite3-")
    }
    assert stat.S_IMODE((tmp_path / "store.keys").stat().st_mode) == 0o600
    verified = invoke("ledger", "verify", "--store", str(store))
    assert verified.exit_code == 0
    assert verified.output.startswith("ledger ok: 0 entries")


def test_store_init_tightens_an_existing_store(tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert invoke("store", "init", "--store", str(store)).exit_code == 0
    (store / "batches").mkdir(mode=0o755)
    loose = store / "batches" / "old.csv"
    loose.write_text("x")
    os.chmod(loose, 0o644)
    os.chmod(store / "batches", 0o755)
    assert invoke("store", "init", "--store", str(store)).exit_code == 0
    assert stat.S_IMODE((store / "batches").stat().st_mode) == 0o700
    assert stat.S_IMODE(loose.stat().st_mode) == 0o600


def test_keys_rotate_reencrypts_and_accounting_still_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAXMATCH_KEYRING", str(tmp_path / "own.keys"))  # not the shared one
    store = tmp_path / "store"
    batch_id = run_exact_batch(tmp_path, store, [request_row(1)])["batch_id"]
    before = json.loads((tmp_path / "own.keys").read_text())

    rotated = invoke("keys", "rotate", "--store", str(store), "--data", "--ledger")
    assert rotated.exit_code == 0, rotated.output
    after = json.loads((tmp_path / "own.keys").read_text())
    # re-encrypted under the new key; the previous one stays until the next rotation
    assert [e["id"] for e in after["data"]][1:] == [before["data"][0]["id"]]
    assert after["data"][0]["id"] != before["data"][0]["id"]
    assert [e["id"] for e in after["ledger"]] == [
        rotated.output.split("ledger key now ")[1].split()[0],
        before["ledger"][0]["id"],
    ]  # the old ledger key stays, to verify what it made
    assert "1 values re-encrypted" in rotated.output
    for entry in (*before["data"], *after["data"], *after["ledger"]):
        assert entry["key"] not in rotated.output

    listed = invoke(
        "accounting", "batch", "--store", str(store), batch_id, "--out", str(tmp_path / "acc.csv")
    )
    assert listed.exit_code == 0, listed.output
    assert [r["tin"] for r in csv.DictReader((tmp_path / "acc.csv").open())] == [MARIA]
    found = invoke("accounting", "taxpayer", "--store", str(store), "--tin", MARIA, "--json")
    assert found.exit_code == 0
    assert batch_id in found.output
    verified = invoke("ledger", "verify", "--store", str(store))
    assert verified.exit_code == 0, verified.output
