"""A batch's coverage by group (``summary.json``'s ``coverage``, ``taxmatch.policy.coverage``)
for the edges: read from a package's summary, checked, and written as CSV. Counts and
rates only: nothing here holds a record's value."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from taxmatch.errors import PackageError
from taxmatch.owner_only import write_private_text
from taxmatch.policy.coverage import CSV_COLUMNS, Coverage, csv_rows

_COVERAGE: TypeAdapter[Coverage] = TypeAdapter(Coverage)


def coverage_in(summary: Mapping[str, object] | None) -> Coverage | None:
    """``summary``'s coverage, checked to be a ``Coverage``; None when there is no summary,
    when its package predates coverage groups, or when the key is malformed."""
    if summary is None or summary.get("coverage") is None:
        return None
    try:
        return _COVERAGE.validate_python(summary["coverage"], strict=True)
    except ValidationError:
        return None


def require_coverage(batch_id: str, summary: Mapping[str, object] | None) -> Coverage:
    """``coverage_in(summary)``, or ``PackageError`` naming the batch when there is none."""
    cov = coverage_in(summary)
    if cov is None:
        raise PackageError(
            f"batch {batch_id} has no coverage by group: the batch is not done, or its "
            "package was written before coverage groups"
        )
    return cov


def coverage_csv(cov: Coverage) -> str:
    """``cov`` as CSV text: a ``CSV_COLUMNS`` header, then one row per group (rates as
    fractions, blank when nothing was counted)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(csv_rows(cov))
    return buf.getvalue()


def write_coverage_csv(cov: Coverage, out: Path) -> None:
    """``coverage_csv(cov)`` to ``out``, readable by its owner only."""
    write_private_text(out, coverage_csv(cov))


__all__ = ["coverage_csv", "coverage_in", "require_coverage", "write_coverage_csv"]
