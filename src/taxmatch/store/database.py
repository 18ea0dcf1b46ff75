"""The state database's connection: opening it (its schema migrated to head), closing it,
and the read and write transactions every store on it runs in. The one definition of
those transactions: ``StateStore`` (through ``state_base``) and ``ServiceStore`` build on it.

Must never let a database error escape unwrapped: every failure becomes the store's error
naming the operation (``migrations.guard``), never SQL parameters or data values.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL

from taxmatch.errors import StoreError
from taxmatch.store.keys import Keyring
from taxmatch.store.location import keyring_for, state_url
from taxmatch.store.migrations import WRITE_OPTION, guard, open_engine


class StateDatabase:
    """One engine on the state database and its transactions. Thread-safe."""

    # Whether a database without a keyring (PostgreSQL without its store) is an error.
    keyring_required: ClassVar[bool] = False
    write_error: ClassVar[type[StoreError]] = StoreError  # what a failure in ``writing`` is

    def __init__(self, url: str | URL, keyring: Keyring | None = None) -> None:
        """The database at ``url``; its keyring ``keyring`` (default: ``keyring_for``)."""
        with guard("opening the state database"):
            self.keyring = keyring or keyring_for(url, required=self.keyring_required)
        self._engine: Engine = open_engine(url, self.keyring)

    @classmethod
    def open(
        cls, store_dir: Path, database_url: str | None = None, *, create: bool = False
    ) -> Self:
        """The store's database: ``database_url`` if given, else SQLite in ``store_dir``;
        the store must exist (``StoreMissing`` otherwise) unless ``create``."""
        url = state_url(store_dir, database_url, create=create)
        return cls(url, Keyring.for_store(store_dir))

    @property
    def backend(self) -> str:  # "sqlite" or "postgresql"
        return self._engine.dialect.name

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextmanager
    def reading(self, operation: str, *, snapshot: bool = True) -> Iterator[Connection]:
        """A read transaction, errors wrapped; on one snapshot (PostgreSQL: REPEATABLE READ)
        unless not ``snapshot`` (a single statement needs none)."""
        with guard(operation), self._engine.connect() as conn:
            if snapshot and self.backend == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    @contextmanager
    def writing(
        self, operation: str, error: type[StoreError] | None = None
    ) -> Iterator[Connection]:
        """A write transaction under the write lock (SQLite: ``BEGIN IMMEDIATE``, the single
        writer); errors wrapped as ``error`` (default: ``write_error``)."""
        with guard(operation, error or self.write_error), self._engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                yield conn
