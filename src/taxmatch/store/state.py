"""The state database: batches, per-row decisions and the append-only audit ledger.

SQLite file by default (``<store>/state.sqlite3``, WAL, foreign keys on); PostgreSQL when
given a ``postgresql+psycopg://`` URL. Opening a store runs the Alembic migrations to
``head``. The ledger is appended under a write lock (SQLite ``BEGIN IMMEDIATE``,
PostgreSQL ``SELECT ... FOR UPDATE`` on the one-row ``ledger_head``), so concurrent
appenders always extend one valid chain; database triggers refuse UPDATE and DELETE.

Must never: let a database error escape unwrapped (every failure is a ``StoreError`` or
``LedgerError`` naming the operation, never SQL parameters or data values), log a value,
load a whole table into memory, or change a ledger entry once written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime

from sqlalchemy import select

from taxmatch.errors import BatchNotFound, StoreError
from taxmatch.events import Event, emit
from taxmatch.ledger.chain import (
    LedgerDraft,
    LedgerEntry,
    PayloadValue,
    VerifyResult,
)
from taxmatch.ledger.digest import EVENT_CONFIG_CHANGED
from taxmatch.store.database import STATE_FILE
from taxmatch.store.ledger_bound import received_draft
from taxmatch.store.ledger_store import last_config, verify_store
from taxmatch.store.models import (
    CHUNK,
    BatchRow,
    DecisionRow,
    SubjectRow,
    batch_from_row,
    batch_params,
    batches,
    check_aware,
    check_status,
    dump_counts,
    entry_from_row,
    has_row,
    ledger_entries,
    ledger_head,
    pages,
)
from taxmatch.store.state_base import StateBase, announce


class StateStore(StateBase):
    """Typed access to the state database. Thread-safe; one per process is enough.
    Batches and the ledger here; keys, appends and decision rows in ``StateBase``."""

    # --- batches ----------------------------------------------------------------------

    def list_batches(self, agency: str | None = None) -> list[BatchRow]:
        query = select(batches).order_by(batches.c.created_at, batches.c.batch_id)
        if agency is not None:
            query = query.where(batches.c.agency == agency)
        with self.reading("list_batches", snapshot=False) as conn:
            return [batch_from_row(row) for row in conn.execute(query)]

    def create_batch(self, row: BatchRow, *, actor: str = "system", origin: str = "store") -> None:
        """Store a new batch and, in the same transaction, its ``batch_received`` entry,
        which binds the batch's ownership columns (``ledger_bound.BATCHES``)."""
        params = batch_params(row)
        with self.writing("create_batch") as conn:
            if has_row(conn, batches.c.batch_id, row.batch_id):
                raise StoreError(f"batch {row.batch_id} already exists")
            conn.execute(batches.insert(), params)
            received = received_draft(conn, self.keys, row.batch_id, actor, origin)
            self.append(conn, [received])

    def record_received(self, batch_id: str, *, actor: str, origin: str) -> None:
        """A ``batch_received`` entry for a stored batch that runs again (bound anew)."""
        with self.writing("record_received") as conn:
            self.append(conn, [received_draft(conn, self.keys, batch_id, actor, origin)])

    def set_batch_status(
        self,
        batch_id: str,
        status: str,
        *,
        counts: Mapping[str, int] | None = None,
        finished_at: datetime | None = None,
        error_code: str | None = None,
    ) -> None:
        """Move a batch to ``status``; ``None`` arguments leave their column unchanged.

        Moving to "queued" or "running" clears ``finished_at`` and ``error_code``: a batch
        that runs again has neither finished nor failed (yet).
        """
        check_status(status)
        check_aware("finished_at", finished_at)
        values: dict[str, object] = {"status": status}
        if status in ("queued", "running"):
            values.update(finished_at=None, error_code=None)
        given = {"finished_at": finished_at, "error_code": error_code}
        values.update({name: value for name, value in given.items() if value is not None})
        if counts is not None:
            values["counts"] = dump_counts(counts)
        with self.writing("set_batch_status", StoreError) as conn:
            done = conn.execute(
                batches.update().where(batches.c.batch_id == batch_id).values(**values)
            )
            if done.rowcount == 0:
                raise BatchNotFound(f"batch {batch_id} not found")

    # --- the ledger -------------------------------------------------------------------

    def record_config(
        self, kind: str, identity: str, *, actor: str, origin: str, **details: PayloadValue
    ) -> bool:
        """A ``config_changed`` entry for ``kind`` (policy, reference, model) unless the last
        one for that kind names the same ``identity`` (a sha256 or snapshot id); True when
        one was appended. The payload carries ``identity``, ``previous_identity`` (None the
        first time) and ``details`` (ids, versions, hashes only). Checked under the lock.
        """
        with self.writing("record_config") as conn:
            conn.execute(select(ledger_head.c.seq).with_for_update())  # lock before reading
            last = last_config(conn, kind)
            previous = None if last is None else last.get("identity")
            if previous == identity:
                return False
            payload = {**details, "identity": identity, "previous_identity": previous}
            draft = LedgerDraft(EVENT_CONFIG_CHANGED, actor, origin, True, kind, payload)
            self.append(conn, [draft])
        return True

    def append_ledger(
        self, drafts: Sequence[LedgerDraft], *, now: Callable[[], datetime] | None = None
    ) -> str:
        """Link and insert ``drafts`` after the current head, atomically; the new head hash.

        Refuses to extend a ledger whose head row does not match its last entry.
        """
        with self.writing("append_ledger") as conn:
            entries = self.append(conn, drafts, None if now is None else now())
            if not entries:
                return str(conn.execute(select(ledger_head.c.entry_hash)).scalar_one())
        return announce(len(entries), entries[-1])

    def ledger_head(self) -> tuple[int, str]:
        """(seq, hash) of the last entry; (0, GENESIS) when the ledger is empty."""
        with self.reading("ledger_head", snapshot=False) as conn:
            seq, head = conn.execute(
                select(ledger_head.c.seq, ledger_head.c.entry_hash).where(ledger_head.c.id == 1)
            ).one()
        return int(seq), str(head)

    def iter_ledger(self, chunk: int = CHUNK) -> Iterator[LedgerEntry]:
        """Every entry by seq, ``chunk`` at a time; ``LedgerError`` on an unreadable row."""
        query = select(ledger_entries)
        for page in pages(self, "iter_ledger", query, ledger_entries.c.seq, chunk):
            yield from map(entry_from_row, page)

    def verify_ledger(self, witness: tuple[int, str] | None = None) -> VerifyResult:
        """Verify the whole chain, that it ends exactly at the recorded head (signed with
        the ledger key) and contains the ``witness`` head (seq, hash) if given, and that
        every stored decision row and bound row matches the ledger entry that records it.

        Reads one consistent snapshot (a single read transaction, REPEATABLE READ on
        PostgreSQL), streaming entries and rows with server-side cursors.
        """
        with self.reading("verify_ledger") as conn:
            result = verify_store(conn, self.keys, witness)
        emit(
            Event.LEDGER_VERIFIED,
            ok=result.ok,
            entries=result.entries,
            decisions=result.decisions,
            bound=result.bound,
            first_bad_seq=result.first_bad_seq,
        )
        return result


__all__ = ["CHUNK", "STATE_FILE", "BatchRow", "DecisionRow", "StateStore", "SubjectRow"]
