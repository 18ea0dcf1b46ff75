"""The cited statute per decision, for the transparency report by agency and statute.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

Frozen once released. ``decisions.statute`` is the cited statute in the canonical form
``request_counts`` and ``disclosure_subjects`` use, NULL when it does not parse. Rows
recorded before this revision keep NULL: it is not back-filled, because their ledger
digests were computed without it (``taxmatch.ledger.digest`` hashes the statute only when
it is set, so those rows still verify).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("decisions", sa.Column("statute", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("statute")
