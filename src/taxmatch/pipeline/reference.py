"""Reference snapshots and their models: load once, prepare once, train once.

``load_reference_snapshot`` loads master files into a snapshot (store), resolves persons
and prepares the matcher's features inside it (match) and its lookup index beside it, so
that no batch redoes that work.
``train_current_model`` trains the probabilistic model for the snapshot in force. Each
records a ``config_changed`` ledger entry (actor, origin, ids and hashes) when what is in
force changes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from taxmatch.errors import memory_advice
from taxmatch.ledger.chain import PayloadValue
from taxmatch.match.features import FEATURES_VERSION, prepare_snapshot
from taxmatch.match.lookup_index import INDEX_MEMORY_LIMIT, build_lookup_index
from taxmatch.match.model import BLOCKING, ModelInfo, load_model_info, train_model
from taxmatch.match.model import TRAIN_MEMORY_LIMIT as TRAIN_MEMORY_LIMIT
from taxmatch.match.report import match_weight_rows
from taxmatch.pipeline.matching import check_engine
from taxmatch.reference.snapshot import LOAD_MEMORY_LIMIT as LOAD_MEMORY_LIMIT
from taxmatch.reference.snapshot import (
    FilingsElsewhere,
    ReferenceInfo,
    current_reference,
    load_reference,
)
from taxmatch.store.state import StateStore


@dataclass(frozen=True, slots=True)
class Audit:
    """Where configuration changes are recorded, and who made them."""

    database_url: str | None = None
    actor: str = "cli"
    origin: str = "cli"

    def record(
        self,
        store: Path,
        kind: str,
        identity: str,
        *,
        create: bool = False,
        **details: PayloadValue,
    ) -> None:
        """A ``config_changed`` entry when ``identity`` is not already in force (``create``:
        make the store when there is none)."""
        with StateStore.open(store, self.database_url, create=create) as state:
            state.record_config(kind, identity, actor=self.actor, origin=self.origin, **details)


def load_reference_snapshot(
    store: Path,
    files: Sequence[Path],
    *,
    progress: Callable[[int], None] | None = None,
    audit: Audit | None = None,
    memory_limit: str | None = None,
    engine: str = "duckdb",
    spark_dir: Path | None = None,
) -> ReferenceInfo:
    """Load ``files`` into a new snapshot, make it current and build its lookup index.
    ``memory_limit``: DuckDB's, for the load and the index's build (by default
    ``LOAD_MEMORY_LIMIT`` and ``INDEX_MEMORY_LIMIT``). ``engine`` ``spark``: the filings
    are built on Spark (``match.spark_reference``) and the snapshot's tables are also
    written as the Spark engine's Parquet under ``spark_dir`` (default ``<store>/spark``),
    so that a Spark batch needs no export of its own; the snapshot is the same."""
    check_engine(engine)
    root = spark_dir if spark_dir is not None else store / "spark"
    elsewhere = None
    if engine == "spark":
        from taxmatch.match.spark_reference import build_filings

        elsewhere = FilingsElsewhere(build=build_filings, stage=root)
    info = load_reference(
        store,
        files,
        progress=progress,
        prepare=prepare_snapshot,
        prepare_version=FEATURES_VERSION,
        memory_limit=memory_limit or LOAD_MEMORY_LIMIT,
        elsewhere=elsewhere,
    )
    (audit or Audit()).record(
        store,
        "reference",
        info.snapshot_id,
        create=True,
        filings=info.filings,
        tins=info.tins,
        sources_sha256=list(info.source_sha256),
    )
    # The lookup index and the Spark export: a batch's chunks and single lookups read the
    # snapshot through the one, a Spark batch through the other (built after the snapshot
    # is recorded: a batch builds either if this did not).
    limit = memory_limit or INDEX_MEMORY_LIMIT
    if engine == "spark":
        from taxmatch.match.spark_engine import export_snapshot

        with memory_advice("reference load", limit, "--memory-limit"):
            export_snapshot(info.path, root, info.snapshot_id, memory_limit=limit)
    with memory_advice("reference load", limit, "--memory-limit"):
        build_lookup_index(info.path, list(BLOCKING), memory_limit=limit)
    return info


def train_current_model(
    store: Path,
    *,
    seed: int = 42,
    audit: Audit | None = None,
    memory_limit: str = TRAIN_MEMORY_LIMIT,
) -> ModelInfo:
    ref = current_reference(store)
    info = train_model(store, ref.snapshot_id, ref.path, seed=seed, memory_limit=memory_limit)
    (audit or Audit()).record(
        store, "model", info.sha256, version=info.version, snapshot_id=info.snapshot_id, seed=seed
    )
    return info


def current_model(store: Path) -> ModelInfo:
    return load_model_info(store, current_reference(store).snapshot_id)


reference_in_force = current_reference  # ReferenceSnapshotError when none was loaded
model_weights = match_weight_rows  # (comparison, level, match weight) of every level
