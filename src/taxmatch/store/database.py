"""The state database: where a store is, its database URL and keyring, opening it (its
schema migrated to head), closing it, and the read and write transactions every store on
it runs in. The one definition of those transactions: ``StateStore`` (through
``state_base``) and ``ServiceStore`` build on it.

A store exists when its directory does and, with the default SQLite state database, the
database file is in it. Only the commands that make a store (``store init``,
``reference load``, ``demo``) pass ``create=True``; every other opening of a missing or
empty store is a ``StoreMissing`` error naming the path, so a mistyped ``--store`` never
makes an empty store that then "verifies". Creating makes the directory 0700 and the
database file 0600 before SQLite opens it, so its ``-wal``/``-shm`` files (which SQLite
gives the database file's mode) are 0600 too.

Must never let a database error escape unwrapped: every failure becomes the store's error
naming the operation (``migrations.guard``), never SQL parameters or data values.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar, Final, Self

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL, make_url

from taxmatch.errors import StoreError, StoreMissing
from taxmatch.owner_only import FILE_MODE, make_dir, restrict
from taxmatch.store.keys import ENV_KEYRING, Keyring
from taxmatch.store.migrations import WRITE_OPTION, guard, open_engine

STATE_FILE: Final = "state.sqlite3"


def check_store(store_dir: Path, database_url: str | None = None) -> Path:
    """``store_dir`` if it is a store (with its SQLite database, unless ``database_url``);
    ``StoreMissing`` (one line, the path) if not."""
    if not (store_dir.is_dir() and (database_url or (store_dir / STATE_FILE).is_file())):
        what = "does not exist" if not store_dir.exists() else "is not a taxmatch store"
        raise StoreMissing(
            f"store {store_dir} {what}; make one with 'taxmatch store init' or "
            "'taxmatch reference load'"
        )
    return store_dir


def state_url(store_dir: Path, database_url: str | None, *, create: bool = False) -> str | URL:
    """The state database URL for this store: ``database_url``, else SQLite in the store.

    ``create``: make the store when missing (0700 directory, 0600 database file);
    otherwise the store must exist. An existing store's modes are tightened either way.
    """
    if not create:
        check_store(store_dir, database_url)
    try:
        make_dir(store_dir)
    except OSError as exc:
        raise StoreError(f"cannot create store directory {store_dir}: {exc.strerror}") from None
    if database_url:
        return database_url
    path = (store_dir / STATE_FILE).resolve()
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)  # never truncates a database
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    for suffix in ("-wal", "-shm", "-journal"):
        restrict(path.with_name(path.name + suffix))
    return URL.create("sqlite+pysqlite", database=str(path))


def keyring_for(url: str | URL, *, required: bool = False) -> Keyring | None:
    """The keyring of the store a database URL belongs to: ``TAXMATCH_KEYRING``, else the
    one beside the SQLite database's directory. None for an in-memory database without
    ``TAXMATCH_KEYRING`` (its keys die with it) and for PostgreSQL without it (an error
    when ``required``: such a database is opened with its store directory)."""
    parsed = make_url(url)
    given = os.environ.get(ENV_KEYRING)
    if given:
        return Keyring(Path(given))
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            return None
        return Keyring.for_store(Path(parsed.database).parent)
    if required:
        raise StoreError(
            "a PostgreSQL state database needs its store's keyring: open it with its store "
            f"directory, or set {ENV_KEYRING}"
        )
    return None


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

    def __exit__(self, *exc: object) -> None:
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
