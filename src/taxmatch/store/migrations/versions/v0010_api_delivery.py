"""Idempotency keys of their own, and the one-line reason a queued batch failed.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06

Frozen once released. ``idempotency_keys`` binds an agency's ``Idempotency-Key`` to the
batch its first upload was, whether that upload queued a new job or matched an existing
batch by content (``jobs.idempotency_key`` could hold only the key that created a job).
Keys already on jobs are copied over. ``jobs.error_detail`` is the failed run's one-line
reason, as the command line prints it, with server paths named by their part.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("error_detail", sa.Text(), nullable=True))
    op.create_table(
        "idempotency_keys",
        sa.Column("agency_id", sa.Text(), sa.ForeignKey("agencies.agency_id"), primary_key=True),
        sa.Column("idempotency_key", sa.String(128), primary_key=True),
        sa.Column("batch_id", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.execute(
        "INSERT INTO idempotency_keys (agency_id, idempotency_key, batch_id, created_at) "
        "SELECT agency_id, idempotency_key, batch_id, created_at FROM jobs "
        "WHERE idempotency_key IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("error_detail")
