"""Data at rest (issue 12, defect 1): after ``taxmatch demo`` and a batch run under umask
022, nothing in the store, the packages or the accounting/explain outputs is readable by
group or others, and no disclosed TIN or stated reason can be read from the state
database with ``sqlite3`` (neither in its raw bytes nor in any table).
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from taxmatch.cli import main
from tests.integration.conftest import request_row, write_envelope, write_master, write_requests

MARIA, ANH = "123456789", "423456789"
REASON = "Subject named in removal case file as residing at the listed address"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Under umask 022 and the default keyring location: ``demo``, then a batch of the
    cast with the accounting list and an explanation written. Paths by name."""
    root = tmp_path_factory.mktemp("at-rest")
    store, out = root / "store", root / "out"
    old_umask = os.umask(0o022)
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("TAXMATCH_KEYRING", raising=False)  # the default: beside the store
        patch.delenv("TAXMATCH_DATABASE_URL", raising=False)
        try:
            demo = invoke(
                "demo",
                "--store",
                str(store),
                "--out",
                str(root / "demo-out"),
                "--people",
                "300",
                "--rows",
                "40",
                "--seed",
                "7",
            )
            assert demo.exit_code == 0, demo.output
            master = write_master(root / "master.csv")
            assert invoke("reference", "load", "--store", str(store), str(master)).exit_code == 0
            rows = [
                request_row(1, relevance=REASON + " one"),
                request_row(
                    2,
                    first_name="Anh",
                    last_name="Nguyen",
                    street_address="9 Elm Street",
                    unit="",
                    city="Houston",
                    state="TX",
                    zip="77002",
                    relevance=REASON + " two",
                ),
            ]
            requests = write_requests(root / "requests.csv", rows)
            envelope = write_envelope(root / "envelope.json")
            ran = invoke(
                "batch",
                "run",
                "--store",
                str(store),
                "--requests",
                str(requests),
                "--envelope",
                str(envelope),
                "--out",
                str(out),
                "--as-of",
                "2026-11-30",
                "--matcher",
                "exact",
                "--json",
            )
            assert ran.exit_code == 0, ran.output
            batch_id = json.loads(ran.output)["batch_id"]
            accounting = root / "accounting.csv"
            listed = invoke(
                "accounting", "batch", "--store", str(store), batch_id, "--out", str(accounting)
            )
            assert listed.exit_code == 0, listed.output
            yield {
                "root": root,
                "store": store,
                "out": out,
                "demo_out": root / "demo-out",
                "accounting": accounting,
                "keyring": store.with_name("store.keys"),
            }
        finally:
            os.umask(old_umask)


def _loose(root: Path) -> list[str]:
    """Paths under ``root`` (itself included) that group or others can reach."""
    found = []
    for path in [root, *root.rglob("*")]:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            continue
        want = 0o700 if stat.S_ISDIR(info.st_mode) else 0o600
        if stat.S_IMODE(info.st_mode) & 0o077 or stat.S_IMODE(info.st_mode) != want:
            found.append(f"{path.relative_to(root.parent)} {oct(stat.S_IMODE(info.st_mode))}")
    return found


def test_nothing_in_the_store_is_readable_by_group_or_others(made: dict[str, Path]) -> None:
    store = made["store"]
    assert (store / "state.sqlite3").exists()
    assert any((store / "reference").iterdir())
    assert _loose(store) == []


def test_packages_and_accounting_outputs_are_owner_only(made: dict[str, Path]) -> None:
    for package_root in (made["out"], made["demo_out"]):
        assert _loose(package_root) == []  # --out made by taxmatch: 0700, files 0600
    assert stat.S_IMODE(made["accounting"].stat().st_mode) == 0o600


def test_explain_html_is_owner_only(made: dict[str, Path]) -> None:
    summary = next(made["demo_out"].glob("*/summary.json"))
    batch_id = json.loads(summary.read_text())["batch_id"]
    disclosed = list(csv.DictReader((summary.parent / "disclosed.csv").open()))
    assert disclosed, "the demo discloses someone"
    where = made["root"] / "explained"
    old_umask = os.umask(0o022)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.delenv("TAXMATCH_KEYRING", raising=False)
            result = invoke(
                "explain",
                "--store",
                str(made["store"]),
                "--batch",
                batch_id,
                "--request",
                disclosed[0]["request_id"],
                "--out",
                str(where),
            )
    finally:
        os.umask(old_umask)
    assert result.exit_code == 0, result.output
    assert _loose(where) == []
    assert len(list(where.iterdir())) == 2


def test_the_keyring_is_owner_only_and_outside_the_store(made: dict[str, Path]) -> None:
    keyring = made["keyring"]  # <store>.keys: beside the store, never in it
    assert stat.S_IMODE(keyring.stat().st_mode) == 0o600
    assert not keyring.resolve().is_relative_to(made["store"].resolve())


def test_no_tin_or_reason_is_readable_from_the_state_database(made: dict[str, Path]) -> None:
    listed = list(csv.DictReader(made["accounting"].open()))
    tins = {row["tin"] for row in listed}
    assert tins == {MARIA, ANH}  # the accounting command decrypts
    secrets = [*tins, REASON]
    held = json.loads(made["keyring"].read_text()) if made["keyring"].exists() else {}
    keys = [entry["key"] for kind in ("ledger", "data") for entry in held.get(kind, [])]
    state = made["store"] / "state.sqlite3"
    con = sqlite3.connect(state)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        assert "disclosure_subjects" in tables
        assert con.execute("SELECT count(*) FROM disclosure_subjects").fetchone()[0] >= 2
        for table in tables:
            for row in con.execute(f'SELECT * FROM "{table}"'):
                cells = " ".join(str(c) for c in row)
                leaked = [i for i, s in enumerate(secrets) if s in cells]
                assert not leaked, f"table {table}: protected value {leaked} in clear"
                assert not any(k in cells for k in keys), f"table {table}: a key in clear"
    finally:
        con.close()
    for path in state.parent.glob("state.sqlite3*"):
        raw = path.read_bytes()
        leaked = [i for i, s in enumerate(secrets) if s.encode() in raw]
        assert not leaked, f"{path.name}: protected value {leaked} in its bytes"
    assert "ledger_key" not in tables  # the HMAC key is not beside what it protects


def test_accounting_taxpayer_finds_by_tin_through_the_index(made: dict[str, Path]) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("TAXMATCH_KEYRING", raising=False)
        result = invoke(
            "accounting", "taxpayer", "--store", str(made["store"]), "--tin", MARIA, "--json"
        )
    assert result.exit_code == 0, result.output
    assert REASON + " one" in result.output
