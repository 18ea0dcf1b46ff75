"""A single-record lookup, answered synchronously through the batch path.

The record becomes a one-row request file and the envelope a JSON file (canonical, so
the same lookup is the same batch and is answered from the batch already run), and both
go through ``run_batch``: the same validation, matching, disclosure rule, package and
ledger entries as any batch. The answer is that batch's one row.

Must never: decide anything itself, answer for an agency other than the envelope's, or
put a value into an error or a log.
"""

from __future__ import annotations

import csv
import json
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from taxmatch.contracts import REQUEST_COLUMNS
from taxmatch.errors import AccessDenied, PackageError
from taxmatch.pipeline.batch import BatchRequest, run_batch

_FILES = ("disclosed", "rejected", "unmatched", "pending")


@dataclass(frozen=True, slots=True)
class LookupConfig:
    store: Path
    out: Path
    database_url: str | None = None
    policy: Path | None = None
    matcher: str = "probabilistic"
    as_of: date | None = None  # default: today (UTC)


@dataclass(frozen=True, slots=True)
class LookupResult:
    """The one row's answer, as the package gives it to the requester."""

    batch_id: str
    request_id: str
    disposition: str  # disclosed / rejected / unmatched / pending
    outcome: str | None
    reason_codes: list[str] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
    disclosure: dict[str, str] | None = None
    reused: bool = False


def lookup_one(
    cfg: LookupConfig,
    agency_id: str,
    record: Mapping[str, str | None],
    envelope: Mapping[str, Any],
    *,
    origin: str,
) -> LookupResult:
    """Run ``record`` under ``envelope`` as a one-row batch for ``agency_id``."""
    if envelope.get("requesting_agency") != agency_id:
        raise AccessDenied("envelope requesting_agency is not the authenticated agency")
    scratch = cfg.store / "api" / "lookups" / uuid.uuid4().hex
    scratch.mkdir(parents=True)
    try:
        requests = scratch / "requests.csv"
        with requests.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(REQUEST_COLUMNS))
            writer.writeheader()
            writer.writerow({c: record.get(c) or "" for c in REQUEST_COLUMNS})
        env = scratch / "envelope.json"
        env.write_text(json.dumps(dict(envelope), sort_keys=True, separators=(",", ":")),
                       encoding="utf-8")  # fmt: skip
        result = run_batch(
            BatchRequest(
                store=cfg.store, requests=requests, envelope=env, out=cfg.out,
                as_of=cfg.as_of or datetime.now(UTC).date(), policy=cfg.policy, matcher=cfg.matcher,
                database_url=cfg.database_url, actor=agency_id, origin=origin, workers=1,
            )
        )  # fmt: skip
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return _answer(result.batch_id, result.package, reused=result.reused)


def _answer(batch_id: str, package: Path, *, reused: bool) -> LookupResult:
    for name in _FILES:
        with (package / f"{name}.csv").open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                rid = row["request_id"]
                if name == "disclosed":
                    keep = {k: v for k, v in row.items() if k != "request_id"}
                    return LookupResult(batch_id, rid, name, "DISCLOSED", disclosure=keep,
                                        reused=reused)  # fmt: skip
                if name == "rejected":
                    codes = [c for c in row["reason_codes"].split(";") if c]
                    fields = [f for f in row["fields"].split(";") if f]
                    return LookupResult(batch_id, rid, name, None, codes, fields, reused=reused)
                if name == "unmatched":
                    return LookupResult(batch_id, rid, name, row["outcome"], reused=reused)
                return LookupResult(batch_id, rid, name, "REVIEW", reused=reused)
    raise PackageError(f"package of batch {batch_id} holds no row")


__all__ = ["LookupConfig", "LookupResult", "lookup_one"]
