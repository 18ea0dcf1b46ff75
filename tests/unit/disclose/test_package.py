"""A batch package's summary is read back as a checked ``BatchSummary``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from taxmatch.contracts import PACKAGE_SCHEMA
from taxmatch.disclose.package import SUMMARY, BatchSummary, read_batch_summary
from taxmatch.errors import PackageError

SUMMARY_DOC: BatchSummary = {
    "schema": PACKAGE_SCHEMA,
    "batch_id": "B0123456789abcdef0123",
    "input_rows": 3,
    "counts": {"DISCLOSED": 1, "REJECTED": 2},
    "reason_codes": {"R01": 2},
    "input_sha256": "a" * 64,
    "envelope_sha256": "b" * 64,
    "requesting_agency": "AGENCY-1",
    "as_of": "2026-01-31",
    "policy": {"version": "2026.1", "sha256": "c" * 64},
    "model": {"version": "exact-1", "sha256": "d" * 64},
    "matcher": "exact",
    "reference_snapshot_id": "R1",
    "ledger_head": {"seq": 7, "hash": "e" * 64},
    "started_utc": "2026-01-31T10:00:00.000000Z",
    "finished_utc": "2026-01-31T10:00:01.000000Z",
}


def _package(tmp_path: Path, doc: object) -> Path:
    (tmp_path / SUMMARY).write_text(json.dumps(doc), encoding="utf-8")
    return tmp_path


def test_a_batch_summary_reads_back_whole(tmp_path: Path) -> None:
    assert read_batch_summary(_package(tmp_path, SUMMARY_DOC)) == SUMMARY_DOC


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("input_rows", "3"),  # a count as text
        ("counts", {"DISCLOSED": "Maria Lopez"}),
        ("ledger_head", {"seq": 7}),
        ("policy", None),
    ],
)
def test_a_malformed_summary_is_refused_without_its_values(
    tmp_path: Path, key: str, value: object
) -> None:
    doc = {**SUMMARY_DOC, key: value}
    with pytest.raises(PackageError) as err:
        read_batch_summary(_package(tmp_path, doc))
    assert "not a batch package summary" in str(err.value)
    assert "Maria" not in str(err.value)


def test_a_summary_without_a_key_is_refused(tmp_path: Path) -> None:
    doc = {k: v for k, v in SUMMARY_DOC.items() if k != "reference_snapshot_id"}
    with pytest.raises(PackageError):
        read_batch_summary(_package(tmp_path, doc))
