"""On-demand service: agencies, API token hashes, daily usage and the durable job queue.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

Frozen once released. Tokens are kept only as sha256 hashes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agencies",
        sa.Column("agency_id", sa.Text(), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("daily_row_quota", sa.BigInteger(), nullable=True),
        sa.Column("rate_per_minute", sa.Integer(), nullable=True),
        sa.Column("max_upload_bytes", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('active', 'suspended')", name="ck_agencies_status"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("token_sha256", sa.String(64), primary_key=True),
        sa.Column("agency_id", sa.Text(), sa.ForeignKey("agencies.agency_id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_api_tokens_agency_id", "api_tokens", ["agency_id"])
    op.create_table(
        "agency_usage",
        sa.Column("agency_id", sa.Text(), sa.ForeignKey("agencies.agency_id"), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("rows", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "jobs",
        sa.Column("batch_id", sa.Text(), primary_key=True),
        sa.Column("agency_id", sa.Text(), sa.ForeignKey("agencies.agency_id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=True),
        sa.Column("requests_path", sa.Text(), nullable=False),
        sa.Column("envelope_path", sa.Text(), nullable=False),
        sa.Column("rows_total", sa.BigInteger(), nullable=False),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("stage_done", sa.BigInteger(), nullable=False),
        sa.Column("stage_total", sa.BigInteger(), nullable=True),
        sa.Column("rows_done", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.Text(), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error_code", sa.String(16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')", name="ck_jobs_status"
        ),
        sa.UniqueConstraint("agency_id", "idempotency_key", name="uq_jobs_agency_idempotency_key"),
    )
    op.create_index("ix_jobs_status_created_at", "jobs", ["status", "created_at"])
    op.create_index("ix_jobs_agency_id_created_at", "jobs", ["agency_id", "created_at"])


def downgrade() -> None:
    op.drop_table("jobs")
    op.drop_table("agency_usage")
    op.drop_index("ix_api_tokens_agency_id", "api_tokens")
    op.drop_table("api_tokens")
    op.drop_table("agencies")
