"""``taxmatch batch show`` and a batch's coverage by group: the tables with flagged groups
marked, ``--json``, and ``--coverage-csv`` (CSV_COLUMNS, one row per group; exit 6 when
the package has no coverage)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from click.testing import CliRunner

from taxmatch.cli import main
from taxmatch.disclose.package import read_summary
from taxmatch.policy.coverage import CSV_COLUMNS, GROUPS, coverage, csv_rows

from .conftest import MARIA, invoke

ITIN_FLAGGED = {
    "itin": {
        "DISCLOSED": 40,
        "NO_MATCH": 10,
        "REVIEW": 3,
        "REJECTED": 1,
        "probe_probes": 300,
        "probe_disclosed": 250,
        "probe_wrong_address": 12,
        "probe_findable": 280,
        "probe_found": 240,
        "flagged": 1,
    },
    "ssn": {"DISCLOSED": 4000, "probe_probes": 1700, "probe_disclosed": 1500},
}


def _rewrite(package: Path, **changes: object) -> None:
    """The package's summary.json with ``changes`` (None: the key removed)."""
    doc = {**read_summary(package), **changes}
    doc = {k: v for k, v in doc.items() if v is not None}
    (package / "summary.json").write_text(json.dumps(doc), encoding="utf-8")


def _show(store: Path, batch_id: str, *args: str) -> str:
    result = invoke("batch", "show", "--store", str(store), batch_id, *args)
    assert result.exit_code == 0, result.output
    return result.output


def test_batch_show_gives_the_coverage_tables(ran: tuple[Path, str, Path]) -> None:
    store, batch_id, package = ran
    cov = read_summary(package)["coverage"]
    assert [g["group"] for g in cov["groups"]] == [g.name for g in GROUPS]
    assert json.loads(_show(store, batch_id, "--json"))["coverage"] == cov
    text = _show(store, batch_id)
    assert "Coverage by group: rows by outcome" in text
    assert "Coverage by group: shadow probes" in text
    for column in ("not matched", "ambiguous", "probes", "95 % interval", "recall"):
        assert column in text
    for g in GROUPS:
        assert g.label in text
    assert "ceiling on a group's wrong-address rate: 1.00 %" in text  # the packaged policy
    assert "⚑" not in text  # three rows flag nothing
    assert MARIA not in text


def test_a_flagged_group_is_marked_and_named(ran: tuple[Path, str, Path]) -> None:
    store, batch_id, package = ran
    _rewrite(package, coverage=coverage(ITIN_FLAGGED, 0.01))
    text = _show(store, batch_id)
    assert "ITIN filers ⚑" in text
    assert "SSN filers ⚑" not in text
    assert "4.80 %" in text  # 12 wrong addresses of 250 disclosed probes
    assert "2.77 % – 8.20 %" in text
    assert "flagged" in text
    assert text.index("ITIN filers", text.index("⚑ flagged")) > 0  # named on the line
    _rewrite(package, coverage=coverage({}, None))
    assert "no ceiling on a group's wrong-address rate" in _show(store, batch_id)


def test_coverage_csv_has_a_row_per_group(ran: tuple[Path, str, Path], tmp_path: Path) -> None:
    store, batch_id, package = ran
    _rewrite(package, coverage=coverage(ITIN_FLAGGED, 0.01))
    out = tmp_path / "coverage.csv"
    result = CliRunner().invoke(
        main,
        ["batch", "show", "--store", str(store), batch_id, "--json", "--coverage-csv", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["batch_id"] == batch_id  # stdout stays the JSON
    assert f"coverage of {len(GROUPS)} groups written to {out}" in result.stderr
    assert out.stat().st_mode & 0o077 == 0
    with out.open(encoding="utf-8", newline="") as fh:
        header, *rows = list(csv.reader(fh))
    assert header == list(CSV_COLUMNS)
    assert [r[0] for r in rows] == [g.name for g in GROUPS]
    expected = csv_rows(read_summary(package)["coverage"])
    assert rows == [["" if v is None else str(v) for v in row] for row in expected]
    itin = dict(zip(header, rows[0], strict=True))
    assert (itin["rows"], itin["disclosed"], itin["not_matched"], itin["flagged"]) == (
        "54",
        "40",
        "10",
        "1",
    )
    assert float(itin["wrong_address_rate_estimate"]) == 12 / 250
    assert dict(zip(header, rows[2], strict=True))["recall_estimate"] == ""  # no probe


def test_coverage_csv_without_coverage_is_an_error(
    ran: tuple[Path, str, Path], tmp_path: Path
) -> None:
    store, batch_id, package = ran
    _rewrite(package, coverage=None)  # a package written before coverage groups
    out = tmp_path / "coverage.csv"
    result = CliRunner().invoke(
        main, ["batch", "show", "--store", str(store), batch_id, "--coverage-csv", str(out)]
    )
    assert result.exit_code == 6
    assert f"batch {batch_id} has no coverage by group" in result.output
    assert not out.exists()
    assert "Coverage by group" not in _show(store, batch_id)  # the tables are left out
