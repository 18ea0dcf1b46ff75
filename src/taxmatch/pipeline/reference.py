"""Reference snapshots and their models: load once, prepare once, train once.

``load_reference_snapshot`` loads master files into a snapshot (store), resolves persons
and prepares the matcher's features inside it (match), so that no batch redoes that work.
``train_current_model`` trains the probabilistic model for the snapshot in force.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from taxmatch.match.features import FEATURES_VERSION, prepare_snapshot
from taxmatch.match.model import ModelInfo, load_model_info, train_model
from taxmatch.store.reference import ReferenceInfo, current_reference, load_reference


def load_reference_snapshot(
    store: Path, files: Sequence[Path], *, progress: Callable[[int], None] | None = None
) -> ReferenceInfo:
    return load_reference(
        store, files, progress=progress, prepare=prepare_snapshot, prepare_version=FEATURES_VERSION
    )


def train_current_model(store: Path, *, seed: int = 42) -> ModelInfo:
    ref = current_reference(store)
    return train_model(store, ref.snapshot_id, ref.path, seed=seed)


def current_model(store: Path) -> ModelInfo:
    ref = current_reference(store)
    return load_model_info(store, ref.snapshot_id)
