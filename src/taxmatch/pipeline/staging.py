"""Stage a request file into the batch workspace: read, validate per record, append; then
the whole-batch checks over what was staged.

Streams chunk by chunk (memory does not grow with the file). Each record's verdict and,
for valid records, its normalised request go into the workspace's ``records`` table with
digests for the whole-batch checks. Never logs a value.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from functools import lru_cache
from pathlib import Path

import pyarrow as pa

from taxmatch.contracts import REQUEST_COLUMNS, Envelope, RawRecord, RequestReader, codes_to_mask
from taxmatch.normalise.statutes import normalise_statute
from taxmatch.policy.batch import (
    BatchCounts,
    batch_codes,
    officer_cap,
    person_case_key,
    relevance_digest,
)
from taxmatch.policy.model import Policy
from taxmatch.policy.validate import (
    BatchContext,
    field_order,
    generated_id,
    usable_request_id,
    validate_record,
)
from taxmatch.reference.workspace import RECORD_SCHEMA, BatchWorkspace

_COLUMNS = [f.name for f in RECORD_SCHEMA]


@lru_cache(maxsize=1 << 10)
def cited_statute(raw: str) -> str | None:
    """The statute a rejected record cites, normalised, for the request counts."""
    return normalise_statute(raw[:200])


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
            for name in _COLUMNS[8:-2]:
                cols[name].append(None)
            cols["statute"].append(cited_statute(raw.fields.get("statute", "")))
            cols["relevance"].append(None)
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
            ("statute", q.statute),
            ("relevance", raw.fields.get("relevance", "")),
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


# What crosses the process boundary: compact tuples in, an Arrow IPC stream out. Pickling
# a dict per record cost more than validating it.
_Packed = tuple[tuple[str, ...], list[int], list[tuple[str, ...]], list[tuple[str, ...]]]


def _pack(chunk: list[RawRecord]) -> _Packed:
    columns = REQUEST_COLUMNS  # all that validation reads
    return (
        columns,
        [r.row_number for r in chunk],
        [tuple(r.fields.get(c, "") for c in columns) for r in chunk],
        [r.malformed for r in chunk],
    )


def _validate_in_worker(packed: _Packed) -> bytes:
    assert _WORKER_CTX is not None
    columns, numbers, values, malformed = packed
    chunk = [
        RawRecord(n, dict(zip(columns, v, strict=True)), m)
        for n, v, m in zip(numbers, values, malformed, strict=True)
    ]
    table = pa.table(validate_chunk(chunk, _WORKER_CTX), schema=RECORD_SCHEMA)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, RECORD_SCHEMA) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def _unpack(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def stage_records(
    reader: RequestReader,
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

    def appended(table: pa.Table, n: int) -> None:
        nonlocal rows, last_bytes
        ws.append_records(table)
        rows += n
        if on_chunk is not None:
            done = reader.bytes_read
            on_chunk(done - last_bytes)
            last_bytes = done

    if workers <= 1:
        for chunk in reader:
            appended(records_to_table(chunk, ctx), len(chunk))
        return rows
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, spawn, initializer=_init_worker, initargs=(ctx,)) as pool:
        pending: deque[tuple[Future[bytes], int]] = deque()
        for chunk in reader:
            pending.append((pool.submit(_validate_in_worker, _pack(chunk)), len(chunk)))
            if len(pending) >= 2 * workers:
                future, n = pending.popleft()
                appended(_unpack(future.result()), n)
        while pending:
            future, n = pending.popleft()
            appended(_unpack(future.result()), n)
    return rows


PARALLEL_FROM_BYTES = 8 * 1024 * 1024


def validation_workers(requests: Path, workers: int | None) -> int:
    """Validation processes for ``requests``: ``workers`` when given; otherwise one per
    core (up to 4) on large files, since process start-up costs about a second."""
    if workers is not None:
        return max(1, workers)
    if requests.stat().st_size < PARALLEL_FROM_BYTES:
        return 1
    return max(1, min(4, os.cpu_count() or 1))


def apply_batch_checks(ws: BatchWorkspace, rows: int, policy: Policy, envelope: Envelope) -> None:
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
