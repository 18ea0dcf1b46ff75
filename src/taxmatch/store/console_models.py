"""State tables of the oversight console: officers, sessions, reviews and releases.

``officers`` holds console users (argon2 hash of the password, never the password) and
their failed-login count for the lockout; ``console_sessions`` holds the sha256 of each
session token (the token itself lives only in the browser's cookie); ``reviews`` holds an
officer's decision on one REVIEW or AMBIGUOUS row; ``releases`` groups reviews into one
supplemental package, with the preparer and, under the two-person rule, the approver.

The tables share ``taxmatch.store.models.metadata`` (the schema a test compares with the
migrations). Must never hold a name, address or TIN: reviews carry ids and the officer's
stated reason, which stays custodian-only and never enters a log or a ledger payload.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
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

ROLES: tuple[str, ...] = ("officer", "supervisor", "auditor")
ACTIONS: tuple[str, ...] = ("disclose", "withhold")
RELEASE_STATUSES: tuple[str, ...] = ("awaiting_approval", "released")

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
    Column(
        "disabled",
        Boolean(),
        nullable=False,
        server_default=false(),
    ),
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

__all__ = [
    "ACTIONS",
    "RELEASE_STATUSES",
    "ROLES",
    "console_sessions",
    "officers",
    "releases",
    "reviews",
]
