"""Reference snapshots and their models: load once, prepare once, train once.

``load_reference_snapshot`` loads master files into a snapshot (store), resolves persons
and prepares the matcher's features inside it (match), so that no batch redoes that work.
``train_current_model`` trains the probabilistic model for the snapshot in force. Each
records a ``config_changed`` ledger entry (actor, origin, ids and hashes) when what is in
force changes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from taxmatch.match.features import FEATURES_VERSION, prepare_snapshot
from taxmatch.match.model import ModelInfo, load_model_info, train_model
from taxmatch.match.report import match_weight_rows
from taxmatch.reference.snapshot import ReferenceInfo, current_reference, load_reference
from taxmatch.store.state import StateStore


@dataclass(frozen=True, slots=True)
class Audit:
    """Where configuration changes are recorded, and who made them."""

    database_url: str | None = None
    actor: str = "cli"
    origin: str = "cli"


def load_reference_snapshot(
    store: Path,
    files: Sequence[Path],
    *,
    progress: Callable[[int], None] | None = None,
    audit: Audit | None = None,
) -> ReferenceInfo:
    info = load_reference(
        store, files, progress=progress, prepare=prepare_snapshot, prepare_version=FEATURES_VERSION
    )
    who = audit or Audit()
    with StateStore.open(store, who.database_url, create=True) as state:  # makes a store
        state.record_config(
            "reference",
            info.snapshot_id,
            actor=who.actor,
            origin=who.origin,
            filings=info.filings,
            tins=info.tins,
            sources_sha256=list(info.source_sha256),
        )
    return info


def train_current_model(store: Path, *, seed: int = 42, audit: Audit | None = None) -> ModelInfo:
    ref = current_reference(store)
    info = train_model(store, ref.snapshot_id, ref.path, seed=seed)
    who = audit or Audit()
    with StateStore.open(store, who.database_url) as state:
        state.record_config(
            "model",
            info.sha256,
            actor=who.actor,
            origin=who.origin,
            version=info.version,
            snapshot_id=info.snapshot_id,
            seed=seed,
        )
    return info


def current_model(store: Path) -> ModelInfo:
    ref = current_reference(store)
    return load_model_info(store, ref.snapshot_id)


def reference_in_force(store: Path) -> ReferenceInfo:
    """The reference snapshot in force; ``ReferenceSnapshotError`` when none was loaded."""
    return current_reference(store)


def model_weights(info: ModelInfo) -> list[tuple[str, str, float]]:
    """(comparison, level, match weight) of every comparison level of the model."""
    return match_weight_rows(info)


__all__ = [
    "Audit",
    "current_model",
    "load_reference_snapshot",
    "model_weights",
    "reference_in_force",
    "train_current_model",
]
