"""The facts of each disclosure on its accounting row, bound per chunk of a batch's seal.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08

Frozen once released. ``disclosure_subjects`` gains the facts a disclosure's ledger entry
used to carry: ``request_id_sha256`` (sha256 of the request id), ``person_key`` (keyed
hash of the TIN) and ``values_hmac`` (keyed hash of the disclosed values). The seal binds
them, with the row's other columns, by one ``disclosures`` entry per chunk of the batch
(``taxmatch.store.ledger_bound.DISCLOSURES``). Rows sealed before this revision keep NULL
there: they stay bound by their ``disclosure`` and ``disclosures_sealed`` entries and
verify as they were digested. Once set the facts never change: a trigger refuses any
UPDATE of them (the triggers of schema 0006 cover the other columns).

The downgrade drops the trigger, and the columns only while no row holds facts: facts
bound to the ledger are not thrown away (the ledger is append-only), so a store that
sealed batches at this revision keeps the columns, and upgrading it again adds none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_FACTS = ("request_id_sha256", "person_key", "values_hmac")
_CHANGED = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in _FACTS)
_SQLITE_TRIGGER = (
    "CREATE TRIGGER disclosure_subjects_facts_no_update BEFORE UPDATE ON disclosure_subjects "
    f"WHEN {_CHANGED.replace('IS DISTINCT FROM', 'IS NOT')} BEGIN SELECT "
    "RAISE(ABORT, 'disclosure_subjects: bound to the ledger, not changed'); END"
)
_PG_TRIGGER = (
    "CREATE TRIGGER disclosure_subjects_facts_bound BEFORE UPDATE ON disclosure_subjects "
    f"FOR EACH ROW WHEN ({_CHANGED}) EXECUTE FUNCTION taxmatch_refuse_change()"
)


def _columns(conn: sa.Connection) -> set[str]:
    return {c["name"] for c in sa.inspect(conn).get_columns("disclosure_subjects")}


def upgrade() -> None:
    conn = op.get_bind()
    present = _columns(conn)
    for name in _FACTS:
        if name not in present:  # kept by a downgrade that found facts
            op.add_column("disclosure_subjects", sa.Column(name, sa.Text(), nullable=True))
    op.execute(_SQLITE_TRIGGER if conn.dialect.name == "sqlite" else _PG_TRIGGER)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        op.execute("DROP TRIGGER disclosure_subjects_facts_no_update")
    else:
        op.execute("DROP TRIGGER disclosure_subjects_facts_bound ON disclosure_subjects")
    facts = " OR ".join(f"{c} IS NOT NULL" for c in _FACTS)
    held = conn.execute(sa.text(f"SELECT 1 FROM disclosure_subjects WHERE {facts} LIMIT 1")).first()
    if held is None:
        for name in _FACTS:
            op.execute(f"ALTER TABLE disclosure_subjects DROP COLUMN {name}")
