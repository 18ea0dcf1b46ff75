"""Keys out of the database; TINs and stated reasons encrypted at rest.

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-06

Frozen once released. The ledger key moves from the ``ledger_key`` table into the
store's keyring (``taxmatch.store.keys``: a 0600 file beside the store, or the
environment), and the table is dropped. ``disclosure_subjects.tin`` and ``.relevance``
become AES-GCM ciphertexts (``taxmatch.store.sealed``), and ``tin_index`` (an HMAC of the
TIN under a key derived from the data key) replaces the plaintext index on ``tin``.

Needs the keyring (``config.attributes["keyring"]``, as ``StateStore`` passes it) when a
ledger key or any disclosure subject is stored; refuses without one rather than lose a
key. The downgrade decrypts and puts the ledger key in use back into the table.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import context, op

from taxmatch.errors import StoreError
from taxmatch.store.keys import Keyring
from taxmatch.store.sealed import blind_index, place, seal, unseal

revision = "0008"
down_revision = "0005"
branch_labels = None
depends_on = None

_SQLITE_KEY_TRIGGERS = (
    """CREATE TRIGGER ledger_key_no_update BEFORE UPDATE ON ledger_key
       BEGIN SELECT RAISE(ABORT, 'ledger_key is append-only'); END""",
    """CREATE TRIGGER ledger_key_no_delete BEFORE DELETE ON ledger_key
       BEGIN SELECT RAISE(ABORT, 'ledger_key is append-only'); END""",
)
_POSTGRES_KEY_TRIGGERS = (
    """CREATE TRIGGER ledger_key_append_only BEFORE UPDATE OR DELETE ON ledger_key
       FOR EACH ROW EXECUTE FUNCTION taxmatch_refuse_change()""",
    """CREATE TRIGGER ledger_key_no_truncate BEFORE TRUNCATE ON ledger_key
       FOR EACH STATEMENT EXECUTE FUNCTION taxmatch_refuse_change()""",
)
_SUBJECTS = sa.table(
    "disclosure_subjects",
    sa.column("disclosure_id", sa.Text()),
    sa.column("tin", sa.Text()),
    sa.column("relevance", sa.Text()),
    sa.column("tin_index", sa.String(64)),
)


def _keyring(what: str) -> Keyring:
    keyring = context.config.attributes.get("keyring")
    if not isinstance(keyring, Keyring):
        raise StoreError(f"schema 0008 needs the store's keyring to {what}")
    return keyring


def upgrade() -> None:
    conn = op.get_bind()
    secret = conn.execute(sa.text("SELECT secret FROM ledger_key WHERE id = 1")).scalar()
    keyring = context.config.attributes.get("keyring")
    if secret is not None:
        _keyring("keep the ledger key").adopt_ledger_key(bytes(secret))
    elif isinstance(keyring, Keyring):
        keyring.load(create=True)  # no key was made yet, so nothing is keyed: make them
    op.drop_table("ledger_key")  # its triggers go with it
    with op.batch_alter_table("disclosure_subjects") as batch:
        batch.alter_column("tin", type_=sa.Text(), existing_type=sa.String(9))
        batch.add_column(sa.Column("tin_index", sa.String(64), nullable=True))
        batch.drop_index("ix_disclosure_subjects_tin")
        batch.create_index("ix_disclosure_subjects_tin_index", ["tin_index"])
    rows = conn.execute(
        sa.select(_SUBJECTS.c.disclosure_id, _SUBJECTS.c.tin, _SUBJECTS.c.relevance)
    ).all()
    if not rows:
        return
    keys = _keyring("encrypt the disclosure subjects").load()
    for disclosure_id, tin, relevance in rows:
        conn.execute(
            _SUBJECTS.update()
            .where(_SUBJECTS.c.disclosure_id == disclosure_id)
            .values(
                tin=seal(keys, tin, place("disclosure_subjects", "tin", disclosure_id)),
                relevance=seal(
                    keys, relevance, place("disclosure_subjects", "relevance", disclosure_id)
                ),
                tin_index=blind_index(keys, tin),
            )
        )


def downgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(_SUBJECTS.c.disclosure_id, _SUBJECTS.c.tin, _SUBJECTS.c.relevance)
    ).all()
    keyring = context.config.attributes.get("keyring")
    if rows:
        keys = _keyring("decrypt the disclosure subjects").load()
        for disclosure_id, tin, relevance in rows:
            conn.execute(
                _SUBJECTS.update()
                .where(_SUBJECTS.c.disclosure_id == disclosure_id)
                .values(
                    tin=unseal(keys, tin, place("disclosure_subjects", "tin", disclosure_id)),
                    relevance=unseal(
                        keys, relevance, place("disclosure_subjects", "relevance", disclosure_id)
                    ),
                )
            )
    with op.batch_alter_table("disclosure_subjects") as batch:
        batch.drop_index("ix_disclosure_subjects_tin_index")
        batch.drop_column("tin_index")
        batch.alter_column("tin", type_=sa.String(9), existing_type=sa.Text())
        batch.create_index("ix_disclosure_subjects_tin", ["tin"])
    op.create_table(
        "ledger_key",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_ledger_key_single_row"),
    )
    if isinstance(keyring, Keyring):  # without it an older taxmatch would make a new key
        _, key = keyring.load().current("ledger")
        conn.execute(
            sa.text("INSERT INTO ledger_key (id, secret, created_at) VALUES (1, :k, :t)"),
            {"k": key, "t": datetime.now(UTC).replace(tzinfo=None)},
        )
    triggers = _SQLITE_KEY_TRIGGERS if conn.dialect.name == "sqlite" else _POSTGRES_KEY_TRIGGERS
    for statement in triggers:
        op.execute(statement)
