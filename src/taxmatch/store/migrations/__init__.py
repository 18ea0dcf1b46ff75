"""Opening the state database: engine per backend, error wrapping, migrations to head.

``open_engine`` makes the engine (SQLite: WAL, foreign keys, busy timeout and our own
``BEGIN``/``BEGIN IMMEDIATE``; PostgreSQL: the psycopg 3 driver) and runs Alembic
``upgrade head`` in one write transaction, so an upgrade commits or rolls back as one.
No alembic.ini: the revisions live in ``versions/`` next to ``env.py``.

Must never configure logging, echo SQL, or let a database error escape with its message
(DBAPI messages can quote data values): ``guard`` keeps only the error's type and SQLSTATE.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from taxmatch.errors import StoreError
from taxmatch.store.keys import Keyring

MIGRATIONS_DIR: Final = Path(__file__).parent
WRITE_OPTION: Final = "taxmatch_write"  # execution option: SQLite takes the write lock at BEGIN
_UPGRADE_LOCK: Final = 0x7A6D_0001  # pg_advisory_xact_lock id: one upgrader at a time
_BUSY_SECONDS: Final = 60
# SQLite's page cache per connection, in KiB (its default is 2 MiB): a batch inserts its
# decision and subject rows at random places of several indexes (person key, TIN index,
# disclosure id), whose pages a small cache reads again and again as the tables grow.
_CACHE_KIB: Final = 64 * 1024


@contextmanager
def guard(operation: str, error: type[StoreError] = StoreError) -> Iterator[None]:
    """Turn database failures into ``error`` naming ``operation``; drop the DBAPI message."""
    try:
        yield
    except DBAPIError as exc:
        kind = type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__
        state = getattr(exc.orig, "sqlstate", None)
        detail = f"{kind}, SQLSTATE {state}" if state else kind
        raise error(f"{operation} failed ({detail})") from None
    except SQLAlchemyError as exc:
        raise error(f"{operation} failed ({type(exc).__name__})") from None


def open_engine(url: str | URL, keyring: Keyring | None = None) -> Engine:
    """An engine for the state database at ``url``, its schema upgraded to head.

    ``keyring``: the store's keys, made when the database is new (so a store never has
    data without keys) and handed to the migrations that move or encrypt data.
    """
    engine = _create_engine(url)
    try:
        with guard("upgrading the state database schema"), engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                upgrade_to_head(conn, keyring)
    except BaseException:
        engine.dispose()
        raise
    return engine


def upgrade_to_head(conn: Connection, keyring: Keyring | None = None) -> None:
    """Alembic ``upgrade head`` on ``conn`` (already in a transaction); no-op at head.

    Raises ``StoreError`` when the database is at a revision this taxmatch does not know
    (written by a newer version): readers refuse unknown schema versions.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.attributes["connection"] = conn
    config.attributes["keyring"] = keyring
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _UPGRADE_LOCK})
    if keyring is not None and MigrationContext.configure(conn).get_current_revision() is None:
        keyring.load(create=True)  # a new database: its keys before its first row
    try:
        command.upgrade(config, "head")
    except CommandError:
        raise StoreError(
            "state database schema is unknown to this taxmatch (newer version?)"
        ) from None


def _create_engine(url: str | URL) -> Engine:
    with guard("opening the state database"):
        parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise StoreError("state database must be SQLite or PostgreSQL")
    with guard("opening the state database"):
        if backend == "postgresql":
            if parsed.drivername == "postgresql":
                parsed = parsed.set(drivername="postgresql+psycopg")
            return create_engine(parsed, hide_parameters=True, pool_pre_ping=True)
        options: dict[str, Any] = {
            "hide_parameters": True,
            "connect_args": {"timeout": _BUSY_SECONDS, "check_same_thread": False},
        }
        if parsed.database in (None, "", ":memory:"):
            options["poolclass"] = StaticPool
        engine = create_engine(parsed, **options)
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from pysqlite so that BEGIN is ours (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={_BUSY_SECONDS * 1000}")
    cursor.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # Writers take the write lock up front: a deferred transaction that reads and then
    # writes can fail with SQLITE_BUSY instead of waiting, and two appenders could both
    # read the same ledger head.
    immediate = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


__all__ = ["MIGRATIONS_DIR", "WRITE_OPTION", "guard", "open_engine", "upgrade_to_head"]
