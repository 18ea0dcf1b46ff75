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
from typing import Any, Final

from sqlalchemy import Connection, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from taxmatch.errors import IdempotencyKeyReused, StoreError
from taxmatch.store.models import idempotency_keys, jobs
from taxmatch.store.service import ServiceStore

MAX_ATTEMPTS: Final = 5


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


def _job(values: dict[str, Any]) -> Job:
    return Job(**values)


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
            if row is not None:
                job = _job(row._asdict())
                if job.status != "failed":
                    return job, False
                conn.execute(
                    update(jobs)
                    .where(jobs.c.batch_id == batch_id)
                    .values(
                        status="queued",
                        error_code=None,
                        error_detail=None,
                        attempts=0,
                        lease_owner=None,
                        lease_until=None,
                        stage="queued",
                        stage_done=0,
                        rows_done=0,
                        updated_at=now,
                    )
                )
            else:
                conn.execute(
                    jobs.insert(),
                    {
                        "batch_id": batch_id,
                        "agency_id": agency_id,
                        "status": "queued",
                        "idempotency_key": idempotency_key,
                        "requests_path": requests_path,
                        "envelope_path": envelope_path,
                        "rows_total": rows_total,
                        "stage": "queued",
                        "stage_done": 0,
                        "stage_total": None,
                        "rows_done": 0,
                        "attempts": 0,
                        "lease_owner": None,
                        "lease_until": None,
                        "error_code": None,
                        "created_at": now,
                        "updated_at": now,
                    },
                )
            fresh = conn.execute(select(jobs).where(jobs.c.batch_id == batch_id)).one()
        return _job(fresh._asdict()), row is None

    def find(self, batch_id: str) -> Job | None:
        with self._store.reading("find_job") as conn:
            row = conn.execute(select(jobs).where(jobs.c.batch_id == batch_id)).first()
        return None if row is None else _job(row._asdict())

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
        with self._store.reading("list_jobs") as conn:
            return [_job(r._asdict()) for r in conn.execute(query)]

    def claim(self, owner: str, lease_seconds: float, *, now: datetime | None = None) -> Job | None:
        """Take the oldest claimable job under a lease for ``owner``; None when idle."""
        moment = now or datetime.now(UTC)
        claimable = or_(
            jobs.c.status == "queued",
            (jobs.c.status == "running") & (jobs.c.lease_until < moment),
        )
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
            job = _job(row._asdict())
            conn.execute(
                update(jobs)
                .where(jobs.c.batch_id == job.batch_id)
                .values(
                    status="running",
                    lease_owner=owner,
                    attempts=job.attempts + 1,
                    lease_until=moment + timedelta(seconds=lease_seconds),
                    updated_at=moment,
                )
            )
            fresh = conn.execute(select(jobs).where(jobs.c.batch_id == job.batch_id)).one()
        return _job(fresh._asdict())

    def renew(self, batch_id: str, owner: str, lease_seconds: float) -> bool:
        """Extend ``owner``'s lease; False when the job is no longer theirs."""
        now = datetime.now(UTC)
        with self._store.writing("renew_lease") as conn:
            done = conn.execute(
                update(jobs)
                .where(
                    jobs.c.batch_id == batch_id,
                    jobs.c.lease_owner == owner,
                    jobs.c.status == "running",
                )
                .values(lease_until=now + timedelta(seconds=lease_seconds), updated_at=now)
            )
        return bool(done.rowcount)

    def report(
        self, batch_id: str, owner: str, *, stage: str, done: int, total: int | None, rows_done: int
    ) -> None:
        with self._store.writing("report_progress") as conn:
            conn.execute(
                update(jobs)
                .where(jobs.c.batch_id == batch_id, jobs.c.lease_owner == owner)
                .values(
                    stage=stage[:32],
                    stage_done=done,
                    stage_total=total,
                    rows_done=rows_done,
                    updated_at=datetime.now(UTC),
                )
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
            "updated_at": datetime.now(UTC),
        }
        if rows_done is not None:
            values["rows_done"] = rows_done
        with self._store.writing("finish_job") as conn:
            conn.execute(
                update(jobs)
                .where(jobs.c.batch_id == batch_id, jobs.c.lease_owner == owner)
                .values(**values)
            )

    def fail_agency_jobs(self, agency_id: str, error_code: str) -> int:
        """Fail every queued job of ``agency_id`` (the kill switch); running ones stop at
        their worker's next check. How many were failed."""
        with self._store.writing("fail_agency_jobs") as conn:
            done = conn.execute(
                update(jobs)
                .where(jobs.c.agency_id == agency_id, jobs.c.status == "queued")
                .values(
                    status="failed",
                    error_code=error_code,
                    stage="failed",
                    error_detail=f"{error_code}: agency is suspended",
                    updated_at=datetime.now(UTC),
                )
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
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(
        dialect.insert(idempotency_keys)
        .values(agency_id=agency_id, idempotency_key=key, batch_id=batch_id, created_at=now)
        .on_conflict_do_nothing()
    )
    if _bound(conn, agency_id, key) != batch_id:
        raise IdempotencyKeyReused("Idempotency-Key was already used for another batch")


__all__ = ["MAX_ATTEMPTS", "Job", "JobQueue"]
