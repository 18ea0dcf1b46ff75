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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import Final

from sqlalchemy import Connection, delete, func, select
from sqlalchemy.engine import URL

from taxmatch.errors import BatchNotFound, LedgerError, StoreError
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
    EVENT_DECISIONS,
    EVENT_DECISIONS_DISCARDED,
    DecisionsDigest,
    chunk_payload,
)
from taxmatch.store.bulk import insert_decisions, upsert
from taxmatch.store.keys import Keyring, Keys, ephemeral_keys
from taxmatch.store.ledger_bound import REQUEST_COUNTS, SUBJECTS, bind, chunk_rows, received_draft
from taxmatch.store.ledger_store import KEY_INFO, append_entries, last_config, verify_store
from taxmatch.store.location import STATE_FILE, keyring_for, state_url
from taxmatch.store.migrations import WRITE_OPTION, guard, open_engine
from taxmatch.store.models import (
    BatchRow,
    DecisionRow,
    SubjectRow,
    batch_from_row,
    batch_params,
    batches,
    check_aware,
    check_status,
    decision_from_row,
    decision_params,
    decisions,
    disclosure_subjects,
    dump_counts,
    entry_from_row,
    ledger_entries,
    ledger_head,
    request_counts,
)
from taxmatch.store.subjects import subject_params

CHUNK: Final = 10_000


class StateStore:
    """Typed access to the state database. Thread-safe; one per process is enough."""

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
    ) -> StateStore:
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
                written += insert_decisions(conn, params)
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

    def delete_decisions(
        self, batch_id: str, *, actor: str = "system", origin: str = "store"
    ) -> None:
        """Forget a batch's decisions, to restart it after a failure. The ledger keeps all.

        Its disclosure subjects and request counts go with them, and, when any row was
        deleted, a ``decisions_discarded`` entry records it in the same transaction, so
        ``ledger verify`` no longer expects the discarded rows.
        """
        with self._write("delete_decisions", LedgerError) as conn:
            others = sum(
                conn.execute(delete(table).where(table.c.batch_id == batch_id)).rowcount
                for table in (disclosure_subjects, request_counts)
            )
            gone = conn.execute(delete(decisions).where(decisions.c.batch_id == batch_id))
            if gone.rowcount or others:  # accounting rows are bound to the ledger too
                discard = LedgerDraft(
                    EVENT_DECISIONS_DISCARDED, actor, origin, True, batch_id,
                    {"rows": int(gone.rowcount)},
                )  # fmt: skip
                self._append(conn, [discard])

    def record_decisions(
        self,
        batch_id: str,
        rows: Sequence[DecisionRow],
        *,
        chunk: int,
        subjects: Sequence[SubjectRow] = (),
        drafts: Sequence[LedgerDraft] = (),
        actor: str = "system",
        origin: str = "store",
        now: Callable[[], datetime] | None = None,
    ) -> str:
        """One chunk of a batch, atomically: its decision rows, its disclosure subjects, the
        ledger ``drafts`` (one per disclosure) and a ``decisions`` entry carrying the
        chunk's row range, count and digest (``taxmatch.ledger.digest``). The new head.

        Rows already stored are kept (idempotent on batch and row); the digest is of the
        rows given, so ``ledger verify`` fails if the stored ones differ.
        """
        if not rows:
            raise StoreError("record_decisions needs at least one row")
        params = [decision_params(batch_id, row) for row in rows]
        digest = DecisionsDigest()
        counts: dict[str, int] = {}
        for row in rows:
            digest.add((row.row_number, row.request_id, row.disposition, row.outcome,
                        row.reason_codes, row.fields, row.disclosure_id, row.score,
                        row.person_key), row.statute)  # fmt: skip
            name = row.outcome or "REJECTED"
            counts[name] = counts.get(name, 0) + 1
        entry = LedgerDraft(
            EVENT_DECISIONS, actor, origin, True, batch_id, chunk_payload(chunk, digest, counts)
        )
        moment = (now or (lambda: datetime.now(UTC)))()
        recorded_at = format_recorded_at(moment)
        with self._write("record_decisions", LedgerError) as conn:
            if (
                conn.execute(
                    select(batches.c.batch_id).where(batches.c.batch_id == batch_id)
                ).first()
                is None
            ):
                raise BatchNotFound(f"batch {batch_id} not found")
            insert_decisions(conn, params)
            if subjects:
                keys = self.keys
                conn.execute(
                    upsert(conn, disclosure_subjects).on_conflict_do_nothing(
                        index_elements=["disclosure_id"]
                    ),
                    [subject_params(batch_id, s, moment, keys) for s in subjects],
                )
            if subjects:  # a batch run's subjects are written and bound when it is sealed
                where = chunk_rows(batch_id, rows)
                entry = bind(conn, self.keys, entry, (SUBJECTS, where))
            written = append_entries(conn, [*drafts, entry], recorded_at, key=self.ledger_key())
        head = written[-1].entry_hash
        emit(Event.LEDGER_APPENDED, logging.DEBUG, entries=len(written), seq=written[-1].seq,
             head=head)  # fmt: skip
        return head

    def write_request_counts(
        self, batch_id: str, counts: Mapping[str, int], *, draft: LedgerDraft | None = None
    ) -> None:
        """Replace a batch's requests-per-cited-statute counts (the annual report's input),
        bound by ``draft`` (the batch's ``decisions_recorded``) appended in the same
        transaction, or else by a ``requests_counted`` entry."""
        values = [
            {"batch_id": batch_id, "statute": statute, "requests": int(n)}
            for statute, n in sorted(counts.items())
        ]
        if draft is None:
            total = sum(int(n) for n in counts.values())
            draft = LedgerDraft("requests_counted", "system", "store", True, batch_id,
                                {"statutes": len(values), "requests": total})  # fmt: skip
        with self._write("write_request_counts", LedgerError) as conn:
            conn.execute(delete(request_counts).where(request_counts.c.batch_id == batch_id))
            if values:
                conn.execute(request_counts.insert(), values)
            where = request_counts.c.batch_id == batch_id
            self._append(conn, [bind(conn, self.keys, draft, (REQUEST_COUNTS, where))])

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

    # --- ledger -----------------------------------------------------------------------

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


def _check_chunk(chunk: int) -> None:
    if type(chunk) is not int or chunk < 1:
        raise StoreError("chunk must be a positive integer")


__all__ = ["CHUNK", "STATE_FILE", "BatchRow", "DecisionRow", "StateStore", "SubjectRow"]
