"""Schema of the on-demand service: agencies, their API tokens, daily usage and the job queue.

Added to the state database's ``metadata`` (migration ``0003``) so the schema test that
compares the migrations with the models covers these tables too. Tokens are stored only
as sha256 hashes; rows carry agency ids, counts and file paths in the store, never a
value from a request.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from taxmatch.store.models import UTCDateTime, metadata

AGENCY_STATUSES = ("active", "suspended")
JOB_STATUSES = ("queued", "running", "done", "failed")

agencies = Table(
    "agencies",
    metadata,
    Column("agency_id", Text, primary_key=True),
    Column("status", String(16), nullable=False),
    # None: the serve options' defaults apply.
    Column("daily_row_quota", BigInteger, nullable=True),
    Column("rate_per_minute", Integer, nullable=True),
    Column("max_upload_bytes", BigInteger, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("status IN ('active', 'suspended')", name="ck_agencies_status"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("agency_id", Text, ForeignKey("agencies.agency_id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    Index("ix_api_tokens_agency_id", "agency_id"),
)

agency_usage = Table(
    "agency_usage",
    metadata,
    Column("agency_id", Text, ForeignKey("agencies.agency_id"), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("rows", BigInteger, nullable=False),
)

jobs = Table(
    "jobs",
    metadata,
    Column("batch_id", Text, primary_key=True),
    Column("agency_id", Text, ForeignKey("agencies.agency_id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("idempotency_key", String(128), nullable=True),
    Column("requests_path", Text, nullable=False),
    Column("envelope_path", Text, nullable=False),
    Column("rows_total", BigInteger, nullable=False),
    Column("stage", String(32), nullable=False),
    Column("stage_done", BigInteger, nullable=False),
    Column("stage_total", BigInteger, nullable=True),
    Column("rows_done", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("lease_owner", Text, nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("error_code", String(16), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # The failed run's one-line reason (code, part, row, field; never a value). Schema 0010.
    Column("error_detail", Text, nullable=True),
    CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="ck_jobs_status"),
    UniqueConstraint("agency_id", "idempotency_key", name="uq_jobs_agency_idempotency_key"),
    Index("ix_jobs_status_created_at", "status", "created_at"),
    Index("ix_jobs_agency_id_created_at", "agency_id", "created_at"),
)

# An agency's Idempotency-Key and the batch its first upload was (schema 0010): kept even
# when that upload matched an existing batch by content, so a key never names two batches.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("agency_id", Text, ForeignKey("agencies.agency_id"), primary_key=True),
    Column("idempotency_key", String(128), primary_key=True),
    Column("batch_id", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

__all__ = [
    "AGENCY_STATUSES",
    "JOB_STATUSES",
    "agencies",
    "agency_usage",
    "api_tokens",
    "idempotency_keys",
    "jobs",
]
