"""Initial state schema: batches, decisions, the append-only ledger, its head and key.

Revision ID: 0001
Revises:
Create Date: 2026-01-01

Frozen: never edit this revision once released; add a new one. Spells out every type
and name instead of importing the models, so later model changes cannot rewrite history.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_GENESIS = "0" * 64

_SQLITE_TRIGGERS = (
    """CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
       BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END""",
    """CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
       BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END""",
    """CREATE TRIGGER ledger_head_no_delete BEFORE DELETE ON ledger_head
       BEGIN SELECT RAISE(ABORT, 'ledger_head only moves forward'); END""",
    """CREATE TRIGGER ledger_head_forward_only BEFORE UPDATE ON ledger_head
       WHEN NEW.seq <= OLD.seq OR NEW.id <> OLD.id
       BEGIN SELECT RAISE(ABORT, 'ledger_head only moves forward'); END""",
    """CREATE TRIGGER ledger_key_no_update BEFORE UPDATE ON ledger_key
       BEGIN SELECT RAISE(ABORT, 'ledger_key is append-only'); END""",
    """CREATE TRIGGER ledger_key_no_delete BEFORE DELETE ON ledger_key
       BEGIN SELECT RAISE(ABORT, 'ledger_key is append-only'); END""",
)

_POSTGRES_TRIGGERS = (
    """CREATE FUNCTION taxmatch_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION USING MESSAGE = TG_TABLE_NAME || ' is append-only'; END $$""",
    """CREATE FUNCTION taxmatch_head_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP <> 'UPDATE' OR NEW.seq <= OLD.seq OR NEW.id <> OLD.id THEN
           RAISE EXCEPTION USING MESSAGE = 'ledger_head only moves forward';
         END IF;
         RETURN NEW;
       END $$""",
    """CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
       FOR EACH ROW EXECUTE FUNCTION taxmatch_refuse_change()""",
    """CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
       FOR EACH STATEMENT EXECUTE FUNCTION taxmatch_refuse_change()""",
    """CREATE TRIGGER ledger_head_forward_only BEFORE UPDATE OR DELETE ON ledger_head
       FOR EACH ROW EXECUTE FUNCTION taxmatch_head_forward_only()""",
    """CREATE TRIGGER ledger_head_no_truncate BEFORE TRUNCATE ON ledger_head
       FOR EACH STATEMENT EXECUTE FUNCTION taxmatch_refuse_change()""",
    """CREATE TRIGGER ledger_key_append_only BEFORE UPDATE OR DELETE ON ledger_key
       FOR EACH ROW EXECUTE FUNCTION taxmatch_refuse_change()""",
    """CREATE TRIGGER ledger_key_no_truncate BEFORE TRUNCATE ON ledger_key
       FOR EACH STATEMENT EXECUTE FUNCTION taxmatch_refuse_change()""",
)


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("batch_id", sa.Text(), primary_key=True),
        sa.Column("agency", sa.Text(), nullable=False),
        sa.Column("request_letter_id", sa.Text(), nullable=False),
        sa.Column("input_sha256", sa.Text(), nullable=False),
        sa.Column("envelope_sha256", sa.Text(), nullable=False),
        sa.Column("policy_version", sa.Text(), nullable=False),
        sa.Column("policy_sha256", sa.Text(), nullable=False),
        sa.Column("input_rows", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.Column("package_dir", sa.Text(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("matcher", sa.Text(), nullable=False),
        sa.Column("reference_id", sa.Text(), nullable=False),
        sa.Column("error_code", sa.String(16), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')", name="ck_batches_status"
        ),
    )
    op.create_index("ix_batches_agency", "batches", ["agency"])

    op.create_table(
        "decisions",
        sa.Column("batch_id", sa.Text(), sa.ForeignKey("batches.batch_id"), primary_key=True),
        sa.Column("row_number", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("request_id", sa.Text(), nullable=False),
        sa.Column("disposition", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("reason_codes", sa.Text(), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("disclosure_id", sa.Text(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("person_key", sa.String(64), nullable=True),
    )
    op.create_index("ix_decisions_batch_id_disposition", "decisions", ["batch_id", "disposition"])
    op.create_index("ix_decisions_person_key", "decisions", ["person_key"])

    op.create_table(
        "ledger_entries",
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("ledger_schema", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column(
            "success",
            sa.Boolean(create_constraint=True, name="ck_ledger_entries_success"),
            nullable=False,
        ),
        sa.Column("object_id", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("prev_hash", name="uq_ledger_entries_prev_hash"),
    )
    op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_ledger_head_single_row"),
    )
    op.create_table(
        "ledger_key",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_ledger_key_single_row"),
    )
    op.execute("INSERT INTO ledger_head (id, seq, entry_hash) VALUES (1, 0, '" + _GENESIS + "')")
    dialect = op.get_bind().dialect.name
    for statement in _SQLITE_TRIGGERS if dialect == "sqlite" else _POSTGRES_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    for table in ("ledger_key", "ledger_head", "ledger_entries", "decisions", "batches"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION taxmatch_head_forward_only()")
        op.execute("DROP FUNCTION taxmatch_refuse_change()")
