"""Making a store and rotating its keys (``taxmatch store init``, ``taxmatch keys rotate``).

``init_store`` makes the store directory (0700), its state database and its keyring
(0600, beside the store), or, for an existing store, moves an older database's ledger key
into the keyring and tightens every file in the store to 0600 and directory to 0700.

``rotate_keys``: a new **data** key encrypts new values and every stored ciphertext is
re-encrypted (and every TIN re-indexed) under it in one transaction; the previous data key
stays in the keyring file until the next rotation (a server that sealed a value under it
while this one ran can still open it, and the next rotation re-encrypts it), older ones
are dropped. A new **ledger** key makes new keyed hashes and head signatures, and the old
one stays in the keyring to verify what it made. Each rotation is a ``keys_rotated``
ledger entry naming the kind and the new key's id.

Must never: print, log or record a key (ids only).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from taxmatch.errors import StoreError
from taxmatch.ledger.chain import LedgerDraft, PayloadValue
from taxmatch.owner_only import restrict_tree
from taxmatch.store.keys import Kind as Kind
from taxmatch.store.state import StateStore
from taxmatch.store.subjects import reseal_subjects


@dataclass(frozen=True, slots=True)
class Rotated:
    kind: Kind
    key_id: str
    resealed: int  # ciphertexts re-encrypted (data key only)
    retired: int  # old keys dropped from the keyring file (data key only)


def init_store(store: Path, database_url: str | None = None) -> Path:
    """Make (or bring up to date) the store at ``store``; the keyring's path."""
    with StateStore.open(store, database_url, create=True) as state:
        keyring = state.keyring
    restrict_tree(store)
    if keyring is None:  # StateStore.open always names one
        raise StoreError(f"{store}: no keyring")
    return keyring.path


def rotate_keys(
    store: Path,
    kinds: tuple[Kind, ...],
    *,
    database_url: str | None = None,
    actor: str = "cli",
    origin: str = "cli",
) -> list[Rotated]:
    done: list[Rotated] = []
    with StateStore.open(store, database_url) as state:
        keyring = state.keyring
        if keyring is None:
            raise StoreError(f"{store}: no keyring")
        for kind in kinds:
            kid = keyring.rotate(kind)
            with StateStore.open(store, database_url) as fresh:  # re-reads the keyring
                resealed = retired = 0
                if kind == "data":
                    with fresh.writing("rotate_data_key") as conn:
                        resealed = reseal_subjects(conn, fresh.keys)
                    if not keyring.from_environment(kind):
                        retired = keyring.retire(kind, keep=2)
                payload: dict[str, PayloadValue] = {"key_id": kid, "resealed": resealed}
                fresh.append_ledger(
                    [LedgerDraft("keys_rotated", actor, origin, True, kind, payload)]
                )
            done.append(Rotated(kind, kid, resealed, retired))
    return done
