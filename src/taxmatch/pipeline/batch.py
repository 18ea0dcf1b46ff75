"""Run one batch end to end: intake → validation → matching → decision → package → record.

The one code path behind ``taxmatch batch run`` (and, later, the API). Orchestrates the
stages, owns the order of writes (state database, ledger, package) and never touches a
value itself beyond handing records from one stage to the next. Logs are typed events
with ids, counts and hashes only.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from taxmatch.contracts import codes_to_mask
from taxmatch.disclose.package import PackageWriter, read_summary
from taxmatch.errors import TaxmatchError
from taxmatch.events import Event, emit
from taxmatch.ledger.chain import LedgerDraft
from taxmatch.match.exact import match_exact
from taxmatch.match.model import ModelInfo, load_model_info
from taxmatch.match.probabilistic import match_probabilistic
from taxmatch.match.warm import WarmMatcher
from taxmatch.pipeline.record import disclosure_id_for, seal_outputs
from taxmatch.pipeline.record import write_outputs as _write_outputs
from taxmatch.pipeline.retain import retain_inputs
from taxmatch.pipeline.staging import stage_records
from taxmatch.pipeline.stash import DisclosureStash
from taxmatch.policy.batch import BatchCounts, batch_codes, officer_cap
from taxmatch.policy.model import policy_sha256
from taxmatch.policy.validate import generated_id, make_context
from taxmatch.store.files import load_policy, read_envelope, read_requests, sha256_file
from taxmatch.store.reference import current_reference
from taxmatch.store.state import BatchRow, StateStore
from taxmatch.store.workspace import BatchWorkspace, Persisting

MATCHERS = ("probabilistic", "exact")


class Progress(Protocol):
    """What the edges give the pipeline to show progress (a rich bar, an API counter)."""

    def stage(self, name: str, total: int | None) -> None: ...

    def advance(self, n: int) -> None: ...


class Silent:
    def stage(self, name: str, total: int | None) -> None:
        return None

    def advance(self, n: int) -> None:
        return None


@dataclass(frozen=True, slots=True)
class BatchRequest:
    """Everything one run needs; the edges build it from flags, settings or an upload."""

    store: Path
    requests: Path
    envelope: Path
    out: Path
    as_of: date
    policy: Path | None = None
    matcher: str = "probabilistic"
    database_url: str | None = None
    actor: str = "cli"
    origin: str = "cli"
    workers: int | None = None  # validation processes; None: one per core on large files


@dataclass(frozen=True, slots=True)
class BatchResult:
    batch_id: str
    package: Path
    summary: dict[str, Any]
    reused: bool = False
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class Warm:
    """What a serving process keeps open between runs (one-record lookups): its state
    store, and a warm matcher for the snapshot and model in force. A run whose snapshot or
    model is not the warm matcher's takes the cold path, so a reference reload never
    scores against the old one. The caller holds ``matcher.lock`` around ``run_batch``."""

    state: StateStore
    matcher: WarmMatcher | None = None


# The exact baseline has no trained model; it is identified by its version alone.
EXACT = ModelInfo(Path("exact"), "exact-1", hashlib.sha256(b"exact-1").hexdigest(), "")


def _model_for(req: BatchRequest, snapshot_id: str) -> ModelInfo:
    if req.matcher == "exact":
        return EXACT
    return load_model_info(req.store, snapshot_id)


def batch_id_for(input_sha256: str, envelope_sha256: str) -> str:
    """The same request file under the same envelope is the same batch, always."""
    digest = hashlib.sha256(f"{input_sha256}:{envelope_sha256}".encode()).hexdigest()
    return f"B{digest[:20]}"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def run_batch(
    req: BatchRequest, progress: Progress | None = None, *, warm: Warm | None = None
) -> BatchResult:
    """Run (or return the already finished) batch for ``req``.

    ``warm`` (a serving process's open resources) changes where the work happens, never
    what it decides: the same stages, rules and writes, in an in-memory workspace.
    """
    bar: Progress = progress or Silent()
    if req.matcher not in MATCHERS:
        raise TaxmatchError(f"unknown matcher {req.matcher!r}; choose one of {MATCHERS}")
    policy, policy_text = load_policy(req.policy)
    policy_sha = policy_sha256(policy_text)
    envelope = read_envelope(req.envelope)
    reader = read_requests(req.requests, max_field_length=policy.limits.max_field_length)
    input_sha, envelope_sha = sha256_file(req.requests), sha256_file(req.envelope)
    batch_id = batch_id_for(input_sha, envelope_sha)

    state = warm.state if warm is not None else StateStore.open(req.store, req.database_url)
    try:
        existing = state.find_batch(batch_id)
        if existing is not None and existing.status == "done":
            package = Path(existing.package_dir)
            emit(Event.BATCH_EXISTS, batch_id=batch_id)
            return BatchResult(
                batch_id, package, read_summary(package), reused=True, counts=existing.counts
            )
        reference = current_reference(req.store)
        model = _model_for(req, reference.snapshot_id)
        matcher = warm.matcher if warm is not None else None
        if matcher is not None and (
            req.matcher != "probabilistic"
            or matcher.snapshot != reference.path
            or matcher.model.sha256 != model.sha256
        ):
            matcher = None
        retain_inputs(req.store, batch_id, req.requests, req.envelope, policy_text)
        started = _utc_now()
        # A policy not seen before (by sha256) is a configuration change, recorded once,
        # before the batch it applies to.
        state.record_config("policy", policy_sha, actor=req.actor, origin=req.origin,
                            version=policy.version)  # fmt: skip
        if existing is None:
            # ``create_batch`` records ``batch_received`` with the row (its binding).
            state.create_batch(
                BatchRow(
                    batch_id=batch_id,
                    agency=envelope.requesting_agency,
                    request_letter_id=envelope.request_letter_id,
                    input_sha256=input_sha,
                    envelope_sha256=envelope_sha,
                    policy_version=policy.version,
                    policy_sha256=policy_sha,
                    input_rows=0,
                    status="running",
                    created_at=started,
                    finished_at=None,
                    counts={},
                    # Absolute: the batch is found again from any working directory.
                    package_dir=str((req.out / batch_id).resolve()),
                    as_of=req.as_of,
                    matcher=req.matcher,
                    reference_id=reference.snapshot_id,
                    error_code=None,
                ),
                actor=req.actor,
                origin=req.origin,
            )
            emit(Event.BATCH_STARTED, batch_id=batch_id)
        else:
            state.delete_decisions(batch_id)
            state.set_batch_status(batch_id, "running")
            state.record_received(batch_id, actor=req.actor, origin=req.origin)
            emit(Event.BATCH_RESUMED, batch_id=batch_id)

        def draft(event_type: str, object_id: str, **payload: Any) -> LedgerDraft:
            return LedgerDraft(event_type, req.actor, req.origin, True, object_id, payload)

        state.append_ledger(
            [
                draft(
                    "rules_in_force",
                    batch_id,
                    policy_version=policy.version,
                    policy_sha256=policy_sha,
                    matcher=req.matcher,
                    model_version=model.version,
                    model_sha256=model.sha256,
                    reference_id=reference.snapshot_id,
                    as_of=req.as_of.isoformat(),
                ),
            ]
        )
        try:
            result = _run(
                req,
                state,
                batch_id,
                reference.path,
                reference.snapshot_id,
                model,
                policy,
                policy_sha,
                envelope,
                reader,
                input_sha,
                envelope_sha,
                started,
                bar,
                matcher,
            )
        except BaseException as exc:
            code = exc.code if isinstance(exc, TaxmatchError) else "TM999"
            now = state.find_batch(batch_id)
            if now is None or now.status != "done":  # a sealed batch's disclosures are made
                state.set_batch_status(batch_id, "failed", error_code=code, finished_at=_utc_now())
            emit(Event.BATCH_FAILED, batch_id=batch_id, error=code)
            raise
        return result
    finally:
        if warm is None:
            state.close()


def _run(
    req: BatchRequest,
    state: StateStore,
    batch_id: str,
    reference_path: Path,
    reference_id: str,
    model: ModelInfo,
    policy: Any,
    policy_sha: str,
    envelope: Any,
    reader: Any,
    input_sha: str,
    envelope_sha: str,
    started: datetime,
    bar: Progress,
    matcher: WarmMatcher | None = None,
) -> BatchResult:
    t0 = time.monotonic()
    ctx = make_context(envelope, policy, req.as_of)
    work = req.store / "work" / batch_id
    workspace = (
        BatchWorkspace.borrow(matcher.con)
        if matcher is not None
        else BatchWorkspace(work / "work.duckdb")
    )
    saving: Persisting | None = None
    with workspace as ws:
        ws.reset()
        bar.stage("validating", reader.total_bytes)
        rows = stage_records(reader, ctx, ws, on_chunk=bar.advance, workers=validation_workers(req))
        apply_batch_checks(ws, rows, policy, envelope)
        emit(
            Event.VALIDATION_DONE,
            batch_id=batch_id,
            rows=rows,
            seconds=round(time.monotonic() - t0, 3),
        )

        t1 = time.monotonic()
        ws.valid_requests_view()
        if model.version == EXACT.version:
            match_exact(ws.con, reference_path)
        elif matcher is not None:
            matcher.match(
                review_threshold=policy.matching.review_threshold,
                min_margin_log2=policy.matching.min_margin_log2,
            )
            # What a cold run leaves on disk: releasing a held row and ``taxmatch
            # explain`` read it. Written while the package is, and waited for before
            # the batch is done (the review queue shows only done batches' rows).
            saving = ws.persist_in_background(work / "work.duckdb")
        else:
            bar.stage("matching", rows)
            match_probabilistic(
                ws.con,
                reference_path,
                model,
                review_threshold=policy.matching.review_threshold,
                min_margin_log2=policy.matching.min_margin_log2,
                on_chunk=bar.advance,
            )
        emit(Event.MATCHING_DONE, batch_id=batch_id, seconds=round(time.monotonic() - t1, 3))

        bar.stage("writing package", rows)
        stash: DisclosureStash | None = None
        try:
            with PackageWriter(req.out, batch_id, phone=policy.disclosure.phone) as pkg:
                counts, reasons, stash = _write_outputs(req, state, ws, pkg, batch_id, policy,
                                                        bar)  # fmt: skip
                # The kill switch's last check: nothing is disclosed before the seal.
                bar.stage("sealing", None)
                finished = _utc_now()
                head_seq, head = state.ledger_head()
                summary: dict[str, Any] = {
                    "batch_id": batch_id,
                    "input_rows": rows,
                    "counts": dict(sorted(counts.items())),
                    "reason_codes": dict(sorted(reasons.items())),
                    "input_sha256": input_sha,
                    "envelope_sha256": envelope_sha,
                    "requesting_agency": envelope.requesting_agency,
                    "as_of": req.as_of.isoformat(),
                    "policy": {"version": policy.version, "sha256": policy_sha},
                    "model": {"version": model.version, "sha256": model.sha256},
                    "matcher": req.matcher,
                    "reference_snapshot_id": reference_id,
                    "ledger_head": {"seq": head_seq, "hash": head},
                    "started_utc": _iso(started),
                    "finished_utc": _iso(finished),
                }
                package = pkg.finish(summary)
            if saving is not None:
                saving.wait()
            seal_outputs(req, state, batch_id, package, rows, counts, finished, stash)
        finally:
            if saving is not None:
                saving.wait()
            if stash is not None:
                stash.discard()
    emit(
        Event.BATCH_FINISHED, batch_id=batch_id, rows=rows, seconds=round(time.monotonic() - t0, 3)
    )
    return BatchResult(batch_id, package, read_summary(package), counts=counts)


PARALLEL_FROM_BYTES = 8 * 1024 * 1024


def validation_workers(req: BatchRequest) -> int:
    """Process start-up costs about a second: worth it only on large files."""
    if req.workers is not None:
        return max(1, req.workers)
    if req.requests.stat().st_size < PARALLEL_FROM_BYTES:
        return 1
    return max(1, min(4, os.cpu_count() or 1))


def apply_batch_checks(ws: BatchWorkspace, rows: int, policy: Any, envelope: Any) -> None:
    """Add the whole-batch codes (R06 boilerplate, R08 cap, R10 duplicates) to each row."""
    cap = officer_cap(envelope, policy)
    share = policy.relevance.max_identical_share
    for counts_batch in ws.iter_counts(cap):
        c = counts_batch.to_pydict()

        out_rid: list[str] = []
        out_mask: list[int] = []
        out_fields: list[str] = []
        for i, row_number in enumerate(c["row_number"]):
            codes, names = batch_codes(
                BatchCounts(
                    c["id_rank"][i], c["pc_rank"][i], c["rel_count"][i], c["officer_rank"][i]
                ),
                input_rows=rows,
                max_identical_share=share,
                cap=cap,
            )
            mask = c["mask"][i] | codes_to_mask(codes)
            rid = c["request_id"][i]
            if c["id_rank"][i] > 1:
                rid = generated_id(row_number)
            fields = c["fields"][i]
            if names:
                merged = [n for n in fields.split(";") if n] if fields else []
                merged += [n for n in names if n not in merged]
                fields = ";".join(merged)
            out_rid.append(rid)
            out_mask.append(mask)
            out_fields.append(fields)
        ws.update_final(
            pa.table(
                {
                    "row_number": c["row_number"],
                    "request_id": out_rid,
                    "mask": out_mask,
                    "fields": out_fields,
                }
            )
        )


__all__ = [
    "BatchRequest",
    "BatchResult",
    "Progress",
    "Warm",
    "batch_id_for",
    "disclosure_id_for",
    "run_batch",
]
