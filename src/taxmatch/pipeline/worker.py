"""The queue worker: claims uploaded batches and runs them through ``run_batch``.

Runs in the API process by default (a thread) and as ``taxmatch worker`` for more. A
claimed job is held under a lease that a heartbeat thread renews; a worker that dies
stops renewing, the lease expires and another worker (or the restarted server) claims
the job again. ``run_batch`` is idempotent, so the re-run neither loses nor duplicates
a disclosure. Progress from the pipeline's ``Progress`` protocol goes to the jobs table,
at most every ``report_seconds``; at each report the agency's status is checked, so a
suspension (the kill switch) stops its batches between chunks and before release.

Must never: run a suspended agency's batch, release (mark done) a batch of an agency
suspended while it ran, or log anything but ids, counts and codes.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from taxmatch.errors import AgencySuspended, TaxmatchError
from taxmatch.events import Event, emit
from taxmatch.pipeline.batch import BatchRequest, run_batch
from taxmatch.pipeline.retain import discard_upload, sweep_uploads
from taxmatch.store.jobs import Job, JobQueue
from taxmatch.store.service import ServiceStore


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """What every job is run with: the custodian's store, policy and matcher."""

    store: Path
    out: Path
    database_url: str | None = None
    policy: Path | None = None
    matcher: str = "probabilistic"
    lease_seconds: float = 60.0
    poll_seconds: float = 1.0
    report_seconds: float = 0.5
    as_of: date | None = None  # default: the day the batch was uploaded (UTC)


class LeaseLost(TaxmatchError):
    """Another worker holds the job now (this one was presumed dead)."""

    code = "TM730"


class JobProgress:
    """The ``Progress`` protocol, written to the jobs table and checked for the kill switch."""

    def __init__(self, worker: Worker, job: Job) -> None:
        self._worker = worker
        self._job = job
        self._stage = "starting"
        self._done = 0
        self._total: int | None = None
        self._rows_done = 0
        self._last = 0.0

    def stage(self, name: str, total: int | None) -> None:
        self._flush()
        self._stage, self._done, self._total = name, 0, total
        self._flush(force=True)

    def advance(self, n: int) -> None:
        self._done += n
        if self._stage == "writing package":
            self._rows_done += n
        self._flush()

    def _flush(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self._worker.config.report_seconds:
            return
        self._last = now
        self._worker.check(self._job)
        self._worker.queue.report(
            self._job.batch_id,
            self._worker.owner,
            stage=self._stage,
            done=self._done,
            total=self._total,
            rows_done=self._rows_done,
        )


class Worker:
    """Claims and runs jobs one at a time."""

    def __init__(self, config: WorkerConfig, service: ServiceStore, owner: str | None = None):
        self.config = config
        self.service = service
        self.queue = JobQueue(service)
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lost: set[str] = set()

    def check(self, job: Job) -> None:
        """Raise when the job must stop: its agency is suspended or the lease was lost."""
        agency = self.service.get_agency(job.agency_id)
        if agency is None or agency.suspended:
            raise AgencySuspended(f"agency {job.agency_id} is suspended")
        if job.batch_id in self._lost:
            raise LeaseLost(f"lease on batch {job.batch_id} lost")

    def finished(self, batch_id: str) -> bool:
        """True when the batch's job is done or failed (its upload is no longer needed)."""
        job = self.queue.find(batch_id)
        return job is not None and job.status in ("done", "failed")

    def run_one(self) -> bool:
        """Claim one job and run it to done or failed; False when the queue is idle."""
        job = self.queue.claim(self.owner, self.config.lease_seconds)
        if job is None:
            return False
        emit(Event.JOB_CLAIMED, batch_id=job.batch_id, attempt=job.attempts)
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(job, stop), daemon=True)
        beat.start()
        try:
            self._run(job)
        finally:
            stop.set()
            beat.join()
            self._lost.discard(job.batch_id)
        return True

    def run_forever(self, stop: threading.Event) -> None:
        """Run jobs until ``stop`` is set; sleep ``poll_seconds`` when idle. First removes
        the uploads of finished jobs that a worker killed before deleting them left."""
        try:
            sweep_uploads(self.config.store, self.finished)
        except TaxmatchError as exc:  # the database went away: the next start sweeps
            emit(Event.JOB_FAILED, error=exc.code)
        while not stop.is_set():
            try:
                busy = self.run_one()
            except TaxmatchError as exc:  # the database went away: wait and try again
                emit(Event.JOB_FAILED, error=exc.code)
                busy = False
            if not busy:
                stop.wait(self.config.poll_seconds)

    def _run(self, job: Job) -> None:
        cfg = self.config
        try:
            self.check(job)
            result = run_batch(
                BatchRequest(
                    store=cfg.store,
                    requests=Path(job.requests_path),
                    envelope=Path(job.envelope_path),
                    out=cfg.out,
                    as_of=cfg.as_of or job.created_at.date(),
                    policy=cfg.policy,
                    matcher=cfg.matcher,
                    database_url=cfg.database_url,
                    actor=job.agency_id,
                    origin=f"worker@{socket.gethostname()}",
                ),
                JobProgress(self, job),
            )
            self.check(job)  # suspended while it ran: the package is not released
        except LeaseLost:
            emit(Event.JOB_FAILED, batch_id=job.batch_id, error=LeaseLost.code)
            return  # the new holder finishes it
        except Exception as exc:  # never let one batch kill the worker; no values logged
            known = exc if isinstance(exc, TaxmatchError) else None
            code = "TM999" if known is None else known.code
            detail = "TM999: internal error" if known is None else public_reason(known, job, cfg)
            self.queue.finish(
                job.batch_id, self.owner, "failed", error_code=code, error_detail=detail
            )
            discard_upload(cfg.store, job.batch_id)  # retention: see pipeline.retain
            if known is None:
                emit(Event.JOB_FAILED, batch_id=job.batch_id, error=code, kind=type(exc).__name__)
            else:
                emit(Event.JOB_FAILED, batch_id=job.batch_id, error=code)
            return
        rows = int(result.summary.get("input_rows", 0))
        self.queue.finish(job.batch_id, self.owner, "done", rows_done=rows)
        discard_upload(cfg.store, job.batch_id)  # the kept copy in batches/ is the one copy
        emit(Event.JOB_FINISHED, batch_id=job.batch_id, rows=rows, reused=result.reused)

    def _heartbeat(self, job: Job, stop: threading.Event) -> None:
        interval = max(0.05, self.config.lease_seconds / 3)
        while not stop.wait(interval):
            try:
                if not self.queue.renew(job.batch_id, self.owner, self.config.lease_seconds):
                    self._lost.add(job.batch_id)
                    return
            except TaxmatchError:
                continue  # a missed beat; the lease is long enough for the next one


def public_reason(exc: TaxmatchError, job: Job, config: WorkerConfig) -> str:
    """The one line ``taxmatch batch run`` prints for ``exc`` (code, file, row, field;
    never a value), with the server's paths named by what they are: the upload's parts
    ``requests`` and ``envelope``, ``policy``, ``store`` and ``packages``; any other
    absolute path (a ``batch run --out`` directory, say) by its last part alone."""
    line = str(exc)
    names = [(job.requests_path, "requests"), (job.envelope_path, "envelope")]
    if config.policy is not None:
        names += [(str(config.policy), "policy"), (str(config.policy.resolve()), "policy")]
    for root, name in ((config.out, "packages"), (config.store, "store")):
        names.append((str(root.resolve()), name))
        if "/" in str(root):  # a relative path of one word could be any word of the line
            names.append((str(root), name))
    for path, name in sorted(names, key=lambda pair: -len(pair[0])):
        line = line.replace(path, name)
    return _OTHER_PATH.sub(r"\1", line)


# An absolute path in a message (no spaces, commas, colons or quotes: how errors quote
# paths, then add ", row N" or ": problem"); group 1 is its last part.
_OTHER_PATH = re.compile(r"(?<![\w.])/(?:[^\s,:'\"()/]+/)*([^\s,:'\"()/]+)")


def start_worker_thread(worker: Worker) -> tuple[threading.Thread, threading.Event]:
    """Run ``worker`` in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(
        target=worker.run_forever, args=(stop,), name="taxmatch-worker", daemon=True
    )
    thread.start()
    return thread, stop
