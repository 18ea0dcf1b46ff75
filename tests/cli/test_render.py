"""The batch summary as the CLI prints it: summary.json itself, or tables of counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from taxmatch.cli.render import print_summary, render_summary
from taxmatch.policy.coverage import coverage
from tests.unit.disclose.test_package import SUMMARY_DOC


def test_json_is_the_summary_itself(capsys: pytest.CaptureFixture[str]) -> None:
    print_summary(SUMMARY_DOC, Path("out/B1"), reused=False, as_json=True)
    assert json.loads(capsys.readouterr().out) == SUMMARY_DOC


def test_tables_give_counts_shares_and_the_rules(capsys: pytest.CaptureFixture[str]) -> None:
    print_summary(SUMMARY_DOC, Path("out/B1"), reused=True, as_json=False)
    out = capsys.readouterr().out
    assert out.startswith("This input and envelope were already processed")
    assert "3 input rows" in out
    assert "66.7 %" in out  # 2 of 3 rows rejected
    assert "R01" in out
    assert "policy 2026.1 · matcher exact-1 · reference R1" in out


def test_coverage_tables_only_when_the_summary_has_coverage() -> None:
    assert "Coverage by group" not in render_summary(SUMMARY_DOC, Path("out/B1"))
    counts = {
        "po_box": {"DISCLOSED": 7, "STALE": 2, "probe_disclosed": 40, "probe_wrong_address": 9},
        "mover": {"REVIEW": 5},
    }
    flagged = {**counts, "po_box": {**counts["po_box"], "flagged": 1}}
    text = render_summary({**SUMMARY_DOC, "coverage": coverage(flagged, 0.02)}, Path("B1"))
    assert "Coverage by group: rows by outcome" in text
    assert "PO boxes ⚑" in text
    assert "22.50 %" in text  # 9 of 40 disclosed probes at a wrong address
    assert "ceiling on a group's wrong-address rate: 2.00 %" in text
    assert text.rstrip().count("PO boxes") == 3  # both tables and the flagged line
    quiet = render_summary({**SUMMARY_DOC, "coverage": coverage(counts, None)}, Path("B1"))
    assert "⚑" not in quiet
    assert "no ceiling on a group's wrong-address rate" in quiet
