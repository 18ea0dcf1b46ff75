"""Void the ``disclosure`` entries older versions wrote for disclosures never made.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06

Frozen once released. Versions before the seal wrote a batch's ``disclosure`` entries with
its decisions, so an older ledger can hold entries of runs that never finished and
duplicate entries of a batch resumed after a crash. This appends ``disclosures_voided``
entries naming them (``taxmatch.ledger.void``); nothing is changed or removed. A ledger
written only by this version has none to void, and nothing is appended. The downgrade
leaves the entries (the ledger is append-only).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import context, op

from taxmatch.errors import StoreError
from taxmatch.ledger.chain import format_recorded_at
from taxmatch.ledger.void import DisclosureEntry, void_drafts, voided_entries
from taxmatch.store.keys import Keyring

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _entries(conn: sa.Connection) -> Iterator[DisclosureEntry]:
    rows = conn.execute(
        sa.text(
            "SELECT seq, object_id, payload FROM ledger_entries "
            "WHERE event_type = 'disclosure' ORDER BY seq"
        ).execution_options(yield_per=10_000)
    )
    for seq, disclosure_id, payload in rows:
        fields = json.loads(payload)
        yield DisclosureEntry(
            int(seq),
            str(disclosure_id),
            str(fields.get("batch_id")),
            fields.get("release_id") is not None,
        )


def _voided_before(conn: sa.Connection) -> set[int]:
    rows = conn.execute(
        sa.text("SELECT payload FROM ledger_entries WHERE event_type = 'disclosures_voided'")
    )
    return {int(seq) for (payload,) in rows for seq in json.loads(payload).get("seqs", [])}


def upgrade() -> None:
    from taxmatch.store.ledger_store import append_entries

    conn = op.get_bind()
    made = {
        (str(batch_id), str(disclosure_id))
        for batch_id, disclosure_id in conn.execute(
            sa.text(
                "SELECT d.batch_id, d.disclosure_id FROM decisions d JOIN batches b "
                "ON b.batch_id = d.batch_id WHERE b.status = 'done' "
                "AND d.disposition = 'disclosed' AND d.disclosure_id IS NOT NULL"
            )
        )
    }
    done = _voided_before(conn)  # an upgrade after a downgrade voids nothing twice
    entries = (e for e in _entries(conn) if e.seq not in done)
    drafts = void_drafts(voided_entries(entries, made), "taxmatch", "migration 0011")
    if not drafts:
        return
    keyring = context.config.attributes.get("keyring")
    if not isinstance(keyring, Keyring):
        raise StoreError("schema 0011 needs the store's keyring to sign the ledger head")
    key = keyring.load().current("ledger")[1]
    append_entries(conn, drafts, format_recorded_at(datetime.now(UTC)), key=key)


def downgrade() -> None:
    """Nothing: the voiding entries stay in the append-only ledger."""
