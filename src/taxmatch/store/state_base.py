"""The state database's keys and ledger appends, on the one connection and transactions
of ``store.database`` (errors wrapped by operation name; the ledger key on every write
connection, ledger entries appended on it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import Connection, select
from sqlalchemy.engine import URL

from taxmatch.errors import LedgerError, StoreError
from taxmatch.ledger.chain import LedgerDraft, LedgerEntry, format_recorded_at
from taxmatch.store.database import StateDatabase
from taxmatch.store.keys import Keyring, Keys, ephemeral_keys
from taxmatch.store.ledger_store import KEY_INFO, append_entries
from taxmatch.store.models import BatchRow, batch_from_row, batches

CHUNK: Final = 10_000


class StateBase(StateDatabase):
    """The keys of a state database and its ledger appends; ``StateStore`` is built on it.
    Its transactions are ``StateDatabase``'s; a write connection carries the ledger key."""

    keyring_required = True
    write_error = LedgerError  # ledger entries appended in ``writing`` commit with the rows

    def __init__(self, url: str | URL, keyring: Keyring | None = None) -> None:
        """The database at ``url``; its keys from ``keyring`` (default: ``keyring_for``)."""
        super().__init__(url, keyring)
        try:
            self._stamp = None if self.keyring is None else self.keyring.stamp()
            self._keys = self.keyring.load() if self.keyring is not None else ephemeral_keys()
        except BaseException:
            self._engine.dispose()
            raise

    def find_batch(self, batch_id: str) -> BatchRow | None:
        with self._read("find_batch") as conn:
            row = conn.execute(select(batches).where(batches.c.batch_id == batch_id)).first()
        return None if row is None else batch_from_row(row)

    @property
    def keys(self) -> Keys:
        """The keys in use, read again whenever the keyring file changes (a rotation by
        another process: new values are sealed under the new data key at once)."""
        if self.keyring is not None and (stamp := self.keyring.stamp()) != self._stamp:
            self._keys, self._stamp = self.keyring.load(), stamp
        return self._keys

    def append(self, conn: Connection, drafts: Sequence[LedgerDraft]) -> list[LedgerEntry]:
        """Append ``drafts`` on ``conn`` (a ``writing`` transaction), now, head signed."""
        recorded_at = format_recorded_at(datetime.now(UTC))
        return append_entries(conn, drafts, recorded_at, key=self.ledger_key())

    _append = append

    def ledger_key(self) -> bytes:
        """The secret for ``keyed_hash`` in use: from the keyring, never from this database."""
        return self.keys.current("ledger")[1]

    def _write_info(self) -> dict[str, object]:
        return {KEY_INFO: self.ledger_key()}  # what ``append_entries`` signs with


def check_chunk(chunk: int) -> None:
    if type(chunk) is not int or chunk < 1:
        raise StoreError("chunk must be a positive integer")
