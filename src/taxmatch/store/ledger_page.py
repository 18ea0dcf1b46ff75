"""One page of the ledger, newest first, for the console's ledger view (keyset on seq)."""

from __future__ import annotations

from sqlalchemy import select

from taxmatch.ledger.chain import LedgerEntry
from taxmatch.store.models import entry_from_row, ledger_entries
from taxmatch.store.state import StateStore


def ledger_page(state: StateStore, before: int | None, limit: int) -> list[LedgerEntry]:
    """Up to ``limit`` entries with seq below ``before`` (all when None), newest first."""
    query = select(ledger_entries).order_by(ledger_entries.c.seq.desc()).limit(limit)
    if before is not None:
        query = query.where(ledger_entries.c.seq < before)
    with state.reading("ledger_page") as conn:
        return [entry_from_row(row) for row in conn.execute(query)]


__all__ = ["ledger_page"]
