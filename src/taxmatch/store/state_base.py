"""The state database's plumbing: opening it, its keys, and the read and write
transactions every part of ``StateStore`` runs in (errors wrapped by operation name,
the ledger key on every write connection, ledger entries appended on it).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from sqlalchemy import Connection, select
from sqlalchemy.engine import URL

from taxmatch.errors import LedgerError, StoreError
from taxmatch.ledger.chain import (
    LedgerDraft,
    LedgerEntry,
    format_recorded_at,
)
from taxmatch.store.keys import Keyring, Keys, ephemeral_keys
from taxmatch.store.ledger_store import KEY_INFO, append_entries
from taxmatch.store.location import keyring_for, state_url
from taxmatch.store.migrations import WRITE_OPTION, guard, open_engine
from taxmatch.store.models import (
    BatchRow,
    batch_from_row,
    batches,
)

CHUNK: Final = 10_000


class StateBase:
    """The connection and keys of a state database; ``StateStore`` is built on it."""

    def __init__(self, url: str | URL, keyring: Keyring | None = None) -> None:
        """The database at ``url``; its keys from ``keyring`` (default: ``keyring_for``)."""
        with guard("opening the state database"):
            self.keyring = keyring or keyring_for(url, required=True)
        self._engine = open_engine(url, self.keyring)
        try:
            self._stamp = None if self.keyring is None else self.keyring.stamp()
            self._keys = self.keyring.load() if self.keyring is not None else ephemeral_keys()
        except BaseException:
            self._engine.dispose()
            raise

    @classmethod
    def open(
        cls, store_dir: Path, database_url: str | None = None, *, create: bool = False
    ) -> Self:
        """The store's database: ``database_url`` if given, else SQLite in ``store_dir``.

        The store must exist (``StoreMissing`` otherwise) unless ``create``.
        """
        url = state_url(store_dir, database_url, create=create)
        return cls(url, Keyring.for_store(store_dir))

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._engine.dialect.name

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def find_batch(self, batch_id: str) -> BatchRow | None:
        with self._read("find_batch") as conn:
            row = conn.execute(select(batches).where(batches.c.batch_id == batch_id)).first()
        return None if row is None else batch_from_row(row)

    @contextmanager
    def reading(self, operation: str) -> Iterator[Connection]:
        """A read transaction for the store's query modules (accounting); errors wrapped."""
        with self._read(operation, snapshot=True) as conn:
            yield conn

    @contextmanager
    def writing(self, operation: str) -> Iterator[Connection]:
        """A write transaction (under the write lock) for the store's table modules
        (console); ledger entries appended on it commit with the rows. Errors wrapped."""
        with self._write(operation, LedgerError) as conn:
            yield conn

    @property
    def keys(self) -> Keys:
        """The keys in use, read again whenever the keyring file changes (a rotation by
        another process: new values are sealed under the new data key at once)."""
        if self.keyring is not None and (stamp := self.keyring.stamp()) != self._stamp:
            self._keys, self._stamp = self.keyring.load(), stamp
        return self._keys

    def append(self, conn: Connection, drafts: Sequence[LedgerDraft]) -> list[LedgerEntry]:
        """Append ``drafts`` on ``conn`` (a ``writing`` transaction), now, head signed."""
        return self._append(conn, drafts)

    def _append(self, conn: Connection, drafts: Sequence[LedgerDraft]) -> list[LedgerEntry]:
        recorded_at = format_recorded_at(datetime.now(UTC))
        return append_entries(conn, drafts, recorded_at, key=self.ledger_key())

    def ledger_key(self) -> bytes:
        """The secret for ``keyed_hash`` in use: from the keyring, never from this database."""
        return self.keys.current("ledger")[1]

    # --- plumbing ---------------------------------------------------------------------

    @contextmanager
    def _read(self, operation: str, *, snapshot: bool = False) -> Iterator[Connection]:
        with guard(operation), self._engine.connect() as conn:
            if snapshot and self.backend == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    @contextmanager
    def _write(self, operation: str, error: type[StoreError] = StoreError) -> Iterator[Connection]:
        with guard(operation, error), self._engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            conn.info[KEY_INFO] = self.ledger_key()  # what ``append_entries`` signs with
            try:
                with conn.begin():
                    yield conn
            finally:
                conn.info.pop(KEY_INFO, None)


def check_chunk(chunk: int) -> None:
    if type(chunk) is not int or chunk < 1:
        raise StoreError("chunk must be a positive integer")
