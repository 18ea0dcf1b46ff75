"""The state database's keys, ledger appends and decision rows, on the one connection
and transactions of ``store.database`` (errors wrapped by operation name; ledger entries
appended in a write, signed with the ledger key in use). Decision rows are written in
chunks, read by keyset, discarded to restart a batch, and recorded atomically with the
ledger entry that binds them.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection, delete, select
from sqlalchemy.engine import URL

from taxmatch.errors import BatchNotFound, LedgerError, StoreError
from taxmatch.events import Event, emit
from taxmatch.ledger.chain import LedgerDraft, LedgerEntry, format_recorded_at
from taxmatch.ledger.digest import (
    EVENT_DECISIONS,
    EVENT_DECISIONS_DISCARDED,
    DecisionsDigest,
    chunk_payload,
)
from taxmatch.policy.coverage import BY_NAME, MEASURES
from taxmatch.store.database import StateDatabase
from taxmatch.store.decision_rows import (
    FIELDS,
    DecisionCells,
    cells_of,
    checked,
    insert_decisions,
    lines_of,
)
from taxmatch.store.keys import Keyring, Keys, ephemeral_keys
from taxmatch.store.ledger_bound import (
    EVENT_COVERAGE_COUNTED,
    GROUP_COUNTS,
    REQUEST_COUNTS,
    SUBJECTS,
    View,
    bind,
    chunk_rows,
)
from taxmatch.store.ledger_store import append_entries
from taxmatch.store.models import (
    CHUNK,
    BatchRow,
    DecisionRow,
    Params,
    SubjectRow,
    batch_from_row,
    batches,
    decisions,
    disclosure_subjects,
    from_row,
    group_counts,
    has_row,
    pages,
    request_counts,
    upsert,
)
from taxmatch.store.subjects import subject_params

_OUTCOME, _ROW = FIELDS.index("outcome"), FIELDS.index("row_number")


class StateBase(StateDatabase):
    """The keys of a state database, its ledger appends and decision rows; ``StateStore``
    is built on it. Its transactions are ``StateDatabase``'s."""

    keyring_required = True
    write_error = LedgerError  # ledger entries appended in ``writing`` commit with the rows

    def __init__(self, url: str | URL, keyring: Keyring | None = None) -> None:
        super().__init__(url, keyring)
        try:
            self._stamp = None if self.keyring is None else self.keyring.stamp()
            self._keys = self.keyring.load() if self.keyring is not None else ephemeral_keys()
        except BaseException:
            self._engine.dispose()
            raise

    def find_batch(self, batch_id: str) -> BatchRow | None:
        with self.reading("find_batch", snapshot=False) as conn:
            row = conn.execute(select(batches).where(batches.c.batch_id == batch_id)).first()
        return None if row is None else batch_from_row(row)

    def require_batch(self, batch_id: str) -> BatchRow:
        """``find_batch``, or ``BatchNotFound``."""
        batch = self.find_batch(batch_id)
        if batch is None:
            raise BatchNotFound(f"batch {batch_id} not found")
        return batch

    @property
    def keys(self) -> Keys:
        """The keys in use, read again whenever the keyring file changes (a rotation by
        another process: new values are sealed under the new data key at once)."""
        if self.keyring is not None and (stamp := self.keyring.stamp()) != self._stamp:
            self._keys, self._stamp = self.keyring.load(), stamp
        return self._keys

    def append(
        self, conn: Connection, drafts: Sequence[LedgerDraft], moment: datetime | None = None
    ) -> list[LedgerEntry]:
        """Append ``drafts`` on ``conn`` (a ``writing`` transaction), recorded at ``moment``
        (default: now), head signed."""
        recorded_at = format_recorded_at(moment or datetime.now(UTC))
        return append_entries(conn, drafts, recorded_at, key=self.ledger_key())

    def ledger_key(self) -> bytes:
        """The secret for ``keyed_hash`` in use: from the keyring, never from this database."""
        return self.keys.current("ledger")[1]

    def iter_decisions(self, batch_id: str, chunk: int = CHUNK) -> Iterator[DecisionRow]:
        """A batch's decisions by row_number, fetched ``chunk`` rows at a time (keyset)."""
        query = select(decisions).where(decisions.c.batch_id == batch_id)
        for page in pages(self, "iter_decisions", query, decisions.c.row_number, chunk):
            yield from (from_row(DecisionRow, row) for row in page)

    def delete_decisions(
        self, batch_id: str, *, actor: str = "system", origin: str = "store"
    ) -> None:
        """Forget a batch's decisions, to restart it after a failure. The ledger keeps all.

        Its disclosure subjects, request counts and group counts go with them, and, when
        any row was deleted, a ``decisions_discarded`` entry records it in the same
        transaction, so ``ledger verify`` no longer expects the discarded rows.
        """
        with self.writing("delete_decisions") as conn:
            others = sum(
                conn.execute(delete(table).where(table.c.batch_id == batch_id)).rowcount
                for table in (disclosure_subjects, request_counts, group_counts)
            )
            gone = conn.execute(delete(decisions).where(decisions.c.batch_id == batch_id))
            if gone.rowcount or others:  # accounting rows are bound to the ledger too
                rows = {"rows": int(gone.rowcount)}
                discard = LedgerDraft(
                    EVENT_DECISIONS_DISCARDED, actor, origin, True, batch_id, rows
                )
                self.append(conn, [discard])

    def record_decisions(
        self,
        batch_id: str,
        given: Sequence[DecisionRow | DecisionCells],
        *,
        chunk: int,
        subjects: Sequence[SubjectRow] = (),
        drafts: Sequence[LedgerDraft] = (),
        actor: str = "system",
        origin: str = "store",
        also: DecisionsDigest | None = None,
    ) -> str:
        """One chunk of a batch, atomically: its decision rows (``DecisionRow`` or, as a
        batch run gives them, ``DecisionCells``), its disclosure subjects, the ledger
        ``drafts`` (one per disclosure) and a ``decisions`` entry carrying the chunk's row
        range, count and digest (``taxmatch.ledger.digest``). The new head. ``also``: a
        running digest (a batch's, over all its chunks) that takes the chunk's lines too.

        Rows already stored are kept (idempotent on batch and row); the digest is of the
        rows given, so ``ledger verify`` fails if the stored ones differ.
        """
        rows = [cells_of(r) if isinstance(r, DecisionRow) else r for r in given]
        if not rows:
            raise StoreError("record_decisions needs at least one row")
        for cells in rows:
            checked(batch_id, cells)
        digest = DecisionsDigest()
        lines = lines_of(rows)
        digest.add_lines(lines)
        if also is not None:
            also.add_lines(lines)
        counts = Counter(cells[_OUTCOME] or "REJECTED" for cells in rows)
        entry = LedgerDraft(
            EVENT_DECISIONS, actor, origin, True, batch_id, chunk_payload(chunk, digest, counts)
        )
        moment = datetime.now(UTC)
        with self.writing("record_decisions") as conn:
            if not has_row(conn, batches.c.batch_id, batch_id):
                raise BatchNotFound(f"batch {batch_id} not found")
            insert_decisions(conn, rows)
            if subjects:  # a batch run's subjects are written and bound when it is sealed
                keys = self.keys
                conn.execute(
                    upsert(conn, disclosure_subjects).on_conflict_do_nothing(
                        index_elements=["disclosure_id"]
                    ),
                    [subject_params(batch_id, s, moment, keys) for s in subjects],
                )
                numbers = [int(cells[_ROW]) for cells in rows]
                entry = bind(conn, keys, entry, (SUBJECTS, chunk_rows(batch_id, numbers)))
            written = self.append(conn, [*drafts, entry], moment)
        return announce(len(written), written[-1])

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
            total = {"statutes": len(values), "requests": sum(int(n) for n in counts.values())}
            draft = LedgerDraft("requests_counted", "system", "store", True, batch_id, total)
        self._replace_bound("write_request_counts", REQUEST_COUNTS, batch_id, values, draft)

    def write_group_counts(
        self, batch_id: str, counts: Mapping[str, Mapping[str, int]], *, actor: str, origin: str
    ) -> None:
        """Replace a batch's counts by coverage group and measure
        (``taxmatch.policy.coverage.measures``; the transparency report's coverage), the
        non-zero ones, bound by a ``coverage_counted`` entry (how many groups and counts)
        appended in the same transaction. ``StoreError`` for an unknown group or measure or
        a negative count, naming neither."""
        cells = [
            (grp, measure, int(n))
            for grp, measures in sorted(counts.items())
            for measure, n in sorted(measures.items())
            if int(n)
        ]
        known = set(MEASURES)
        if any(g not in BY_NAME or m not in known or n < 0 for g, m, n in cells):
            raise StoreError("group counts must be non-negative counts of known groups")
        values = [{"batch_id": batch_id, "grp": g, "measure": m, "n": n} for g, m, n in cells]
        total = {"groups": len({g for g, _, _ in cells}), "counts": len(cells)}
        draft = LedgerDraft(EVENT_COVERAGE_COUNTED, actor, origin, True, batch_id, total)
        self._replace_bound("write_group_counts", GROUP_COUNTS, batch_id, values, draft)

    def _replace_bound(
        self, operation: str, view: View, batch_id: str, values: list[Params], draft: LedgerDraft
    ) -> None:
        """Replace a batch's rows of ``view``'s table by ``values``, bound by ``draft``
        appended in the same transaction."""
        table = view.table
        with self.writing(operation) as conn:
            if not has_row(conn, batches.c.batch_id, batch_id):
                raise BatchNotFound(f"batch {batch_id} not found")
            conn.execute(delete(table).where(table.c.batch_id == batch_id))
            if values:
                conn.execute(table.insert(), values)
            where = table.c.batch_id == batch_id
            self.append(conn, [bind(conn, self.keys, draft, (view, where))])


def announce(count: int, head: LedgerEntry) -> str:
    """Log ``count`` entries appended, ending at ``head`` (after they commit); its hash."""
    emit(Event.LEDGER_APPENDED, logging.DEBUG, entries=count, seq=head.seq, head=head.entry_hash)
    return head.entry_hash
