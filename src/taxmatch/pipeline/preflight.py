"""Pre-flight validation: check a request batch against the statute without matching.

``validate_batch`` runs the same intake and validation as a batch run (the same code:
staging and the whole-batch checks) and writes ``rejected.csv`` and a summary, so a
requester can correct a file before submitting it. It matches nothing, discloses
nothing and records no request, so it writes neither to the state database nor to the
ledger. Never logs a value.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from taxmatch.contracts import REJECTED_COLUMNS, format_codes, mask_to_codes
from taxmatch.disclose.csvout import SafeCsvWriter
from taxmatch.files.inputs import load_policy, read_envelope, read_requests, sha256_file
from taxmatch.owner_only import make_dir, write_private_text
from taxmatch.pipeline.progress import Progress, Silent
from taxmatch.pipeline.staging import validate_into, validation_workers
from taxmatch.policy.model import policy_sha256
from taxmatch.policy.validate import make_context
from taxmatch.reference.workspace import BatchWorkspace

PREFLIGHT_SCHEMA = "taxmatch/preflight/v1"


@dataclass(frozen=True, slots=True)
class PreflightResult:
    out: Path
    rows: int
    rejected: int
    reason_codes: dict[str, int]
    seconds: float


def validate_batch(
    *,
    requests: Path,
    envelope: Path,
    out: Path,
    as_of: date,
    policy: Path | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> PreflightResult:
    """Validate ``requests`` under ``envelope``; write ``out/rejected.csv`` and summary."""
    bar: Progress = progress or Silent()
    t0 = time.monotonic()
    pol, policy_text = load_policy(policy)
    env = read_envelope(envelope)
    reader = read_requests(requests, max_field_length=pol.limits.max_field_length)
    make_dir(out, own=False)
    scratch = out / ".work"
    shutil.rmtree(scratch, ignore_errors=True)
    reasons: Counter[str] = Counter()
    try:
        with BatchWorkspace(scratch / "work.duckdb") as ws:
            ctx = make_context(env, pol, as_of)
            rows = validate_into(ws, reader, ctx, bar, validation_workers(requests, workers))
            with SafeCsvWriter(out / "rejected.csv", REJECTED_COLUMNS) as writer:
                for batch in ws.stream(
                    "SELECT request_id, mask, fields FROM final WHERE mask <> 0 ORDER BY row_number"
                ):
                    r = batch.to_pydict()
                    for rid, mask, fields in zip(
                        r["request_id"], r["mask"], r["fields"], strict=True
                    ):
                        writer.write([rid, format_codes(mask), fields])
                        reasons.update(code.value for code in mask_to_codes(mask))
            rejected = writer.rows
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    seconds = time.monotonic() - t0
    codes = dict(sorted(reasons.items()))
    summary: dict[str, object] = {
        "schema": PREFLIGHT_SCHEMA,
        "input_rows": rows,
        "rejected": rejected,
        "valid": rows - rejected,
        "reason_codes": codes,
        "input_sha256": sha256_file(requests),
        "envelope_sha256": sha256_file(envelope),
        "policy": {"version": pol.version, "sha256": policy_sha256(policy_text)},
        "as_of": as_of.isoformat(),
        "seconds": round(seconds, 3),
    }
    write_private_text(out / "preflight.json", json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return PreflightResult(out, rows, rejected, codes, seconds)
