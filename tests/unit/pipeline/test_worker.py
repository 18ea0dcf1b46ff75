"""``public_reason``: a failed batch's one line for the requesting agency names parts,
rows and fields, never a server path (nor, as ever, a value)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from taxmatch.errors import InputFileError, PackageError, PolicyError, TaxmatchError
from taxmatch.pipeline.worker import WorkerConfig, public_reason
from taxmatch.store.jobs import Job

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def _job(store: Path) -> Job:
    home = store / "api" / "uploads" / "B1"
    return Job(
        "B1",
        "ICE",
        "running",
        None,
        str(home / "requests.csv"),
        str(home / "envelope.json"),
        3,
        "validating",
        0,
        None,
        0,
        1,
        "w",
        None,
        None,
        T0,
        T0,
    )


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda s, p: InputFileError(str(s / "api/uploads/B1/requests.csv"), "bad row",
                                     row=3, field="zip"),
         "TM100: requests, row 3, field 'zip': bad row"),
        (lambda s, p: PolicyError(str(p), "extra inputs are not permitted", field="x"),
         "TM120: policy, field 'x': extra inputs are not permitted"),
        (lambda s, p: PackageError(f"{s}/packages/B1/summary.json: unreadable"),
         "TM500: packages/B1/summary.json: unreadable"),
        (lambda s, p: PackageError("/srv/cli-out/demo-out/B1/summary.json: unreadable"),
         "TM500: summary.json: unreadable"),
        (lambda s, p: TaxmatchError("reference snapshot ref-1 is no longer in the store"),
         "TM000: reference snapshot ref-1 is no longer in the store"),
    ],
)  # fmt: skip
def test_paths_are_named_by_what_they_are(tmp_path: Path, make: object, expected: str) -> None:
    store, policy = tmp_path / "store", tmp_path / "custodian" / "policy.yaml"
    config = WorkerConfig(store=store, out=store / "packages", policy=policy)
    exc = make(store, policy)  # type: ignore[operator]
    line = public_reason(exc, _job(store), config)
    assert line == expected
    assert str(tmp_path) not in line
