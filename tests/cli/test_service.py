"""``taxmatch agency …``: a malformed agency name is bad input (exit 2, one line naming
the argument and the rule, never the value), refused before the store is touched."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from taxmatch.cli import main


@pytest.mark.parametrize("name", ["<script>", "ICE\n", "-ICE", "", "a" * 65, "ICE AGENCY"])
@pytest.mark.parametrize("command", ["add", "token", "revoke", "suspend", "resume"])
def test_a_malformed_agency_name_is_exit_2(tmp_path: Path, command: str, name: str) -> None:
    store = tmp_path / "store"
    made = CliRunner().invoke(main, ["store", "init", "--store", str(store)])
    assert made.exit_code == 0, made.output
    ok = CliRunner().invoke(main, ["agency", "add", "ICE", "--store", str(store)])
    assert ok.exit_code == 0, ok.output
    result = CliRunner().invoke(main, ["agency", command, "--store", str(store), "--", name])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("taxmatch: error TM130: agency name: must be")
    if name.strip():
        assert name.strip() not in lines[0]


def test_a_well_formed_unknown_agency_is_still_a_store_error(tmp_path: Path) -> None:
    store = tmp_path / "store"
    CliRunner().invoke(main, ["store", "init", "--store", str(store)])
    CliRunner().invoke(main, ["agency", "add", "ICE", "--store", str(store)])
    result = CliRunner().invoke(main, ["agency", "token", "CBP", "--store", str(store)])
    assert result.exit_code == 4
    assert result.stderr.strip() == "taxmatch: error TM310: agency CBP not found"
