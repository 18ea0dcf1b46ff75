"""Sealing a batch: the one transaction in which its disclosures become disclosures made.

A batch's package is sealed when, in one write transaction, the ledger gets its
``package_delivered`` entry followed by one ``disclosure`` entry per disclosed row, the
custodian-only ``disclosure_subjects`` rows are written and bound by a last
``disclosures_sealed`` entry, and the batch is marked done.
Before that commit nothing about the batch's disclosures exists in the ledger or the
accounting tables; after it, all of it does. A run killed (or stopped by the kill switch)
before the seal therefore leaves no disclosure to account for, and a re-run seals each
disclosure exactly once.

``subjects_made`` is the readers' one definition of a disclosure made: a subject row
whose batch is done. It also keeps out the rows earlier versions of taxmatch wrote with
the decisions, for batches that then never finished.

Must never: write a disclosure entry or subject row outside the sealing transaction, seal
a batch twice, or put a TIN, statute or stated reason into an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TypeVarTuple

from sqlalchemy import Select, select

from taxmatch.errors import BatchNotFound, StoreError
from taxmatch.ledger.chain import LedgerDraft
from taxmatch.store.ledger_bound import EVENT_DISCLOSURES_SEALED, SUBJECTS, bind
from taxmatch.store.models import SubjectRow, batches, check_aware, disclosure_subjects, dump_counts
from taxmatch.store.state import StateStore
from taxmatch.store.state_base import announce
from taxmatch.store.subjects import subject_params

SEALED = "done"  # the batch status set in the sealing transaction

_Ts = TypeVarTuple("_Ts")
DisclosureChunk = tuple[Sequence[LedgerDraft], Sequence[SubjectRow]]


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
    """Seal ``batch_id``: ``delivered`` (its ``package_delivered`` entry), then every
    chunk of (disclosure entries, subject rows), then a ``disclosures_sealed`` entry
    binding the subject rows, then the batch marked done with its ``counts`` and
    ``finished_at``, all in one transaction. The new ledger head.

    ``StoreError`` when the batch is already sealed (nothing is written then).
    """
    check_aware("finished_at", finished_at)
    moment = datetime.now(UTC)
    entries = 0
    keys = state.keys
    with state.writing("seal_batch") as conn:
        status = conn.execute(
            select(batches.c.status).where(batches.c.batch_id == batch_id)
        ).scalar_one_or_none()
        if status is None:
            raise BatchNotFound(f"batch {batch_id} not found")
        if status == SEALED:
            raise StoreError(f"batch {batch_id} is already sealed")
        head = state.append(conn, [delivered], moment)[-1]
        for drafts, subjects in disclosures:
            if drafts:
                head = state.append(conn, drafts, moment)[-1]
                entries += len(drafts)
            if subjects:
                conn.execute(
                    disclosure_subjects.insert(),
                    [subject_params(batch_id, s, moment, keys) for s in subjects],
                )
        who = delivered.actor, delivered.origin
        made = {"disclosures": entries}
        sealed = LedgerDraft(EVENT_DISCLOSURES_SEALED, *who, True, batch_id, made)
        rows = disclosure_subjects.c.batch_id == batch_id
        head = state.append(conn, [bind(conn, keys, sealed, (SUBJECTS, rows))], moment)[-1]
        conn.execute(
            batches.update()
            .where(batches.c.batch_id == batch_id)
            .values(status=SEALED, counts=dump_counts(counts), finished_at=finished_at)
        )
    return announce(entries + 2, head)
