"""Where a store is, whether it exists, and the state database URL it implies.

A store exists when its directory does and, with the default SQLite state database, the
database file is in it. Only the commands that make a store (``store init``,
``reference load``, ``demo``) pass ``create=True``; every other opening of a missing or
empty store is a ``StoreMissing`` error naming the path, so a mistyped ``--store`` never
makes an empty store that then "verifies".

Creating makes the directory 0700 and the database file 0600 before SQLite opens it, so
its ``-wal``/``-shm`` files (which SQLite gives the database file's mode) are 0600 too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from sqlalchemy.engine import URL, make_url

from taxmatch.errors import StoreError, StoreMissing
from taxmatch.owner_only import FILE_MODE, make_dir, restrict
from taxmatch.store.keys import ENV_KEYRING, Keyring

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
