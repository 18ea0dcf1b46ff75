"""State tables of the edges: the on-demand service's and the oversight console's.

The service: ``agencies``, their ``api_tokens`` (stored only as sha256 hashes),
``agency_usage`` per day, the ``jobs`` queue and ``idempotency_keys``; rows carry agency
ids, counts and file paths in the store, never a value from a request. The console:
``officers`` (argon2 hash of the password, never the password, and the failed-login count
for the lockout), ``console_sessions`` (the sha256 of each session token, which lives only
in the browser's cookie), ``reviews`` (an officer's decision on one REVIEW or AMBIGUOUS
row) and ``releases`` (reviews grouped into one supplemental package, with the preparer
and, under the two-person rule, the approver).

On ``taxmatch.store.models.metadata`` (the schema a test compares with the migrations).
Must never hold a name, address, TIN or token: reviews carry ids and the officer's stated
reason, which stays custodian-only and never enters a log or a ledger payload.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
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
    false,
)

from taxmatch.store.models import UTCDateTime, decisions, metadata

# --- the service: agencies, their API tokens, daily usage and the job queue ---------------

AGENCY_STATUSES = ("active", "suspended")

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


# --- the console: officers, sessions, reviews and releases --------------------------------

ROLES: tuple[str, ...] = ("officer", "supervisor", "auditor")

officers = Table(
    "officers",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("failed_logins", Integer, nullable=False),
    Column("locked_until", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    # schema 0009: a disabled officer cannot log in and has no live session
    Column("disabled", Boolean(), nullable=False, server_default=false()),
    CheckConstraint("role IN ('officer', 'supervisor', 'auditor')", name="ck_officers_role"),
)

console_sessions = Table(
    "console_sessions",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("username", String(64), ForeignKey("officers.username"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=True),  # schema 0009: the idle timeout's clock
    Index("ix_console_sessions_username", "username"),
)

releases = Table(
    "releases",
    metadata,
    Column("release_id", Text, primary_key=True),
    Column("batch_id", Text, ForeignKey("batches.batch_id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("preparer", String(64), nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("second_person", Text, nullable=False),  # why a second person is needed; "" if not
    Column("approver", String(64), nullable=True),
    Column("status", String(24), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("released_at", UTCDateTime, nullable=True),
    Column("package_dir", Text, nullable=True),
    Column("manifest_sha256", String(64), nullable=True),
    UniqueConstraint("batch_id", "number", name="uq_releases_batch_id_number"),
    CheckConstraint("status IN ('awaiting_approval', 'released')", name="ck_releases_status"),
)

reviews = Table(
    "reviews",
    metadata,
    Column("batch_id", Text, ForeignKey("batches.batch_id"), primary_key=True),
    Column("row_number", BigInteger, primary_key=True, autoincrement=False),
    Column("request_id", Text, nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("action", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("officer", String(64), nullable=False),
    Column("decided_at", UTCDateTime, nullable=False),
    Column("release_id", Text, ForeignKey("releases.release_id"), nullable=True),
    Column(
        "disclosed", Boolean(create_constraint=True, name="ck_reviews_disclosed"), nullable=False
    ),
    CheckConstraint("action IN ('disclose', 'withhold')", name="ck_reviews_action"),
    Index("ix_reviews_release_id", "release_id"),
)

# The review queue reads a batch's REVIEW and AMBIGUOUS rows in row order: one index range
# per outcome, however large the batch.
ix_decisions_queue = Index(
    "ix_decisions_batch_id_outcome_row_number",
    decisions.c.batch_id,
    decisions.c.outcome,
    decisions.c.row_number,
)
