"""Stage a request file into the batch workspace: read, validate per record, append; then
the whole-batch checks over what was staged.

Streams chunk by chunk (memory does not grow with the file). Each record's verdict and,
for valid records, its normalised request go into the workspace's ``records`` table with
digests for the whole-batch checks. Never logs a value.
"""

from __future__ import annotations

import operator
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from taxmatch.contracts import REQUEST_COLUMNS, Envelope, RawRecord, RequestReader, codes_to_mask
from taxmatch.files.reader_rows import Row, make_record
from taxmatch.files.readers import RequestFileReader
from taxmatch.normalise.statutes import normalise_statute
from taxmatch.policy.batch import (
    BatchCounts,
    batch_codes,
    officer_cap,
    person_case_key,
    relevance_digest,
)
from taxmatch.policy.coverage import raw_shape, request_shape
from taxmatch.policy.model import Policy
from taxmatch.policy.validate import (
    BatchContext,
    check_record,
    field_order,
    generated_id,
    request_name_fields,
    request_tin,
)
from taxmatch.processes import collector_paused, worker_context
from taxmatch.reference.record_schema import RECORD_SCHEMA

if TYPE_CHECKING:
    from taxmatch.pipeline.progress import Progress
    from taxmatch.reference.workspace import BatchWorkspace

_COLUMNS = [f.name for f in RECORD_SCHEMA]
# The whole-batch counts (``iter_counts``' columns) in the order of ``BatchCounts``' fields.
_RANKS = ("id_rank", "pc_rank", "rel_count", "officer_rank")


@lru_cache(maxsize=1 << 10)
def cited_statute(raw: str) -> str | None:
    """The statute a rejected record cites, normalised, for the request counts."""
    return normalise_statute(raw[:200])


def records_to_table(chunk: Iterable[RawRecord], ctx: BatchContext) -> pa.Table:
    """Validate one chunk of raw records into a workspace table, built a column at a time
    (no row tuples to transpose)."""
    cols: list[list[Any]] = [[] for _ in _COLUMNS]
    with collector_paused():
        _fill(cols, chunk, ctx)
    return pa.table(dict(zip(_COLUMNS, cols, strict=True)), schema=RECORD_SCHEMA)


def _fill(cols: list[list[Any]], chunk: Iterable[RawRecord], ctx: BatchContext) -> None:
    head = cols[: _COLUMNS.index("first_name")]
    (row_number, request_id, id_key, pc_key, rel_key, officer, mask, fields, shape) = head
    normalised = cols[len(head) : _COLUMNS.index("statute")]
    statutes, relevance = cols[-2:]
    extend_blank = [c.append for c in normalised]
    for raw in chunk:
        # ``validate_record``'s checks and normalisation, without building its result
        checked = check_record(raw, ctx)
        f = raw.fields
        row_number.append(raw.row_number)
        request_id.append(checked.request_id)
        id_key.append(checked.usable_id)
        pc_key.append(person_case_key(f))
        rel_key.append(relevance_digest(f))
        officer.append(f.get("officer_id", ""))
        mask.append(codes_to_mask(checked.codes))
        fields.append(";".join(field_order(tuple(checked.fields))))
        a = checked.address
        if checked.codes or a is None:
            shape.append(raw_shape(f))
            for add in extend_blank:
                add(None)
            statutes.append(cited_statute(f.get("statute", "")))
            relevance.append(None)
            continue
        first, middle, last, suffix = request_name_fields(f)
        shape.append(request_shape(first, middle, last, a[2], bool(a[3])))  # unit, PO box
        for column, value in zip(
            normalised,
            (
                first,
                middle,
                last,
                suffix,
                *a,
                list(checked.tax_periods or ()),
                checked.date_of_birth,
                request_tin(f),
            ),
            strict=True,
        ):
            column.append(value)
        statutes.append(checked.statute)
        relevance.append(f.get("relevance", ""))


_WORKER_CTX: BatchContext | None = None


def _init_worker(ctx: BatchContext) -> None:
    global _WORKER_CTX  # one context per worker process, set once
    _WORKER_CTX = ctx


# What crosses the process boundary: compact tuples in, an Arrow IPC stream out. Pickling
# a dict per record cost more than validating it. The values are REQUEST_COLUMNS', all
# that validation reads: a file reader's rows as read, made records in the worker
# (``make_record`` with the reader's field limit, first), or the values of records made
# already (None).
_Packed = tuple[int | None, list[Row]]


_VALUES = operator.itemgetter(*REQUEST_COLUMNS)


def _values(fields: dict[str, str]) -> tuple[str, ...]:
    """A record's values in ``REQUEST_COLUMNS`` order, "" for an absent one."""
    try:
        values: tuple[str, ...] = _VALUES(fields)  # a reader's record has every column
    except KeyError:
        return tuple(fields.get(c, "") for c in REQUEST_COLUMNS)
    return values


def _pack(chunk: list[RawRecord]) -> _Packed:
    return None, [(r.row_number, _values(r.fields), r.malformed) for r in chunk]


def _packed_chunks(reader: RequestReader) -> Iterator[_Packed]:
    """``reader``'s chunks to send: a file reader's rows as read (its records are made in
    the worker, not here and again there), any other reader's records."""
    if isinstance(reader, RequestFileReader):
        limit = reader.max_field_length
        return ((limit, rows) for rows in reader.row_chunks())
    return (_pack(chunk) for chunk in reader)


def _validate_in_worker(packed: _Packed) -> bytes:
    assert _WORKER_CTX is not None
    limit, rows = packed
    # Paused until the chunk's records are freed, so that the collector, when it runs
    # again, does not walk them once more.
    with collector_paused():
        if limit is None:
            chunk = [
                RawRecord(n, dict(zip(REQUEST_COLUMNS, v, strict=True)), m) for n, v, m in rows
            ]
        else:
            chunk = [make_record(n, v, flags, limit) for n, v, flags in rows]
        table = records_to_table(chunk, _WORKER_CTX)
        del chunk
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
    context = worker_context()
    with ProcessPoolExecutor(workers, context, initializer=_init_worker, initargs=(ctx,)) as pool:
        pending: deque[tuple[Future[bytes], int]] = deque()
        for packed in _packed_chunks(reader):
            pending.append((pool.submit(_validate_in_worker, packed), len(packed[1])))
            if len(pending) >= 2 * workers:
                future, n = pending.popleft()
                appended(_unpack(future.result()), n)
        while pending:
            future, n = pending.popleft()
            appended(_unpack(future.result()), n)
    return rows


def validate_into(
    ws: BatchWorkspace, reader: RequestReader, ctx: BatchContext, bar: Progress, workers: int
) -> int:
    """Validation as a batch run and pre-flight both do it: every record into a fresh
    ``ws``, then the whole-batch codes; the number of rows."""
    ws.reset()
    bar.stage("validating", reader.total_bytes)
    with ws.transaction():  # the workspace is scratch: a stopped run resets it
        rows = stage_records(reader, ctx, ws, on_chunk=bar.advance, workers=workers)
    apply_batch_checks(ws, rows, ctx.policy, ctx.envelope)
    return rows


PARALLEL_FROM_BYTES = 8 * 1024 * 1024


def validation_workers(requests: Path, workers: int | None) -> int:
    """Validation processes for ``requests``: ``workers`` when given; otherwise one per
    core (up to 4) on large files, since starting them (the first time, their server:
    ``taxmatch.processes``) costs about a second."""
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
        final: dict[str, list[Any]] = {"request_id": [], "mask": [], "fields": []}
        for i, row_number in enumerate(c["row_number"]):
            counts = BatchCounts(*(c[k][i] for k in _RANKS))
            codes, names = batch_codes(counts, input_rows=rows, max_identical_share=share, cap=cap)
            fields = c["fields"][i]
            if names:
                merged = [n for n in fields.split(";") if n] if fields else []
                merged += [n for n in names if n not in merged]
                fields = ";".join(merged)
            rid = generated_id(row_number) if c["id_rank"][i] > 1 else c["request_id"][i]
            final["request_id"].append(rid)
            final["mask"].append(c["mask"][i] | codes_to_mask(codes))
            final["fields"].append(fields)
        ws.update_final(pa.table({"row_number": c["row_number"], **final}))
