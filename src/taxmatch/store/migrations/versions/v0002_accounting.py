"""Accounting of disclosures: disclosure_subjects, request_counts; ledger lookup index.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

Frozen once released. ``disclosure_subjects`` is the one custodian-only table that holds
a TIN (§ 6103(p)(3) accounting); ``request_counts`` counts requests per batch and cited
statute for the annual report; the index makes "last configuration change of a kind" one
lookup in the ledger.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "disclosure_subjects",
        sa.Column("disclosure_id", sa.Text(), primary_key=True),
        sa.Column("batch_id", sa.Text(), sa.ForeignKey("batches.batch_id"), nullable=False),
        sa.Column("row_number", sa.BigInteger(), nullable=False),
        sa.Column("tin", sa.String(9), nullable=False),
        sa.Column("statute", sa.Text(), nullable=False),
        sa.Column("relevance", sa.Text(), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("disclosed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_disclosure_subjects_tin", "disclosure_subjects", ["tin"])
    op.create_index(
        "ix_disclosure_subjects_batch_id_row_number",
        "disclosure_subjects",
        ["batch_id", "row_number"],
    )
    op.create_index("ix_disclosure_subjects_disclosed_at", "disclosure_subjects", ["disclosed_at"])
    op.create_table(
        "request_counts",
        sa.Column("batch_id", sa.Text(), sa.ForeignKey("batches.batch_id"), primary_key=True),
        sa.Column("statute", sa.Text(), primary_key=True),
        sa.Column("requests", sa.BigInteger(), nullable=False),
    )
    op.create_index(
        "ix_ledger_entries_event_object", "ledger_entries", ["event_type", "object_id", "seq"]
    )


def downgrade() -> None:
    op.drop_index("ix_ledger_entries_event_object", "ledger_entries")
    op.drop_table("request_counts")
    op.drop_table("disclosure_subjects")
