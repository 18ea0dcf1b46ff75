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

import logging
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from sqlalchemy import Connection, Table, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL

from taxmatch.errors import BatchNotFound, LedgerError, StoreError
from taxmatch.events import Event, emit
from taxmatch.ledger.chain import (
    GENESIS,
    PROBLEM_HEAD,
    PROBLEM_MALFORMED,
    ChainVerifier,
    LedgerDraft,
    LedgerEntry,
    VerifyResult,
    format_recorded_at,
    link_all,
)
from taxmatch.store.migrations import WRITE_OPTION, guard, open_engine
from taxmatch.store.models import (
    BatchRow,
    DecisionRow,
    batch_from_row,
    batch_params,
    batches,
    check_aware,
    check_status,
    decision_from_row,
    decision_params,
    decisions,
    dump_counts,
    entry_from_row,
    entry_params,
    ledger_entries,
    ledger_head,
    ledger_key,
)

STATE_FILE: Final = "state.sqlite3"
CHUNK: Final = 10_000


class StateStore:
    """Typed access to the state database. Thread-safe; one per process is enough."""

    def __init__(self, url: str | URL) -> None:
        self._engine = open_engine(url)
        self._key: bytes | None = None
        try:
            self._key = self._load_key()
        except BaseException:
            self._engine.dispose()
            raise

    @classmethod
    def open(cls, store_dir: Path, database_url: str | None = None) -> StateStore:
        """The store's database: ``database_url`` if given, else SQLite in ``store_dir``."""
        if database_url:
            return cls(database_url)
        try:
            store_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create store directory {store_dir}: {exc.strerror}") from None
        path = (store_dir / STATE_FILE).resolve()
        return cls(URL.create("sqlite+pysqlite", database=str(path)))

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._engine.dialect.name

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- batches ----------------------------------------------------------------------

    def find_batch(self, batch_id: str) -> BatchRow | None:
        with self._read("find_batch") as conn:
            row = conn.execute(select(batches).where(batches.c.batch_id == batch_id)).first()
        return None if row is None else batch_from_row(row)

    def list_batches(self, agency: str | None = None) -> list[BatchRow]:
        query = select(batches).order_by(batches.c.created_at, batches.c.batch_id)
        if agency is not None:
            query = query.where(batches.c.agency == agency)
        with self._read("list_batches") as conn:
            return [batch_from_row(row) for row in conn.execute(query)]

    def create_batch(self, row: BatchRow) -> None:
        params = batch_params(row)
        with self._write("create_batch") as conn:
            exists = conn.execute(
                select(batches.c.batch_id).where(batches.c.batch_id == row.batch_id)
            ).first()
            if exists is not None:
                raise StoreError(f"batch {row.batch_id} already exists")
            conn.execute(batches.insert(), params)

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
        values: dict[str, Any] = {"status": status}
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

    # --- decisions --------------------------------------------------------------------

    def write_decisions(self, batch_id: str, rows: Iterable[DecisionRow]) -> int:
        """Insert decisions in chunks of 10 000; returns how many rows were newly written.

        Idempotent on (batch_id, row_number): a row already stored is kept as it is and not
        counted, so re-writing the same rows after a crash never duplicates. Each chunk
        commits on its own. SQLite: multi-row ``INSERT ... ON CONFLICT DO NOTHING``;
        PostgreSQL: ``COPY`` into a temporary table, then the same insert from it.
        """
        if self.find_batch(batch_id) is None:
            raise BatchNotFound(f"batch {batch_id} not found")
        written = 0
        iterator = iter(rows)
        while chunk := list(islice(iterator, CHUNK)):
            params = [decision_params(batch_id, row) for row in chunk]
            with self._write("write_decisions") as conn:
                written += self._insert_decisions(conn, params)
        return written

    def count_decisions(self, batch_id: str) -> int:
        query = select(func.count()).select_from(decisions)
        with self._read("count_decisions") as conn:
            return int(conn.execute(query.where(decisions.c.batch_id == batch_id)).scalar_one())

    def iter_decisions(self, batch_id: str, chunk: int = CHUNK) -> Iterator[DecisionRow]:
        """A batch's decisions by row_number, fetched ``chunk`` rows at a time (keyset)."""
        _check_chunk(chunk)
        base = select(decisions).where(decisions.c.batch_id == batch_id)
        last: int | None = None
        while True:
            query = base if last is None else base.where(decisions.c.row_number > last)
            with self._read("iter_decisions") as conn:
                page = conn.execute(query.order_by(decisions.c.row_number).limit(chunk)).all()
            yield from (decision_from_row(row) for row in page)
            if len(page) < chunk:
                return
            last = page[-1].row_number

    def delete_decisions(self, batch_id: str) -> None:
        """Forget a batch's decisions, to restart it after a failure. The ledger keeps all."""
        with self._write("delete_decisions") as conn:
            conn.execute(delete(decisions).where(decisions.c.batch_id == batch_id))

    # --- ledger -----------------------------------------------------------------------

    def append_ledger(
        self, drafts: Sequence[LedgerDraft], *, now: Callable[[], datetime] | None = None
    ) -> str:
        """Link and insert ``drafts`` after the current head, atomically; the new head hash.

        Refuses to extend a ledger whose head row does not match its last entry.
        """
        clock = now or (lambda: datetime.now(UTC))
        with self._write("append_ledger", LedgerError) as conn:
            seq, head = conn.execute(
                select(ledger_head.c.seq, ledger_head.c.entry_hash)
                .where(ledger_head.c.id == 1)
                .with_for_update()
            ).one()
            if not drafts:
                return str(head)
            last = conn.execute(
                select(ledger_entries.c.entry_hash).where(ledger_entries.c.seq == seq)
            ).scalar_one_or_none()
            if (last or GENESIS) != head or (seq == 0) != (last is None):
                raise LedgerError("ledger head does not match its last entry; run ledger verify")
            entries = link_all(
                drafts, after_seq=seq, prev_hash=head, recorded_at=format_recorded_at(clock())
            )
            conn.execute(ledger_entries.insert(), [entry_params(e) for e in entries])
            new_seq, new_head = entries[-1].seq, entries[-1].entry_hash
            conn.execute(
                ledger_head.update()
                .where(ledger_head.c.id == 1)
                .values(seq=new_seq, entry_hash=new_head)
            )
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
        _check_chunk(chunk)
        last = 0
        while True:
            query = select(ledger_entries).where(ledger_entries.c.seq > last)
            with self._read("iter_ledger") as conn:
                page = conn.execute(query.order_by(ledger_entries.c.seq).limit(chunk)).all()
            yield from (entry_from_row(row) for row in page)
            if len(page) < chunk:
                return
            last = page[-1].seq

    def verify_ledger(self) -> VerifyResult:
        """Verify the whole chain and that it ends exactly at the recorded head.

        Reads one consistent snapshot (a single read transaction, REPEATABLE READ on
        PostgreSQL), streaming the entries with a server-side cursor.
        """
        verifier = ChainVerifier()
        with self._read("verify_ledger", snapshot=True) as conn:
            head_seq, head = conn.execute(
                select(ledger_head.c.seq, ledger_head.c.entry_hash).where(ledger_head.c.id == 1)
            ).one()
            rows = conn.execute(
                select(ledger_entries).order_by(ledger_entries.c.seq),
                execution_options={"yield_per": CHUNK},
            )
            for row in rows:
                try:
                    entry = entry_from_row(row)
                except LedgerError:
                    verifier.fail(PROBLEM_MALFORMED)
                    break
                if not verifier.feed(entry) or verifier.entries > head_seq:
                    break
            rows.close()
        if not verifier.failed and (verifier.entries, verifier.head) != (head_seq, head):
            verifier.fail(PROBLEM_HEAD, seq=min(verifier.entries, head_seq) + 1)
        result = verifier.result()
        emit(
            Event.LEDGER_VERIFIED,
            ok=result.ok,
            entries=result.entries,
            first_bad_seq=result.first_bad_seq,
        )
        return result

    def ledger_key(self) -> bytes:
        """The secret for ``keyed_hash``: made once with ``secrets.token_bytes``, never changed."""
        if self._key is None:
            self._key = self._load_key()
        return self._key

    # --- plumbing ---------------------------------------------------------------------

    def _load_key(self) -> bytes:
        query = select(ledger_key.c.secret).where(ledger_key.c.id == 1)
        with self._write("ledger_key") as conn:
            secret = conn.execute(query).scalar_one_or_none()
            if secret is None:
                conn.execute(
                    self._insert(ledger_key).on_conflict_do_nothing(index_elements=["id"]),
                    {"id": 1, "secret": secrets.token_bytes(32), "created_at": datetime.now(UTC)},
                )
                secret = conn.execute(query).scalar_one()
        return bytes(secret)

    def _insert_decisions(self, conn: Connection, params: list[dict[str, Any]]) -> int:
        if self.backend == "postgresql":
            return _copy_decisions(conn, params)
        stmt = (
            sqlite.insert(decisions)
            .on_conflict_do_nothing(index_elements=["batch_id", "row_number"])
            .returning(decisions.c.row_number)
        )
        return len(conn.execute(stmt, params).all())

    def _insert(self, table: Table) -> sqlite.Insert | postgresql.Insert:
        if self.backend == "sqlite":
            return sqlite.insert(table)
        return postgresql.insert(table)

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
            with conn.begin():
                yield conn


def _check_chunk(chunk: int) -> None:
    if type(chunk) is not int or chunk < 1:
        raise StoreError("chunk must be a positive integer")


def _copy_decisions(conn: Connection, params: list[dict[str, Any]]) -> int:
    """PostgreSQL bulk path: COPY into a temporary table, then insert what is new.

    Several times faster than multi-row INSERT for millions of rows.
    """
    import psycopg

    names = [column.name for column in decisions.columns]
    column_list = ", ".join(f'"{name}"' for name in names)
    conn.exec_driver_sql(
        "CREATE TEMP TABLE decisions_in (LIKE decisions INCLUDING DEFAULTS) ON COMMIT DROP"
    )
    cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(f"COPY decisions_in ({column_list}) FROM STDIN") as copy:
            for row in params:
                copy.write_row([row[name] for name in names])
    except psycopg.Error as exc:
        detail = f"{type(exc).__name__}, SQLSTATE {exc.sqlstate}"
        raise StoreError(f"write_decisions failed ({detail})") from None
    finally:
        cursor.close()
    inserted = conn.exec_driver_sql(
        f"INSERT INTO decisions ({column_list}) SELECT {column_list} FROM decisions_in "
        "ON CONFLICT (batch_id, row_number) DO NOTHING"
    )
    return int(inserted.rowcount)


__all__ = ["CHUNK", "STATE_FILE", "BatchRow", "DecisionRow", "StateStore"]
