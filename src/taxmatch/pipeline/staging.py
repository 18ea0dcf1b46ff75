"""Stage a request file into the batch workspace: read, validate per record, append.

Streams chunk by chunk (memory does not grow with the file). Each record's verdict and,
for valid records, its normalised request go into the workspace's ``records`` table with
digests for the whole-batch checks. Never logs a value.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor

import pyarrow as pa

from taxmatch.contracts import RawRecord, codes_to_mask
from taxmatch.policy.batch import person_case_key, relevance_digest
from taxmatch.policy.validate import BatchContext, field_order, usable_request_id, validate_record
from taxmatch.store.workspace import RECORD_SCHEMA, BatchWorkspace

_COLUMNS = [f.name for f in RECORD_SCHEMA]


def validate_chunk(chunk: Iterable[RawRecord], ctx: BatchContext) -> dict[str, list[object]]:
    """Validate one chunk of raw records into workspace columns (plain lists)."""
    cols: dict[str, list[object]] = {name: [] for name in _COLUMNS}
    for raw in chunk:
        verdict = validate_record(raw, ctx)
        q = verdict.request
        cols["row_number"].append(raw.row_number)
        cols["request_id"].append(verdict.request_id)
        cols["id_key"].append(usable_request_id(raw))
        cols["pc_key"].append(person_case_key(raw.fields))
        cols["rel_key"].append(relevance_digest(raw.fields))
        cols["officer_id"].append(raw.fields.get("officer_id", ""))
        cols["mask"].append(codes_to_mask(verdict.reasons))
        cols["fields"].append(";".join(field_order(verdict.fields)))
        if q is None:
            for name in _COLUMNS[8:]:
                cols[name].append(None)
            continue
        a = q.address
        for name, value in (
            ("first_name", q.first_name),
            ("middle_name", q.middle_name),
            ("last_name", q.last_name),
            ("suffix", q.suffix),
            ("house_number", a.house_number),
            ("street", a.street),
            ("unit", a.unit),
            ("po_box", a.po_box),
            ("city", a.city),
            ("state", a.state),
            ("zip5", a.zip5),
            ("tax_periods", list(q.tax_periods)),
            ("date_of_birth", q.date_of_birth),
            ("tin", q.tin),
        ):
            cols[name].append(value)
    return cols


def records_to_table(chunk: Iterable[RawRecord], ctx: BatchContext) -> pa.Table:
    """Validate one chunk of raw records into a workspace table."""
    return pa.table(validate_chunk(chunk, ctx), schema=RECORD_SCHEMA)


_WORKER_CTX: BatchContext | None = None


def _init_worker(ctx: BatchContext) -> None:
    global _WORKER_CTX  # one context per worker process, set once
    _WORKER_CTX = ctx


def _validate_in_worker(chunk: list[RawRecord]) -> dict[str, list[object]]:
    assert _WORKER_CTX is not None
    return validate_chunk(chunk, _WORKER_CTX)


def stage_records(
    reader: Iterable[list[RawRecord]],
    ctx: BatchContext,
    ws: BatchWorkspace,
    *,
    on_chunk: Callable[[int], None] | None = None,
    workers: int = 1,
) -> int:
    """Validate every record of ``reader`` into ``ws``; returns the number of rows.

    With ``workers > 1`` validation runs in that many processes while this one reads and
    appends; at most ``2 * workers`` chunks are in flight, so memory stays bounded, and
    chunks are appended in file order.
    """
    rows = 0
    last_bytes = 0

    def appended(cols: dict[str, list[object]], n: int) -> None:
        nonlocal rows, last_bytes
        ws.append_records(pa.table(cols, schema=RECORD_SCHEMA))
        rows += n
        if on_chunk is not None:
            done = int(getattr(reader, "bytes_read", rows))
            on_chunk(done - last_bytes)
            last_bytes = done

    if workers <= 1:
        for chunk in reader:
            appended(validate_chunk(chunk, ctx), len(chunk))
        return rows
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, spawn, initializer=_init_worker, initargs=(ctx,)) as pool:
        pending: deque[tuple[Future[dict[str, list[object]]], int]] = deque()
        for chunk in reader:
            pending.append((pool.submit(_validate_in_worker, chunk), len(chunk)))
            if len(pending) >= 2 * workers:
                future, n = pending.popleft()
                appended(future.result(), n)
        while pending:
            future, n = pending.popleft()
            appended(future.result(), n)
    return rows
