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

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select

from taxmatch.errors import BatchNotFound, LedgerError, StoreError
from taxmatch.store.ledger_bound import received_draft
from taxmatch.store.location import STATE_FILE
from taxmatch.store.models import (
    BatchRow,
    DecisionRow,
    SubjectRow,
    batch_from_row,
    batch_params,
    batches,
    check_aware,
    check_status,
    dump_counts,
)
from taxmatch.store.state_base import CHUNK
from taxmatch.store.state_decisions import DecisionMethods
from taxmatch.store.state_ledger import LedgerMethods


class StateStore(DecisionMethods, LedgerMethods):
    """Typed access to the state database. Thread-safe; one per process is enough.

    Its parts are named steps: ``database`` (opening, transactions; shared with
    ``ServiceStore``), ``state_base`` (keys, ledger appends),
    ``state_decisions`` (decision rows), ``state_ledger`` (the ledger); batches are here.
    """

    # --- batches ----------------------------------------------------------------------

    def list_batches(self, agency: str | None = None) -> list[BatchRow]:
        query = select(batches).order_by(batches.c.created_at, batches.c.batch_id)
        if agency is not None:
            query = query.where(batches.c.agency == agency)
        with self._read("list_batches") as conn:
            return [batch_from_row(row) for row in conn.execute(query)]

    def create_batch(self, row: BatchRow, *, actor: str = "system", origin: str = "store") -> None:
        """Store a new batch and, in the same transaction, its ``batch_received`` entry,
        which binds the batch's ownership columns (``ledger_bound.BATCHES``)."""
        params = batch_params(row)
        with self._write("create_batch", LedgerError) as conn:
            exists = conn.execute(
                select(batches.c.batch_id).where(batches.c.batch_id == row.batch_id)
            ).first()
            if exists is not None:
                raise StoreError(f"batch {row.batch_id} already exists")
            conn.execute(batches.insert(), params)
            received = received_draft(conn, self.keys, row.batch_id, actor, origin)
            self._append(conn, [received])

    def record_received(self, batch_id: str, *, actor: str, origin: str) -> None:
        """A ``batch_received`` entry for a stored batch that runs again (bound anew)."""
        with self._write("record_received", LedgerError) as conn:
            self._append(conn, [received_draft(conn, self.keys, batch_id, actor, origin)])

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
        if counts is not None:
            values["counts"] = dump_counts(counts)
        if finished_at is not None:
            values["finished_at"] = finished_at
        if error_code is not None:
            values["error_code"] = error_code
        with self._write("set_batch_status") as conn:
            done = conn.execute(
                batches.update().where(batches.c.batch_id == batch_id).values(**values)
            )
            if done.rowcount == 0:
                raise BatchNotFound(f"batch {batch_id} not found")


__all__ = ["CHUNK", "STATE_FILE", "BatchRow", "DecisionRow", "StateStore", "SubjectRow"]
