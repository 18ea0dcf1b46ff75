"""The command line: every command has help and is documented; errors are one line that
names the file and field, never a value."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from taxmatch.cli import main
from tests.integration.conftest import write_master

README = Path(__file__).resolve().parents[2] / "README.md"


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out: list[tuple[str, click.Command]] = []
    for name, cmd in group.commands.items():
        path = f"{prefix} {name}".strip()
        out.append((path, cmd))
        if isinstance(cmd, click.Group):
            out.extend(_commands(cmd, path))
    return out


COMMANDS = _commands(main)


@pytest.mark.parametrize(("path", "cmd"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_every_command_has_help_and_is_documented(path: str, cmd: click.Command) -> None:
    result = CliRunner().invoke(main, [*path.split(), "--help"])
    assert result.exit_code == 0
    assert (cmd.help or "").strip(), f"{path} has no help text"
    if not isinstance(cmd, click.Group):
        assert f"taxmatch {path}" in README.read_text(), f"{path} is not in the README"


def made_store(path: Path) -> Path:
    """An empty store (only store init, reference load and demo make one)."""
    assert CliRunner().invoke(main, ["store", "init", "--store", str(path)]).exit_code == 0
    return path


def test_missing_envelope_key_is_one_line_naming_the_key(tmp_path: Path) -> None:
    secret = "Zebulon Quackenbush"
    (tmp_path / "e.json").write_text(
        '{"requesting_agency": "ICE", "requesting_official": '
        '{"name": "' + secret + '", "title": 7}}'
    )
    (tmp_path / "r.csv").write_text("request_id\nA\n")
    result = CliRunner().invoke(
        main,
        [
            "batch",
            "run",
            "--store",
            str(made_store(tmp_path / "s")),
            "--requests",
            str(tmp_path / "r.csv"),
            "--envelope",
            str(tmp_path / "e.json"),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code != 0
    err = result.output.strip()
    assert len(err.splitlines()) == 1
    assert "e.json" in err
    assert secret not in err


def _batch_run(tmp_path: Path, requests_csv: str, *options: str) -> Result:
    """``batch run`` on a new store with a valid envelope and the given request file."""
    from tests.integration.conftest import write_envelope

    env = write_envelope(tmp_path / "e.json")
    (tmp_path / "r.csv").write_text(requests_csv)
    store = made_store(tmp_path / "s")
    return CliRunner().invoke(
        main,
        [
            "batch",
            "run",
            "--store",
            str(store),
            "--requests",
            str(tmp_path / "r.csv"),
            "--envelope",
            str(env),
            "--out",
            str(tmp_path / "o"),
            *options,
        ],
    )


def test_missing_request_column_names_the_column(tmp_path: Path) -> None:
    result = _batch_run(tmp_path, "request_id,first_name\nA,Zebulon\n")
    assert result.exit_code == 2
    assert "r.csv" in result.output
    assert "last_name" in result.output
    assert "Zebulon" not in result.output


def test_bad_as_of_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "generate",
            "requests",
            "--population",
            str(tmp_path),
            "--out",
            str(tmp_path),
            "--as-of",
            "tomorrow",
        ],
    )
    assert result.exit_code == 2
    assert "--as-of" in result.output


def test_batch_memory_limit_must_be_a_size(tmp_path: Path) -> None:
    result = _batch_run(tmp_path, "request_id\nA\n", "--memory-limit", "lots")
    assert result.exit_code == 2
    assert "TM130" in result.output
    assert "memory limit" in result.output


def _reference_load(tmp_path: Path, *args: str) -> Result:
    master = write_master(tmp_path / "master.csv")
    store = str(tmp_path / "store")
    return CliRunner().invoke(main, ["reference", "load", "--store", store, *args, str(master)])


def test_reference_load_memory_limit_must_be_a_size(tmp_path: Path) -> None:
    result = _reference_load(tmp_path, "--memory-limit", "lots")
    assert result.exit_code == 2
    assert "TM130" in result.output
    assert "memory limit" in result.output


def test_reference_load_out_of_memory_is_tm900_naming_the_option(tmp_path: Path) -> None:
    result = _reference_load(tmp_path, "--memory-limit", "4MB")
    assert result.exit_code == 9
    assert "TM900" in result.output
    assert "reference load" in result.output
    assert "--memory-limit" in result.output
