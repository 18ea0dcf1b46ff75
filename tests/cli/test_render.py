"""The batch summary as the CLI prints it: summary.json itself, or tables of counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from taxmatch.cli.render import print_summary
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
