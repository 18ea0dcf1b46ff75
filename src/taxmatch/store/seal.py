"""Sealing a batch: the one transaction in which its disclosures become disclosures made.

A batch's package is sealed when, in one write transaction, the ledger gets its
``package_delivered`` entry, the custodian-only ``disclosure_subjects`` rows are written
with each disclosure's facts (request id sha256, person key, values HMAC), each chunk of
them (at most ``DISCLOSURE_CHUNK``, in file order) is bound by one ``disclosures`` entry,
a last ``disclosures_sealed`` entry counts them, and the batch is marked done.
Before that commit nothing about the batch's disclosures exists in the ledger or the
accounting tables; after it, all of it does. A run killed (or stopped by the kill switch)
before the seal therefore leaves no disclosure to account for, and a re-run seals each
disclosure exactly once.

``subjects_made`` is the readers' one definition of a disclosure made: a subject row
whose batch is done. It also keeps out the rows earlier versions of taxmatch wrote with
the decisions, for batches that then never finished.

Must never: write a disclosures entry or subject row outside the sealing transaction, seal
a batch twice, or put a TIN, statute or stated reason into an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from itertools import chain, islice
from typing import TypeVarTuple

from sqlalchemy import Select, select

from taxmatch.errors import BatchNotFound, StoreError
from taxmatch.ledger.chain import LedgerDraft
from taxmatch.store.ledger_bound import (
    DISCLOSURE_CHUNK,
    EVENT_DISCLOSURES_SEALED,
    Sealed,
    disclosures_draft,
)
from taxmatch.store.models import (
    Params,
    SubjectRow,
    batches,
    check_aware,
    disclosure_subjects,
    dump_counts,
)
from taxmatch.store.state import StateStore
from taxmatch.store.state_base import announce
from taxmatch.store.subjects import insert_subjects, subject_params

SEALED = "done"  # the batch status set in the sealing transaction

_Ts = TypeVarTuple("_Ts")
DisclosureChunk = Sequence[SubjectRow]  # in file order


def subjects_made(query: Select[*_Ts]) -> Select[*_Ts]:
    """``query`` over the disclosures made: FROM the subjects joined with their batch,
    WHERE the batch's package is sealed. ``query`` selects columns of the two tables;
    every reader of the accounting tables uses this and nothing else."""
    return (
        query.select_from(disclosure_subjects)
        .join(batches, batches.c.batch_id == disclosure_subjects.c.batch_id)
        .where(batches.c.status == SEALED)
    )


def seal_batch(
    state: StateStore,
    batch_id: str,
    *,
    delivered: LedgerDraft,
    disclosures: Iterable[DisclosureChunk],
    counts: Mapping[str, int],
    finished_at: datetime,
) -> str:
    """Seal ``batch_id``: ``delivered`` (its ``package_delivered`` entry), then the subject
    rows of ``disclosures`` (in file order, with their facts), each ``DISCLOSURE_CHUNK``
    of them bound by a ``disclosures`` entry, then a ``disclosures_sealed`` entry, then the
    batch marked done with its ``counts`` and ``finished_at``, all in one transaction. The
    new head.

    ``StoreError`` when the batch is already sealed (nothing is written then), or when a
    subject row lacks its facts or comes out of file order.
    """
    check_aware("finished_at", finished_at)
    moment = datetime.now(UTC)
    keys = state.keys
    made, chunks = 0, 0
    with state.writing("seal_batch") as conn:
        status = conn.execute(
            select(batches.c.status).where(batches.c.batch_id == batch_id)
        ).scalar_one_or_none()
        if status is None:
            raise BatchNotFound(f"batch {batch_id} not found")
        if status == SEALED:
            raise StoreError(f"batch {batch_id} is already sealed")
        state.append(conn, [delivered], moment)
        sealed = LedgerDraft(
            EVENT_DISCLOSURES_SEALED, delivered.actor, delivered.origin, True, batch_id
        )
        last = 0
        for subjects in _rechunked(disclosures):
            for s in subjects:
                if s.values_hmac is None or s.person_key is None or s.request_id_sha256 is None:
                    raise StoreError(f"disclosure {s.disclosure_id} is sealed without its facts")
                if s.row_number <= last:
                    raise StoreError(f"disclosure {s.disclosure_id} is out of file order")
                last = s.row_number
            params = [subject_params(batch_id, s, moment, keys) for s in subjects]
            insert_subjects(conn, params)
            chunks += 1
            rows = subjects[0].row_number, subjects[-1].row_number
            written = _written(subjects, params)
            drafts = [disclosures_draft(conn, keys, sealed, chunks, rows, written)]
            state.append(conn, drafts, moment)
            made += len(subjects)
        total = {"disclosures": made, "chunks": chunks}
        head = state.append(conn, [replace(sealed, payload=total)], moment)[-1]
        conn.execute(
            batches.update()
            .where(batches.c.batch_id == batch_id)
            .values(status=SEALED, counts=dump_counts(counts), finished_at=finished_at)
        )
    return announce(chunks + 2, head)


def _written(subjects: Sequence[SubjectRow], params: Sequence[Params]) -> Sealed:
    """What the seal encrypted in each subject row: (id, column) -> (stored, plaintext)."""
    written: dict[tuple[str, str], tuple[str, str]] = {}
    for s, stored in zip(subjects, params, strict=True):
        written[s.disclosure_id, "tin"] = str(stored["tin"]), s.tin
        written[s.disclosure_id, "relevance"] = str(stored["relevance"]), s.relevance
    return written


def _rechunked(disclosures: Iterable[DisclosureChunk]) -> Iterator[list[SubjectRow]]:
    """The subject rows of ``disclosures`` in chunks of ``DISCLOSURE_CHUNK`` (the last
    shorter), whatever chunks they came in."""
    rows = chain.from_iterable(disclosures)
    while part := list(islice(rows, DISCLOSURE_CHUNK)):
        yield part
