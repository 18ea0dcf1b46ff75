"""Rows bound to the ledger and a keyed head signature; the bound columns made immutable.

Revision ID: 0006
Revises: 0008
Create Date: 2026-12-06

Frozen once released. ``ledger_head.signature`` holds HMAC-SHA256 of the head under the
ledger key. Triggers refuse changing what the ledger binds (docs/ledger.md lists it):
any UPDATE of ``request_counts`` and any UPDATE of ``disclosure_subjects`` but the
re-encryption of its sealed columns under a new data key (``tin``, ``relevance``,
``tin_index``: the ledger binds their plaintext), DELETE of either only while their batch
is not done (a batch that runs again replaces them), DELETE of ``batches``,
``reviews`` and ``releases``, and UPDATE of their bound columns (a review's release may be
set once and its ``disclosed`` flag raised once; a release is published once).

Rows stored before this revision are bound by ``rows_backfilled`` entries appended here
(``taxmatch.store.ledger_bound.backfill_drafts``), and the head is signed, with the ledger
key from the store's keyring (``config.attributes["keyring"]``, which schema 0008 filled).
Runs after 0008, so the subjects it binds are already encrypted (and SQLite's rebuild of
that table in 0008 cannot drop these triggers). The entries stay on
downgrade (the ledger is append-only); only the signature column and triggers go. On an
upgrade after such a downgrade nothing is backfilled again (the head is signed again).
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import context, op

from taxmatch.errors import StoreError
from taxmatch.store.keys import Keyring

revision = "0006"
down_revision = "0008"
branch_labels = None
depends_on = None

_BATCH_IDENTITY = (
    "batch_id",
    "agency",
    "request_letter_id",
    "input_sha256",
    "envelope_sha256",
    "policy_version",
    "policy_sha256",
    "created_at",
    "package_dir",
    "as_of",
    "matcher",
    "reference_id",
)
_REVIEW_IDENTITY = (
    "batch_id",
    "row_number",
    "request_id",
    "outcome",
    "action",
    "reason",
    "officer",
    "decided_at",
)
_RELEASE_IDENTITY = (
    "release_id",
    "batch_id",
    "number",
    "preparer",
    "rows",
    "second_person",
    "created_at",
)
# what re-encryption under a new data key leaves as it was (``keys rotate --data``)
_SUBJECT_IDENTITY = ("disclosure_id", "batch_id", "row_number", "statute", "fields", "disclosed_at")
# a sealed batch stays done: its disclosures are counted as made by that status
_SEALED_FINAL = "(OLD.status = 'done' AND NEW.status {op} 'done')"
_DONE = "(SELECT status FROM batches WHERE batch_id = OLD.batch_id) = 'done'"


def _changed(columns: tuple[str, ...], op_: str) -> str:
    return " OR ".join(f"NEW.{c} {op_} OLD.{c}" for c in columns)


_REVIEW_RELINK = (
    "(OLD.release_id IS NOT NULL AND NEW.release_id {op} OLD.release_id) "
    "OR (OLD.disclosed AND NOT NEW.disclosed)"
)
_RELEASE_DONE = "OLD.status = 'released'"

_SQLITE_TRIGGERS = (
    ("disclosure_subjects_no_update", "BEFORE UPDATE ON disclosure_subjects",
     f"WHEN {_changed(_SUBJECT_IDENTITY, 'IS NOT')}"),
    ("disclosure_subjects_no_delete", "BEFORE DELETE ON disclosure_subjects", f"WHEN {_DONE}"),
    ("request_counts_no_update", "BEFORE UPDATE ON request_counts", ""),
    ("request_counts_no_delete", "BEFORE DELETE ON request_counts", f"WHEN {_DONE}"),
    ("batches_no_delete", "BEFORE DELETE ON batches", ""),
    ("batches_bound", "BEFORE UPDATE ON batches",
     f"WHEN {_changed(_BATCH_IDENTITY, 'IS NOT')} OR {_SEALED_FINAL.format(op='IS NOT')}"),
    ("reviews_no_delete", "BEFORE DELETE ON reviews", ""),
    ("reviews_bound", "BEFORE UPDATE ON reviews",
     f"WHEN {_changed(_REVIEW_IDENTITY, 'IS NOT')} OR {_REVIEW_RELINK.format(op='IS NOT')}"),
    ("releases_no_delete", "BEFORE DELETE ON releases", ""),
    ("releases_bound", "BEFORE UPDATE ON releases",
     f"WHEN {_changed(_RELEASE_IDENTITY, 'IS NOT')} OR {_RELEASE_DONE}"),
)  # fmt: skip

_HEAD_TRIGGER_SQLITE = """CREATE TRIGGER ledger_head_forward_only BEFORE UPDATE ON ledger_head
       WHEN NEW.seq <= OLD.seq OR NEW.id <> OLD.id
       BEGIN SELECT RAISE(ABORT, 'ledger_head only moves forward'); END"""

_PG_FUNCTION = """CREATE FUNCTION taxmatch_refuse_bound_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF TG_TABLE_NAME IN ('disclosure_subjects', 'request_counts')
       AND NOT EXISTS (SELECT 1 FROM batches WHERE batch_id = OLD.batch_id
                       AND status = 'done') THEN
      RETURN OLD;
    END IF;
  ELSIF TG_TABLE_NAME = 'disclosure_subjects' THEN
    IF NOT ({subjects}) THEN RETURN NEW; END IF;
  ELSIF TG_TABLE_NAME = 'batches' THEN
    IF NOT ({batches} OR {sealed}) THEN RETURN NEW; END IF;
  ELSIF TG_TABLE_NAME = 'reviews' THEN
    IF NOT ({reviews} OR {relink}) THEN RETURN NEW; END IF;
  ELSIF TG_TABLE_NAME = 'releases' THEN
    IF NOT ({releases} OR {released}) THEN RETURN NEW; END IF;
  END IF;
  RAISE EXCEPTION USING MESSAGE = TG_TABLE_NAME || ': bound to the ledger, not changed';
END $$""".format(
    subjects=_changed(_SUBJECT_IDENTITY, "IS DISTINCT FROM"),
    batches=_changed(_BATCH_IDENTITY, "IS DISTINCT FROM"),
    sealed=_SEALED_FINAL.format(op="IS DISTINCT FROM"),
    reviews=_changed(_REVIEW_IDENTITY, "IS DISTINCT FROM"),
    relink=_REVIEW_RELINK.format(op="IS DISTINCT FROM"),
    releases=_changed(_RELEASE_IDENTITY, "IS DISTINCT FROM"),
    released=_RELEASE_DONE,
)
_BOUND_TABLES = ("disclosure_subjects", "request_counts", "batches", "reviews", "releases")


def upgrade() -> None:
    op.add_column("ledger_head", sa.Column("signature", sa.String(64), nullable=True))
    conn = op.get_bind()
    _backfill_and_sign(conn)
    if conn.dialect.name == "sqlite":
        for name, when, condition in _SQLITE_TRIGGERS:
            table = when.split(" ON ")[1]
            op.execute(
                f"CREATE TRIGGER {name} {when} {condition} BEGIN SELECT "
                f"RAISE(ABORT, '{table}: bound to the ledger, not changed'); END"
            )
    else:
        op.execute(_PG_FUNCTION)
        for table in _BOUND_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_bound BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION taxmatch_refuse_bound_change()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION taxmatch_refuse_change()"
            )


def _backfill_and_sign(conn: sa.Connection) -> None:
    """Bind every stored row with ``rows_backfilled`` entries and sign the head."""
    from taxmatch.ledger.bind import head_signature
    from taxmatch.ledger.chain import format_recorded_at
    from taxmatch.store.ledger_bound import backfill_drafts
    from taxmatch.store.ledger_store import append_entries
    from taxmatch.store.models import ledger_head

    entries = conn.execute(sa.select(ledger_head.c.seq)).scalar_one()
    stored = conn.execute(sa.text("SELECT count(*) FROM batches")).scalar_one()
    if entries == 0 and stored == 0:
        return  # a new store: nothing to bind, nothing to sign
    keyring = context.config.attributes.get("keyring")
    if not isinstance(keyring, Keyring):
        raise StoreError("schema 0006 needs the store's keyring to bind the stored rows")
    keys = keyring.load()  # 0008 made or moved them: never new keys for stored data
    key = keys.current("ledger")[1]
    # Upgraded before (and downgraded since): the rows are bound already. Rows written
    # while downgraded stay unbound, and ``ledger verify`` names them.
    bound_before = conn.execute(
        sa.text("SELECT 1 FROM ledger_entries WHERE payload LIKE :p LIMIT 1"),
        {"p": '%"bound%'},
    ).first()
    drafts = [] if bound_before is not None else backfill_drafts(conn, keys)
    if drafts:
        append_entries(conn, drafts, format_recorded_at(datetime.now(UTC)), key=key)
        return  # the head moved forward, signed
    seq, head = conn.execute(sa.select(ledger_head.c.seq, ledger_head.c.entry_hash)).one()
    if seq == 0:
        return
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        op.execute("DROP TRIGGER ledger_head_forward_only")
    else:
        op.execute("ALTER TABLE ledger_head DISABLE TRIGGER ledger_head_forward_only")
    conn.execute(ledger_head.update().values(signature=head_signature(key, seq, head)))
    if sqlite:
        op.execute(_HEAD_TRIGGER_SQLITE)
    else:
        op.execute("ALTER TABLE ledger_head ENABLE TRIGGER ledger_head_forward_only")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name, _, _ in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
        op.execute("ALTER TABLE ledger_head DROP COLUMN signature")
    else:
        for table in _BOUND_TABLES:
            op.execute(f"DROP TRIGGER {table}_bound ON {table}")
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION taxmatch_refuse_bound_change()")
        op.drop_column("ledger_head", "signature")
