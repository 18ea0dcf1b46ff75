"""A batch's counts by coverage group, bound to the ledger, for the transparency report.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07

Frozen once released. ``group_counts`` holds, per batch, coverage group (``grp``) and
measure (an outcome, REJECTED, a ``probe_`` count or ``flagged``:
``taxmatch.policy.coverage.MEASURES``), the count ``n``; non-zero counts only. A batch's
rows are written and bound by one ``coverage_counted`` entry, so they are append-only as
``request_counts`` are (schema 0006): triggers refuse any UPDATE, DELETE once the batch is
done (before that, a batch that runs again replaces them) and, on PostgreSQL, TRUNCATE.
Batches run before this revision have no rows (their packages' summary.json holds their
coverage); nothing is back-filled. The downgrade drops the table and its rows (the
``coverage_counted`` entries stay: the ledger is append-only). Upgrading again records
that loss: a ``coverage_dropped`` entry per batch whose last ``coverage_counted`` entry
bound rows that are gone binds its group counts as none, signed with the ledger key from
the store's keyring (``config.attributes["keyring"]``); a store that never downgraded
has no such batch, and nothing is appended.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import context, op

from taxmatch.errors import StoreError
from taxmatch.store.keys import Keyring

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_DONE = "(SELECT status FROM batches WHERE batch_id = OLD.batch_id) = 'done'"
_SQLITE_TRIGGERS = (
    ("group_counts_no_update", "BEFORE UPDATE ON group_counts", ""),
    ("group_counts_no_delete", "BEFORE DELETE ON group_counts", f"WHEN {_DONE}"),
)

_PG_FUNCTION = """CREATE FUNCTION taxmatch_refuse_count_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND NOT EXISTS (SELECT 1 FROM batches WHERE batch_id = OLD.batch_id
                                      AND status = 'done') THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION USING MESSAGE = TG_TABLE_NAME || ': bound to the ledger, not changed';
END $$"""
# batches whose last coverage_counted entry is later than their last coverage_dropped one
_COUNTED = """SELECT object_id FROM ledger_entries
WHERE event_type IN ('coverage_counted', 'coverage_dropped') GROUP BY object_id
HAVING max(CASE WHEN event_type = 'coverage_counted' THEN seq END)
     > coalesce(max(CASE WHEN event_type = 'coverage_dropped' THEN seq END), 0)
ORDER BY object_id"""


def upgrade() -> None:
    op.create_table(
        "group_counts",
        sa.Column("batch_id", sa.Text(), sa.ForeignKey("batches.batch_id"), primary_key=True),
        sa.Column("grp", sa.Text(), primary_key=True),
        sa.Column("measure", sa.Text(), primary_key=True),
        sa.Column("n", sa.BigInteger(), nullable=False),
    )
    if op.get_bind().dialect.name == "sqlite":
        for name, when, condition in _SQLITE_TRIGGERS:
            op.execute(
                f"CREATE TRIGGER {name} {when} {condition} BEGIN SELECT "
                "RAISE(ABORT, 'group_counts: bound to the ledger, not changed'); END"
            )
    else:
        op.execute(_PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER group_counts_bound BEFORE UPDATE OR DELETE ON group_counts "
            "FOR EACH ROW EXECUTE FUNCTION taxmatch_refuse_count_change()"
        )
        op.execute(
            "CREATE TRIGGER group_counts_no_truncate BEFORE TRUNCATE ON group_counts "
            "FOR EACH STATEMENT EXECUTE FUNCTION taxmatch_refuse_change()"
        )
    _record_dropped(op.get_bind())


def _record_dropped(conn: sa.Connection) -> None:
    """After a downgrade: bind the dropped group counts of each batch as none."""
    from taxmatch.ledger.chain import LedgerDraft, format_recorded_at
    from taxmatch.store.ledger_bound import GROUP_COUNTS, bind
    from taxmatch.store.ledger_store import append_entries
    from taxmatch.store.models import group_counts

    batches = [str(b) for (b,) in conn.execute(sa.text(_COUNTED))]
    if not batches:
        return
    keyring = context.config.attributes.get("keyring")
    if not isinstance(keyring, Keyring):
        raise StoreError("schema 0012 needs the store's keyring to sign the ledger head")
    keys = keyring.load()
    drafts = [
        bind(
            conn,
            keys,
            LedgerDraft("coverage_dropped", "taxmatch", "migration 0012", True, batch_id, {}),
            (GROUP_COUNTS, group_counts.c.batch_id == batch_id),
        )
        for batch_id in batches
    ]
    key = keys.current("ledger")[1]
    append_entries(conn, drafts, format_recorded_at(datetime.now(UTC)), key=key)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name, _, _ in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
        op.drop_table("group_counts")
    else:
        op.drop_table("group_counts")  # and its triggers
        op.execute("DROP FUNCTION taxmatch_refuse_count_change()")
