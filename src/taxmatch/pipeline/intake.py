"""Intake of an uploaded batch: check the envelope against the caller, count the records,
charge the agency's daily row quota (``ServiceStore.charge_rows``, as a lookup is), move
the files into the store and queue the job.

The edges (the API) stream the upload to a scratch directory and hash it on the way;
this stage decides what happens to it. The same request file under the same envelope is
the same batch (``batch_id_for``), so a resubmission is answered with the batch already
queued, running or done, and is not charged twice. An ``Idempotency-Key`` is bound to the
batch its first upload was, new or not; the same key with another file is refused.

Must never: accept an envelope naming an agency other than the caller, charge a quota
for a batch already queued, let one key name two batches, or put a value into an error.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from taxmatch.errors import AccessDenied, IdempotencyKeyReused
from taxmatch.events import Event, emit
from taxmatch.files.inputs import read_envelope, read_requests, sha256_file
from taxmatch.files.readers import detect_format
from taxmatch.owner_only import make_dir
from taxmatch.pipeline.batch import batch_id_for
from taxmatch.store.jobs import Job, JobQueue
from taxmatch.store.service import Agency, ServiceStore


@dataclass(frozen=True, slots=True)
class Upload:
    """An upload as the edge streamed it: files in a scratch directory and the request
    file's sha256."""

    requests: Path
    envelope: Path
    requests_sha256: str


# Refuses a request file whose name says no format the batch reads (CSV, JSON Lines,
# Parquet), before any byte of it is stored.
check_request_format = detect_format


def submit_batch(
    service: ServiceStore,
    agency: Agency,
    upload: Upload,
    *,
    uploads: Path,
    daily_row_quota: int,
    idempotency_key: str | None = None,
    today: date | None = None,
) -> Job:
    """Queue ``upload`` for ``agency`` (or return the job it already is). The scratch
    directory is gone afterwards, whatever happens."""
    try:
        queue = JobQueue(service)
        detect_format(upload.requests)
        envelope = read_envelope(upload.envelope)
        if envelope.requesting_agency != agency.agency_id:
            raise AccessDenied("envelope requesting_agency is not the authenticated agency")
        batch_id = batch_id_for(upload.requests_sha256, sha256_file(upload.envelope))
        if idempotency_key is not None:
            bound = queue.batch_for_key(agency.agency_id, idempotency_key)
            if bound is not None and bound != batch_id:
                raise IdempotencyKeyReused("Idempotency-Key was already used for another batch")
        existing = queue.find(batch_id)
        if existing is not None and existing.status != "failed":
            if idempotency_key is not None:
                queue.bind_key(agency.agency_id, idempotency_key, batch_id)
            return existing
        # The records as the batch will number them (``#row-1`` … ``#row-N``); a file the
        # batch could not read at all (no header, a required column missing, not Parquet)
        # is refused now, with the reason the command line would give.
        rows = read_requests(upload.requests).count_records()
        service.charge_rows(agency.agency_id, rows, daily_row_quota, today=today)
        home = uploads / batch_id
        shutil.rmtree(home, ignore_errors=True)
        make_dir(home)
        requests = home / f"requests{upload.requests.suffix.lower()}"
        envelope_path = home / "envelope.json"
        os.replace(upload.requests, requests)
        os.replace(upload.envelope, envelope_path)
        job, _ = queue.enqueue(
            batch_id,
            agency.agency_id,
            requests_path=str(requests),
            envelope_path=str(envelope_path),
            rows_total=rows,
            idempotency_key=idempotency_key,
        )
        emit(Event.JOB_QUEUED, batch_id=batch_id, rows=rows)
        return job
    finally:
        shutil.rmtree(upload.requests.parent, ignore_errors=True)
