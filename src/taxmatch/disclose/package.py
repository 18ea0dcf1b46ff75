"""The response package ``OUT/<batch_id>/`` (README.md, schema ``taxmatch/package/v1``).

Four CSVs — disclosed, rejected, unmatched, pending — take every input row exactly once;
``summary.json`` says what was done under which rules; ``manifest.json`` hashes every file.
The package is written into ``<batch_id>.partial`` and renamed into place only when
complete, so a reader never sees half a package.

Never names which field matched or which candidate competed: the requester learns the
outcome, not the custodian's reasoning.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, NotRequired

from pydantic import TypeAdapter, ValidationError
from typing_extensions import TypedDict  # pydantic validates typing's only from 3.12

from taxmatch.contracts import (
    DISCLOSED_COLUMNS,
    PACKAGE_SCHEMA,
    PENDING_COLUMNS,
    REJECTED_COLUMNS,
    UNMATCHED_COLUMNS,
    Disposition,
)
from taxmatch.disclose.csvout import SafeCsvWriter, csv_stats
from taxmatch.errors import PackageError
from taxmatch.files.inputs import sha256_file
from taxmatch.owner_only import make_dir, write_private_text
from taxmatch.policy.accuracy import AccuracyEstimate, AccuracyHold
from taxmatch.policy.coverage import Coverage

PACKAGE_FILES = ("disclosed.csv", "rejected.csv", "unmatched.csv", "pending.csv")
SUMMARY = "summary.json"
MANIFEST = "manifest.json"


class RulesRef(TypedDict):
    version: str
    sha256: str


class LedgerHeadRef(TypedDict):
    seq: int
    hash: str


class BatchSummary(TypedDict):
    """A batch package's ``summary.json``: ids, counts, hashes and the rules in force."""

    schema: str
    batch_id: str
    input_rows: int
    counts: dict[str, int]  # rows by outcome (and REJECTED)
    reason_codes: dict[str, int]  # rejected rows by reason code
    input_sha256: str
    envelope_sha256: str
    requesting_agency: str
    as_of: str  # ISO date
    policy: RulesRef
    model: RulesRef
    matcher: str
    reference_snapshot_id: str
    ledger_head: LedgerHeadRef
    started_utc: str
    finished_utc: str
    # Packages before shadow probes lack these; a held batch has ``accuracy_hold``.
    accuracy_estimate: NotRequired[AccuracyEstimate]
    accuracy_hold: NotRequired[AccuracyHold]
    coverage: NotRequired[Coverage]  # outcomes and probe error rates by group


_BATCH_SUMMARY: TypeAdapter[BatchSummary] = TypeAdapter(BatchSummary)


class PackageWriter:
    """Streams one batch's package. Use as a context manager; call ``finish`` at the end."""

    def __init__(self, out: Path, batch_id: str, *, phone: bool) -> None:
        self.final = out / batch_id
        self.partial = out / f"{batch_id}.partial"
        if self.partial.exists():
            shutil.rmtree(self.partial)
        make_dir(out, own=False)  # the user's --out: made 0700 if missing, else kept
        make_dir(self.partial)
        disclosed_cols = (*DISCLOSED_COLUMNS, "phone") if phone else DISCLOSED_COLUMNS
        self.writers: dict[Disposition, SafeCsvWriter] = {
            Disposition.DISCLOSED: SafeCsvWriter(self.partial / "disclosed.csv", disclosed_cols),
            Disposition.REJECTED: SafeCsvWriter(self.partial / "rejected.csv", REJECTED_COLUMNS),
            Disposition.UNMATCHED: SafeCsvWriter(self.partial / "unmatched.csv", UNMATCHED_COLUMNS),
            Disposition.PENDING: SafeCsvWriter(self.partial / "pending.csv", PENDING_COLUMNS),
        }
        self._closed = False

    def __enter__(self) -> PackageWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._closed:  # left without finish: no package
            for w in self.writers.values():
                w.abort()
            shutil.rmtree(self.partial, ignore_errors=True)

    def write(self, disposition: Disposition, row: list[str | int | float | None]) -> None:
        self.writers[disposition].write(row)

    def write_many(
        self, disposition: Disposition, rows: Sequence[Sequence[str | int | float | None]]
    ) -> None:
        """Rows of one file, in order (as ``write`` of each)."""
        self.writers[disposition].write_many(rows)

    def finish(self, summary: Mapping[str, object]) -> Path:
        """Close the CSVs, write summary and manifest, move the package into place."""
        for w in self.writers.values():
            w.close()
        self._closed = True
        summary_path = self.partial / SUMMARY
        write_private_text(
            summary_path,
            json.dumps({"schema": PACKAGE_SCHEMA, **summary}, indent=2, sort_keys=True) + "\n",
        )
        files: dict[str, dict[str, str | int]] = {}
        for name in PACKAGE_FILES:
            sha, rows = csv_stats(self.partial / name)
            files[name] = {"sha256": sha, "rows": rows}
        files[SUMMARY] = {"sha256": sha256_file(summary_path), "rows": 1}
        manifest = {"schema": PACKAGE_SCHEMA, "batch_id": summary["batch_id"], "files": files}
        write_private_text(
            self.partial / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n"
        )
        if self.final.exists():
            shutil.rmtree(self.final)
        os.replace(self.partial, self.final)
        return self.final


def _read_document(path: Path) -> dict[str, Any]:
    """A package's JSON file, refusing unknown schema versions."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PackageError(f"{path}: unreadable") from exc
    if not isinstance(data, dict) or data.get("schema") != PACKAGE_SCHEMA:
        raise PackageError(f"{path}: unknown package schema version")
    return data


def read_summary(package: Path) -> dict[str, Any]:
    """A package's summary, refusing unknown schema versions."""
    return _read_document(package / SUMMARY)


def read_batch_summary(package: Path) -> BatchSummary:
    """A batch package's summary, checked to be a ``BatchSummary``."""
    data = read_summary(package)
    try:
        return _BATCH_SUMMARY.validate_python(data, strict=True)
    except ValidationError:
        raise PackageError(f"{package / SUMMARY}: not a batch package summary") from None


def verify_manifest(package: Path) -> list[str]:
    """Names of package files whose hash or row count differs from the manifest."""
    bad = []
    for name, meta in _read_document(package / MANIFEST)["files"].items():
        path = package / name
        if not path.exists():
            bad.append(name)
        elif name == SUMMARY:  # its rows are not counted
            if sha256_file(path) != meta["sha256"]:
                bad.append(name)
        elif csv_stats(path) != (meta["sha256"], meta["rows"]):
            bad.append(name)
    return bad
