"""The job queue's idempotency keys and failure reasons (schema 0010), on SQLite and
PostgreSQL: a key names one batch for ever, also when its upload matched an existing
batch; the migration carries the keys jobs held before it and downgrades cleanly."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, create_engine, inspect, text

from taxmatch.errors import IdempotencyKeyReused
from taxmatch.store.jobs import JobQueue
from taxmatch.store.migrations import MIGRATIONS_DIR
from taxmatch.store.service import ServiceStore
from taxmatch.store.state import StateStore

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _alembic(conn: Connection, action: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = conn
    getattr(command, action)(config, revision)


def _enqueue(queue: JobQueue, batch_id: str, key: str | None = None, agency: str = "ICE") -> bool:
    return queue.enqueue(
        batch_id, agency, requests_path="r", envelope_path="e", rows_total=1, idempotency_key=key
    )[1]


@pytest.fixture
def queue(state_url: str) -> JobQueue:
    StateStore(state_url).close()  # migrated
    service = ServiceStore(state_url)
    service.add_agency("ICE")
    service.add_agency("CBP")
    return JobQueue(service)


def test_a_key_is_bound_to_its_first_batch_even_an_existing_one(queue: JobQueue) -> None:
    assert _enqueue(queue, "B1")
    assert not _enqueue(queue, "B1", key="k")  # the same batch again, under a key
    assert queue.batch_for_key("ICE", "k") == "B1"
    with pytest.raises(IdempotencyKeyReused):
        _enqueue(queue, "B2", key="k")
    assert queue.find("B2") is None  # refused before anything was queued
    queue.bind_key("ICE", "k", "B1")  # the same binding again is no change
    with pytest.raises(IdempotencyKeyReused):
        queue.bind_key("ICE", "k", "B3")
    assert _enqueue(queue, "B4", key="k", agency="CBP")  # keys are per agency
    assert queue.batch_for_key("CBP", "k") == "B4"
    assert queue.batch_for_key("ICE", "other") is None


def test_a_failed_job_keeps_its_reason_until_queued_again(queue: JobQueue) -> None:
    _enqueue(queue, "B1")
    job = queue.claim("w1", 60)
    assert job is not None
    queue.finish("B1", "w1", "failed", error_code="TM100", error_detail="TM100: requests: x")
    failed = queue.find("B1")
    assert failed is not None
    assert (failed.error_code, failed.error_detail) == ("TM100", "TM100: requests: x")
    _enqueue(queue, "B1")  # asked again: queued afresh, the old reason gone
    again = queue.find("B1")
    assert again is not None
    assert (again.status, again.error_code, again.error_detail) == ("queued", None, None)


def test_enqueue_and_claim_return_the_job_as_stored(queue: JobQueue) -> None:
    job, new = queue.enqueue("B1", "ICE", requests_path="r", envelope_path="e", rows_total=3)
    assert new
    assert job == queue.find("B1")
    assert (job.status, job.stage, job.attempts, job.rows_total) == ("queued", "queued", 0, 3)
    claimed = queue.claim("w1", 60, now=T0)
    assert claimed == queue.find("B1")
    assert claimed is not None
    assert (claimed.status, claimed.lease_owner, claimed.attempts) == ("running", "w1", 1)
    assert claimed.lease_until is not None
    assert claimed.lease_until.tzinfo is not None
    queue.finish("B1", "w1", "failed", error_code="TM100")
    again, new = queue.enqueue("B1", "ICE", requests_path="r", envelope_path="e", rows_total=3)
    assert not new
    assert again == queue.find("B1")
    assert (again.status, again.attempts, again.created_at) == ("queued", 0, job.created_at)


def test_0010_copies_the_keys_jobs_held_and_downgrades(state_url: str) -> None:
    engine = create_engine(state_url)
    try:
        with engine.begin() as conn:
            _alembic(conn, "upgrade", "0005")
            conn.execute(
                text(
                    "INSERT INTO agencies (agency_id, status, created_at, updated_at) "
                    "VALUES ('ICE', 'active', :t, :t)"
                ),
                {"t": T0},
            )
            insert = text(
                "INSERT INTO jobs (batch_id, agency_id, status, idempotency_key, "
                "requests_path, envelope_path, rows_total, stage, stage_done, rows_done, "
                "attempts, created_at, updated_at) VALUES (:b, 'ICE', 'done', :k, 'r', "
                "'e', 1, 'done', 0, 1, 1, :t, :t)"
            )
            for batch_id, key in (("B1", "k1"), ("B2", None)):
                conn.execute(insert, {"b": batch_id, "k": key, "t": T0})
    finally:
        engine.dispose()
    StateStore(state_url).close()  # upgrades to head on open
    with ServiceStore(state_url) as service:
        queue = JobQueue(service)
        assert queue.batch_for_key("ICE", "k1") == "B1"
        with pytest.raises(IdempotencyKeyReused):
            queue.bind_key("ICE", "k1", "B2")
        job = queue.find("B2")
        assert job is not None
        assert job.error_detail is None
    engine = create_engine(state_url)
    try:
        with engine.begin() as conn:
            _alembic(conn, "downgrade", "0005")
            assert "idempotency_keys" not in inspect(conn).get_table_names()
            assert "error_detail" not in {c["name"] for c in inspect(conn).get_columns("jobs")}
            assert conn.execute(text("SELECT count(*) FROM jobs")).scalar_one() == 2
            _alembic(conn, "upgrade", "head")
            assert "idempotency_keys" in inspect(conn).get_table_names()
    finally:
        engine.dispose()
