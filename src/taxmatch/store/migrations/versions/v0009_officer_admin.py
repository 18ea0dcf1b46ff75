"""Console officer administration: disabled accounts and the sessions' idle clock.

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-06

Frozen once released. ``officers.disabled`` (false for existing officers): a disabled
officer cannot log in and has no live session. ``console_sessions.last_seen_at``: when the
session was last used, for the idle timeout (NULL for sessions opened before this
revision: their ``created_at`` counts instead).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "officers",
        sa.Column(
            "disabled",
            sa.Boolean(),
            nullable=False,
            server_default=sa.false(),
        ),
    )
    op.add_column(
        "console_sessions", sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("console_sessions") as batch:
        batch.drop_column("last_seen_at")
    with op.batch_alter_table("officers") as batch:
        batch.drop_column("disabled")
