"""Oversight console: officers, console_sessions, releases, reviews; review-queue index.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

Frozen once released. Officers hold an argon2 hash, sessions the sha256 of a token; a
review is one officer's decision on a REVIEW or AMBIGUOUS row, a release groups reviews
into a supplemental package. The index serves the queue (a batch's rows by outcome, in
row order) without reading the whole batch.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "officers",
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('officer', 'supervisor', 'auditor')", name="ck_officers_role"),
    )
    op.create_table(
        "console_sessions",
        sa.Column("token_sha256", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(64), sa.ForeignKey("officers.username"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_console_sessions_username", "console_sessions", ["username"])
    op.create_table(
        "releases",
        sa.Column("release_id", sa.Text(), primary_key=True),
        sa.Column("batch_id", sa.Text(), sa.ForeignKey("batches.batch_id"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("preparer", sa.String(64), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("second_person", sa.Text(), nullable=False),
        sa.Column("approver", sa.String(64), nullable=True),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("package_dir", sa.Text(), nullable=True),
        sa.Column("manifest_sha256", sa.String(64), nullable=True),
        sa.UniqueConstraint("batch_id", "number", name="uq_releases_batch_id_number"),
        sa.CheckConstraint(
            "status IN ('awaiting_approval', 'released')", name="ck_releases_status"
        ),
    )
    op.create_table(
        "reviews",
        sa.Column("batch_id", sa.Text(), sa.ForeignKey("batches.batch_id"), primary_key=True),
        sa.Column("row_number", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("request_id", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("officer", sa.String(64), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("release_id", sa.Text(), sa.ForeignKey("releases.release_id"), nullable=True),
        sa.Column(
            "disclosed",
            sa.Boolean(create_constraint=True, name="ck_reviews_disclosed"),
            nullable=False,
        ),
        sa.CheckConstraint("action IN ('disclose', 'withhold')", name="ck_reviews_action"),
    )
    op.create_index("ix_reviews_release_id", "reviews", ["release_id"])
    op.create_index(
        "ix_decisions_batch_id_outcome_row_number",
        "decisions",
        ["batch_id", "outcome", "row_number"],
    )


def downgrade() -> None:
    op.drop_index("ix_decisions_batch_id_outcome_row_number", "decisions")
    op.drop_table("reviews")
    op.drop_table("releases")
    op.drop_table("console_sessions")
    op.drop_table("officers")
