"""CLI fixtures: the state database named by ``TAXMATCH_DATABASE_URL`` (SQLite and
PostgreSQL) and a store with the integration cast loaded and one batch run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from taxmatch.cli import main
from taxmatch.cli.common import get_settings
from tests.integration.conftest import (
    request_row,
    write_envelope,
    write_master,
    write_requests,
)

MARIA = "123456789"  # discloses (request_row(1) is Maria's)
ANH = "423456789"


@pytest.fixture
def cli_env(state_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("TAXMATCH_DATABASE_URL", state_url)
    get_settings.cache_clear()
    yield state_url
    get_settings.cache_clear()


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def run_exact_batch(tmp_path: Path, store: Path, rows: list[dict[str, str]]) -> dict[str, Any]:
    """Load the integration cast into ``store`` and run ``rows`` with the exact matcher
    (as of 2026-11-30, package under ``tmp_path/out``): the batch's summary."""
    master = write_master(tmp_path / "master.csv")
    assert invoke("reference", "load", "--store", str(store), str(master)).exit_code == 0
    requests = write_requests(tmp_path / "requests.csv", rows)
    envelope = write_envelope(tmp_path / "envelope.json")
    result = invoke(
        "batch",
        "run",
        "--store",
        str(store),
        "--requests",
        str(requests),
        "--envelope",
        str(envelope),
        "--out",
        str(tmp_path / "out"),
        "--as-of",
        "2026-11-30",
        "--matcher",
        "exact",
        "--json",
    )
    assert result.exit_code == 0, result.output
    summary: dict[str, Any] = json.loads(result.output)
    return summary


@pytest.fixture
def ran(cli_env: str, tmp_path: Path) -> tuple[Path, str, Path]:
    """A store with the cast loaded and one exact-matcher batch run: (store, batch, package)."""
    store = tmp_path / "store"
    rows = [
        request_row(1),
        request_row(
            2,
            first_name="Anh",
            last_name="Nguyen",
            street_address="9 Elm Street",
            unit="",
            city="Houston",
            state="TX",
            zip="77002",
        ),
        request_row(3, first_name=""),
    ]
    summary = run_exact_batch(tmp_path, store, rows)
    assert summary["counts"]["DISCLOSED"] == 2
    return store, summary["batch_id"], tmp_path / "out" / summary["batch_id"]
