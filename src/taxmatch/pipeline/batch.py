"""Run one batch end to end: intake → validation → matching → decision → package → record.

The one code path behind ``taxmatch batch run`` (and, later, the API). Orchestrates the
stages, owns the order of writes (state database, ledger, package) and never touches a
value itself beyond handing records from one stage to the next. Logs are typed events
with ids, counts and hashes only.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from taxmatch.contracts import PACKAGE_SCHEMA, Envelope, RequestReader
from taxmatch.disclose.package import SUMMARY, BatchSummary, PackageWriter, read_batch_summary
from taxmatch.errors import TaxmatchError, memory_advice, memory_size
from taxmatch.events import Event, emit
from taxmatch.files.inputs import load_policy, read_envelope, read_requests, sha256_file
from taxmatch.ledger.chain import LedgerDraft, PayloadValue, format_recorded_at
from taxmatch.match.model import ModelInfo, load_model_info
from taxmatch.match.warm import WarmMatcher
from taxmatch.pipeline.coverage import group_rows, record_coverage
from taxmatch.pipeline.matching import EXACT, batch_matcher, check_engine
from taxmatch.pipeline.overlap import MatchingAhead, writing
from taxmatch.pipeline.probes import shadow_probes
from taxmatch.pipeline.progress import Progress, Silent
from taxmatch.pipeline.record import disclosed_fields, seal_outputs, write_outputs
from taxmatch.pipeline.retain import retain_inputs
from taxmatch.pipeline.staging import validate_into, validation_workers
from taxmatch.pipeline.stash import DisclosureStash
from taxmatch.policy.accuracy import estimate
from taxmatch.policy.coverage import mask_of
from taxmatch.policy.model import Policy, policy_sha256
from taxmatch.policy.validate import make_context
from taxmatch.reference.snapshot import ReferenceInfo, current_reference
from taxmatch.reference.workspace import BATCH_MEMORY_LIMIT, BatchWorkspace, Persisting
from taxmatch.store.state import BatchRow, StateStore

MATCHERS = ("probabilistic", "exact")


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
    engine: str = "duckdb"  # where the probabilistic matcher's pairs are scored (matching.py)
    spark_dir: Path | None = None  # the Spark engine's snapshot exports; None: <store>/spark
    database_url: str | None = None
    actor: str = "cli"
    origin: str = "cli"
    workers: int | None = None  # validation processes; None: one per core on large files
    memory_limit: str = BATCH_MEMORY_LIMIT  # the batch workspace's DuckDB limit
    # Shadow probes (``accuracy.shadow_probes``) and coverage groups; a one-record lookup
    # runs neither: they would cost a hundred times the lookup.
    shadow_probes: bool = True
    coverage: bool = True


@dataclass(frozen=True, slots=True)
class BatchResult:
    batch_id: str
    package: Path
    summary: BatchSummary
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


@dataclass(frozen=True, slots=True)
class BatchRun:
    """One run's settled inputs, as ``run_batch`` resolved them: the request, the batch's
    id and input hashes, and the rules in force (policy, envelope, reference, model)."""

    req: BatchRequest
    batch_id: str
    policy: Policy
    policy_sha: str
    envelope: Envelope
    input_sha: str
    envelope_sha: str
    reference: ReferenceInfo
    model: ModelInfo
    started: datetime


def batch_id_for(input_sha256: str, envelope_sha256: str) -> str:
    """The same request file under the same envelope is the same batch, always."""
    digest = hashlib.sha256(f"{input_sha256}:{envelope_sha256}".encode()).hexdigest()
    return f"B{digest[:20]}"


def _since(t0: float) -> float:
    return round(time.monotonic() - t0, 3)


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
    check_engine(req.engine, req.matcher)
    memory_size(req.memory_limit)
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
                batch_id, package, read_batch_summary(package), reused=True, counts=existing.counts
            )
        reference = current_reference(req.store)
        model = (
            EXACT if req.matcher == "exact" else load_model_info(req.store, reference.snapshot_id)
        )
        matcher = warm.matcher if warm is not None else None
        if matcher is not None and (
            req.matcher != "probabilistic"
            or matcher.snapshot != reference.path
            or matcher.model.sha256 != model.sha256
        ):
            matcher = None
        retain_inputs(req.store, batch_id, req.requests, req.envelope, policy_text)
        started = datetime.now(UTC)
        # A policy not seen before (by sha256) is a configuration change, recorded once,
        # before the batch it applies to.
        state.record_config(
            "policy", policy_sha, actor=req.actor, origin=req.origin, version=policy.version
        )
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

        rules: dict[str, PayloadValue] = {
            "policy_version": policy.version,
            "policy_sha256": policy_sha,
            "matcher": req.matcher,
            "model_version": model.version,
            "model_sha256": model.sha256,
            "reference_id": reference.snapshot_id,
            "as_of": req.as_of.isoformat(),
        }
        state.append_ledger(
            [LedgerDraft("rules_in_force", req.actor, req.origin, True, batch_id, rules)]
        )
        run = BatchRun(
            req,
            batch_id,
            policy,
            policy_sha,
            envelope,
            input_sha,
            envelope_sha,
            reference,
            model,
            started,
        )
        try:
            return _run(run, state, reader, bar, matcher)
        except BaseException as exc:
            code = exc.code if isinstance(exc, TaxmatchError) else "TM999"
            now = state.find_batch(batch_id)
            if now is None or now.status != "done":  # a sealed batch's disclosures are made
                state.set_batch_status(
                    batch_id, "failed", error_code=code, finished_at=datetime.now(UTC)
                )
            emit(Event.BATCH_FAILED, batch_id=batch_id, error=code)
            raise
    finally:
        if warm is None:
            state.close()


def _run(
    run: BatchRun,
    state: StateStore,
    reader: RequestReader,
    bar: Progress,
    matcher: WarmMatcher | None = None,
) -> BatchResult:
    req, batch_id, policy = run.req, run.batch_id, run.policy
    t0 = time.monotonic()
    ctx = make_context(run.envelope, policy, req.as_of)
    work = req.store / "work" / batch_id
    workspace = (
        BatchWorkspace.borrow(matcher.con)
        if matcher is not None
        else BatchWorkspace(work / "work.duckdb", memory_limit=req.memory_limit)
    )
    saving: Persisting | None = None
    advice = memory_advice("batch run", req.memory_limit, "--memory-limit")
    match = batch_matcher(run, work)
    probe = shadow_probes(run, state, work, bar, lambda con: match(con, None, None))
    with advice, workspace as ws, probe as probed:
        rows = validate_into(ws, reader, ctx, bar, validation_workers(req.requests, req.workers))
        emit(Event.VALIDATION_DONE, batch_id=batch_id, rows=rows, seconds=_since(t0))
        ws.valid_requests_view()
        probes = probed()  # waited for here: the probes and the batch never match at once
        bar.stage("matching", rows)
        if matcher is not None:
            t1 = time.monotonic()
            matcher.match(
                review_threshold=policy.matching.review_threshold,
                min_margin_log2=policy.matching.min_margin_log2,
            )
            # What a cold run leaves on disk: releasing a held row and ``taxmatch
            # explain`` read it. Written while the package is, and waited for before
            # the batch is done (the review queue shows only done batches' rows).
            saving = ws.persist_in_background(work / "work.duckdb")
            emit(Event.MATCHING_DONE, batch_id=batch_id, engine=req.engine, seconds=_since(t1))
            group_rows(run, ws.con)
        # Cold: the rows are matched on a thread of their own, a window ahead of the
        # package writer, which reads them through a cursor of its own (``overlap``).
        # The cursor is made before the thread starts on the connection, and closed after
        # the thread is joined: a connection is used from one thread at a time.
        with (
            ws.cursor() as out,
            MatchingAhead(run, ws.con, match, bar) if matcher is None else nullcontext() as ahead,
        ):
            stash = DisclosureStash(out, batch_id, disclosed_fields(policy))
            try:
                with PackageWriter(req.out, batch_id, phone=policy.disclosure.phone) as pkg:
                    held = probes.hold is not None
                    w = write_outputs(
                        *(req, state, out, pkg, batch_id, policy, stash, bar),
                        held=held,
                        held_groups=mask_of(probes.flagged),
                        ready=writing(ahead, bar, rows),
                    )
                    if ahead is not None:
                        ahead.wait_for()  # every row matched, its workspace tables final
                    counts, covered = w.counts, record_coverage(run, state, w, probes)
                    # The kill switch's last check: nothing is disclosed before the seal.
                    bar.stage("sealing", None)
                    finished = datetime.now(UTC)
                    summary = _summary(run, rows, counts, w.reasons, state.ledger_head(), finished)
                    summary["accuracy_estimate"] = estimate(probes.counts, w.expected_wrong)
                    if covered is not None:
                        summary["coverage"] = covered
                    if probes.hold is not None:
                        summary["accuracy_hold"] = probes.hold
                    package = pkg.finish(summary)
                if saving is not None:
                    saving.wait()
                seal_outputs(req, state, batch_id, package, rows, counts, finished, stash)
            finally:
                if saving is not None:
                    saving.wait()
                stash.discard()
    emit(Event.BATCH_FINISHED, batch_id=batch_id, rows=rows, seconds=_since(t0))
    return BatchResult(batch_id, package, read_batch_summary(package), counts=counts)


def find_batch_summary(
    store: Path, batch_id: str, database_url: str | None = None
) -> tuple[BatchRow, BatchSummary | None]:
    """A batch as the state database records it, and ``done_summary`` of it."""
    with StateStore.open(store, database_url) as state:
        row = state.require_batch(batch_id)
    return row, done_summary(row)


def done_summary(row: BatchRow) -> BatchSummary | None:
    """A done batch's package summary, if the package is where it was written."""
    package = Path(row.package_dir)
    if row.status != "done" or not (package / SUMMARY).is_file():
        return None
    return read_batch_summary(package)


def _summary(
    run: BatchRun,
    rows: int,
    counts: Mapping[str, int],
    reasons: Mapping[str, int],
    head: tuple[int, str],
    finished: datetime,
) -> BatchSummary:
    """The package's ``summary.json``: ids, counts, hashes and the rules in force."""
    req = run.req
    return {
        "schema": PACKAGE_SCHEMA,
        "batch_id": run.batch_id,
        "input_rows": rows,
        "counts": dict(sorted(counts.items())),
        "reason_codes": dict(sorted(reasons.items())),
        "input_sha256": run.input_sha,
        "envelope_sha256": run.envelope_sha,
        "requesting_agency": run.envelope.requesting_agency,
        "as_of": req.as_of.isoformat(),
        "policy": {"version": run.policy.version, "sha256": run.policy_sha},
        "model": {"version": run.model.version, "sha256": run.model.sha256},
        "matcher": req.matcher,
        "reference_snapshot_id": run.reference.snapshot_id,
        "ledger_head": {"seq": head[0], "hash": head[1]},
        "started_utc": format_recorded_at(run.started),
        "finished_utc": format_recorded_at(finished),
    }


__all__ = [
    "BatchRequest",
    "BatchResult",
    "Progress",
    "Warm",
    "batch_id_for",
    "done_summary",
    "find_batch_summary",
    "run_batch",
]
