"""The durable job queue: one row per uploaded batch, claimed by workers under a lease.

Claiming is one write transaction: on PostgreSQL ``SELECT ... FOR UPDATE SKIP LOCKED`` so
several workers share the queue without blocking each other; on SQLite the transaction
starts with ``BEGIN IMMEDIATE`` (the single writer), so two claimers never take one job.
A job is claimable when queued, or when running under a lease that has expired (its
worker died): that is how a server killed mid-batch resumes on restart. Re-running is
safe because a batch is idempotent (``run_batch``: same input and envelope, same batch).

Must never: hand one job to two live workers, or hold a value from a request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import ColumnElement, Connection, Insert, Update, or_, select, update

from taxmatch.errors import IdempotencyKeyReused, StoreError
from taxmatch.store.edge_models import idempotency_keys, jobs
from taxmatch.store.models import find_all, find_one, from_row, upsert
from taxmatch.store.service import ServiceStore

MAX_ATTEMPTS: Final = 5
# A job queued afresh (new, or failed and asked for again): no run, no lease, no error.
_QUEUED: Final = {
    "status": "queued",
    "stage": "queued",
    "stage_done": 0,
    "rows_done": 0,
    "attempts": 0,
    "lease_owner": None,
    "lease_until": None,
    "error_code": None,
    "error_detail": None,
}


@dataclass(frozen=True, slots=True)
class Job:
    batch_id: str
    agency_id: str
    status: str
    idempotency_key: str | None
    requests_path: str
    envelope_path: str
    rows_total: int
    stage: str
    stage_done: int
    stage_total: int | None
    rows_done: int
    attempts: int
    lease_owner: str | None
    lease_until: datetime | None
    error_code: str | None
    created_at: datetime
    updated_at: datetime
    error_detail: str | None = None  # the failed run's one-line reason (never a value)


class JobQueue:
    """Typed access to the ``jobs`` table, on a ``ServiceStore``'s engine."""

    def __init__(self, store: ServiceStore) -> None:
        self._store = store

    def enqueue(
        self,
        batch_id: str,
        agency_id: str,
        *,
        requests_path: str,
        envelope_path: str,
        rows_total: int,
        idempotency_key: str | None = None,
    ) -> tuple[Job, bool]:
        """Queue ``batch_id``; (job, True) when new. An existing job is returned as it is,
        except a failed one, which is queued again (its agency asked again)."""
        now = datetime.now(UTC)
        with self._store.writing("enqueue") as conn:
            row = conn.execute(select(jobs).where(jobs.c.batch_id == batch_id)).first()
            if row is not None and row.agency_id != agency_id:
                raise StoreError(f"batch {batch_id} belongs to another agency")
            if idempotency_key is not None:  # bound even when the batch exists already
                _bind_key(conn, agency_id, idempotency_key, batch_id, now)
            if row is not None and row.status != "failed":
                return from_row(Job, row), False
            if row is not None:
                write: Insert | Update = update(jobs).where(jobs.c.batch_id == batch_id)
            else:
                write = jobs.insert().values(
                    batch_id=batch_id,
                    agency_id=agency_id,
                    idempotency_key=idempotency_key,
                    requests_path=requests_path,
                    envelope_path=envelope_path,
                    rows_total=rows_total,
                    stage_total=None,
                    created_at=now,
                )
            fresh = conn.execute(write.values(**_QUEUED, updated_at=now).returning(*jobs.c)).one()
        return from_row(Job, fresh), row is None

    def find(self, batch_id: str) -> Job | None:
        query = select(jobs).where(jobs.c.batch_id == batch_id)
        return find_one(self._store, "find_job", Job, query)

    def batch_for_key(self, agency_id: str, key: str) -> str | None:
        """The batch ``key`` was first used for by ``agency_id``; None for a new key."""
        with self._store.reading("find_idempotency_key") as conn:
            return _bound(conn, agency_id, key)

    def bind_key(self, agency_id: str, key: str, batch_id: str) -> None:
        """Bind ``key`` to ``batch_id`` unless it is bound already: to the same batch it is
        a no-op, to another ``IdempotencyKeyReused``."""
        with self._store.writing("bind_idempotency_key") as conn:
            _bind_key(conn, agency_id, key, batch_id, datetime.now(UTC))

    def list_for(self, agency_id: str, limit: int = 1000) -> list[Job]:
        query = (
            select(jobs)
            .where(jobs.c.agency_id == agency_id)
            .order_by(jobs.c.created_at.desc(), jobs.c.batch_id)
            .limit(limit)
        )
        return find_all(self._store, "list_jobs", Job, query)

    def claim(self, owner: str, lease_seconds: float, *, now: datetime | None = None) -> Job | None:
        """Take the oldest claimable job under a lease for ``owner``; None when idle."""
        moment = now or datetime.now(UTC)
        expired = (jobs.c.status == "running") & (jobs.c.lease_until < moment)
        claimable = or_(jobs.c.status == "queued", expired)
        query = (
            select(jobs)
            .where(claimable, jobs.c.attempts < MAX_ATTEMPTS)
            .order_by(jobs.c.created_at, jobs.c.batch_id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        with self._store.writing("claim_job") as conn:
            row = conn.execute(query).first()
            if row is None:
                return None
            fresh = conn.execute(
                update(jobs)
                .where(jobs.c.batch_id == row.batch_id)
                .values(
                    status="running",
                    lease_owner=owner,
                    attempts=row.attempts + 1,
                    lease_until=moment + timedelta(seconds=lease_seconds),
                    updated_at=moment,
                )
                .returning(*jobs.c)
            ).one()
        return from_row(Job, fresh)

    def renew(self, batch_id: str, owner: str, lease_seconds: float) -> bool:
        """Extend ``owner``'s lease; False when the job is no longer theirs."""
        lease_until = datetime.now(UTC) + timedelta(seconds=lease_seconds)
        mine = *self._mine(batch_id, owner), jobs.c.status == "running"
        return bool(self._update("renew_lease", *mine, lease_until=lease_until))

    def report(
        self, batch_id: str, owner: str, *, stage: str, done: int, total: int | None, rows_done: int
    ) -> None:
        self._update(
            "report_progress",
            *self._mine(batch_id, owner),
            stage=stage[:32],
            stage_done=done,
            stage_total=total,
            rows_done=rows_done,
        )

    def finish(
        self,
        batch_id: str,
        owner: str,
        status: str,
        *,
        error_code: str | None = None,
        error_detail: str | None = None,
        rows_done: int | None = None,
    ) -> None:
        """End ``owner``'s run of the job as done or failed and release the lease."""
        if status not in ("done", "failed"):
            raise StoreError("a job finishes as done or failed")
        values: dict[str, object] = {
            "status": status,
            "error_code": error_code,
            "error_detail": None if error_detail is None else error_detail[:500],
            "lease_owner": None,
            "lease_until": None,
            "stage": status,
        }
        if rows_done is not None:
            values["rows_done"] = rows_done
        self._update("finish_job", *self._mine(batch_id, owner), **values)

    def fail_agency_jobs(self, agency_id: str, error_code: str) -> int:
        """Fail every queued job of ``agency_id`` (the kill switch); running ones stop at
        their worker's next check. How many were failed."""
        return self._update(
            "fail_agency_jobs",
            jobs.c.agency_id == agency_id,
            jobs.c.status == "queued",
            status="failed",
            error_code=error_code,
            stage="failed",
            error_detail=f"{error_code}: agency is suspended",
        )

    @staticmethod
    def _mine(batch_id: str, owner: str) -> tuple[ColumnElement[bool], ...]:
        return jobs.c.batch_id == batch_id, jobs.c.lease_owner == owner

    def _update(self, operation: str, *where: ColumnElement[bool], **values: object) -> int:
        """Set ``values`` (and ``updated_at``) on the jobs ``where`` selects; how many."""
        with self._store.writing(operation) as conn:
            done = conn.execute(
                update(jobs).where(*where).values(**values, updated_at=datetime.now(UTC))
            )
        return int(done.rowcount)


def _bound(conn: Connection, agency_id: str, key: str) -> str | None:
    query = select(idempotency_keys.c.batch_id).where(
        idempotency_keys.c.agency_id == agency_id, idempotency_keys.c.idempotency_key == key
    )
    found = conn.execute(query).scalar_one_or_none()
    return None if found is None else str(found)


def _bind_key(conn: Connection, agency_id: str, key: str, batch_id: str, now: datetime) -> None:
    """Insert the key's binding if absent (a concurrent insert is not an error), then
    refuse a key that names another batch."""
    conn.execute(
        upsert(conn, idempotency_keys)
        .values(agency_id=agency_id, idempotency_key=key, batch_id=batch_id, created_at=now)
        .on_conflict_do_nothing()
    )
    if _bound(conn, agency_id, key) != batch_id:
        raise IdempotencyKeyReused("Idempotency-Key was already used for another batch")
