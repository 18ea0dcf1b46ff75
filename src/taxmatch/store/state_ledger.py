"""The state database's audit ledger: appending entries, configuration changes, the
head, and reading or verifying the whole chain.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime

from sqlalchemy import select

from taxmatch.errors import LedgerError
from taxmatch.events import Event, emit
from taxmatch.ledger.chain import (
    LedgerDraft,
    LedgerEntry,
    PayloadValue,
    VerifyResult,
    format_recorded_at,
)
from taxmatch.ledger.digest import (
    EVENT_CONFIG_CHANGED,
)
from taxmatch.store.ledger_store import append_entries, last_config, verify_store
from taxmatch.store.models import (
    entry_from_row,
    ledger_entries,
    ledger_head,
)
from taxmatch.store.state_base import CHUNK, StateBase, check_chunk


class LedgerMethods(StateBase):
    """The append-only ledger of a state database."""

    def record_config(
        self, kind: str, identity: str, *, actor: str, origin: str, **details: PayloadValue
    ) -> bool:
        """A ``config_changed`` entry for ``kind`` (policy, reference, model) unless the last
        one for that kind names the same ``identity`` (a sha256 or snapshot id); True when
        one was appended. The payload carries ``identity``, ``previous_identity`` (None the
        first time) and ``details`` (ids, versions, hashes only). Checked under the lock.
        """
        with self._write("record_config", LedgerError) as conn:
            conn.execute(select(ledger_head.c.seq).with_for_update())  # lock before reading
            last = last_config(conn, kind)
            previous = None if last is None else last.get("identity")
            if previous == identity:
                return False
            payload = {**details, "identity": identity, "previous_identity": previous}
            draft = LedgerDraft(EVENT_CONFIG_CHANGED, actor, origin, True, kind, payload)
            self._append(conn, [draft])
        return True

    def append_ledger(
        self, drafts: Sequence[LedgerDraft], *, now: Callable[[], datetime] | None = None
    ) -> str:
        """Link and insert ``drafts`` after the current head, atomically; the new head hash.

        Refuses to extend a ledger whose head row does not match its last entry.
        """
        clock = now or (lambda: datetime.now(UTC))
        with self._write("append_ledger", LedgerError) as conn:
            entries = append_entries(
                conn, drafts, format_recorded_at(clock()), key=self.ledger_key()
            )
            if not entries:
                return str(conn.execute(select(ledger_head.c.entry_hash)).scalar_one())
        new_seq, new_head = entries[-1].seq, entries[-1].entry_hash
        emit(Event.LEDGER_APPENDED, logging.DEBUG, entries=len(entries), seq=new_seq, head=new_head)
        return new_head

    def ledger_head(self) -> tuple[int, str]:
        """(seq, hash) of the last entry; (0, GENESIS) when the ledger is empty."""
        with self._read("ledger_head") as conn:
            seq, head = conn.execute(
                select(ledger_head.c.seq, ledger_head.c.entry_hash).where(ledger_head.c.id == 1)
            ).one()
        return int(seq), str(head)

    def iter_ledger(self, chunk: int = CHUNK) -> Iterator[LedgerEntry]:
        """Every entry by seq, ``chunk`` at a time; ``LedgerError`` on an unreadable row."""
        check_chunk(chunk)
        last = 0
        while True:
            query = select(ledger_entries).where(ledger_entries.c.seq > last)
            with self._read("iter_ledger") as conn:
                page = conn.execute(query.order_by(ledger_entries.c.seq).limit(chunk)).all()
            yield from (entry_from_row(row) for row in page)
            if len(page) < chunk:
                return
            last = page[-1].seq

    def verify_ledger(self, witness: tuple[int, str] | None = None) -> VerifyResult:
        """Verify the whole chain, that it ends exactly at the recorded head (signed with
        the ledger key) and contains the ``witness`` head (seq, hash) if given, and that
        every stored decision row and bound row matches the ledger entry that records it.

        Reads one consistent snapshot (a single read transaction, REPEATABLE READ on
        PostgreSQL), streaming entries and rows with server-side cursors.
        """
        with self._read("verify_ledger", snapshot=True) as conn:
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
