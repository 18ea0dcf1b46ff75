"""Exact replay of a past batch: the same inputs under the same pinned rules must give the
same decisions, row for row.

``replay_batch`` checks the inputs ``batch run`` kept (``taxmatch.pipeline.retain``)
against the hashes the batch pinned (the batch row and the ledger's ``rules_in_force``
entry: policy, model and reference snapshot), runs the ordinary
pipeline on them in a scratch store that shares the original's reference snapshot, model
and ledger key, and compares every decision (disposition, outcome, reason codes,
disclosure id, score, person key; the cited statute when one was recorded, since rows
recorded before schema 0005 have none) with the recorded one. Nothing reaches the requester
and the original's batches and decisions are not touched; the result is one
``batch_replayed`` ledger entry in the original store.

Differences name the row number, request id and field, never a value.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from taxmatch.errors import BatchNotFound, StoreError
from taxmatch.files.inputs import sha256_file
from taxmatch.ledger.chain import LedgerDraft, PayloadValue
from taxmatch.pipeline.batch import BatchRequest, Progress, run_batch
from taxmatch.pipeline.retain import ENVELOPE_NAME, POLICY_NAME, REQUESTS_STEM, inputs_dir
from taxmatch.reference.snapshot import reference_dir
from taxmatch.store.keys import Keyring
from taxmatch.store.state import DecisionRow, StateStore

MAX_SHOWN = 50  # differences listed by the CLI
COMPARED = ("disposition", "outcome", "reason_codes", "disclosure_id", "score", "person_key")


@dataclass
class ReplayResult:
    batch_id: str
    rows: int = 0
    same: int = 0
    differences: list[tuple[int, str, str]] = field(default_factory=list)  # row, id, field
    missing: int = 0  # recorded rows the replay did not produce
    extra: int = 0  # rows the replay produced that were not recorded

    @property
    def identical(self) -> bool:
        return not self.differences and not self.missing and not self.extra


def _pinned_rules(state: StateStore, batch_id: str) -> dict[str, str]:
    """The ``rules_in_force`` payload the batch's first run wrote to the ledger."""
    for entry in state.iter_ledger():
        if entry.event_type == "rules_in_force" and entry.object_id == batch_id:
            return {k: str(v) for k, v in entry.payload.items()}
    raise StoreError(f"batch {batch_id}: the ledger has no rules_in_force entry")


def _requests_file(store: Path, batch_id: str) -> Path:
    found = sorted(inputs_dir(store, batch_id).glob(f"{REQUESTS_STEM}.*"))
    found = [p for p in found if not p.name.endswith(".partial")]
    if not found:
        raise StoreError(
            f"batch {batch_id}: its request file is not kept in the store "
            "(batches run before replay support cannot be replayed)"
        )
    return found[0]


def _scratch_store(store: Path, scratch: Path, reference_id: str, keyring: Keyring) -> None:
    """A store with the original's snapshot, model and keys, and nothing else."""
    src_ref = reference_dir(store)
    dst_ref = reference_dir(scratch)
    dst_ref.mkdir(parents=True)
    for name in (f"{reference_id}.duckdb", f"{reference_id}.json"):
        source = src_ref / name
        if not source.exists():
            raise StoreError(f"reference snapshot {reference_id} is no longer in the store")
        (dst_ref / name).symlink_to(source.resolve())
    (dst_ref / "CURRENT").write_text(reference_id, encoding="utf-8")
    models = store / "models" / reference_id
    if models.exists():
        (scratch / "models").mkdir()
        (scratch / "models" / reference_id).symlink_to(models.resolve())
    # The original's keys go in before a StateStore would make keys of its own, so that
    # the replay's person keys are comparable with the recorded ones.
    scratch_keys = Keyring.for_store(scratch)
    if scratch_keys.path != keyring.path:  # TAXMATCH_KEYRING names one keyring for both
        keyring.save_copy(scratch_keys.path)
    StateStore.open(scratch, create=True).close()  # schema at head


def compare(recorded: dict[int, DecisionRow], replayed: dict[int, DecisionRow]) -> ReplayResult:
    """Row-by-row comparison of two runs' decisions (pure)."""
    result = ReplayResult(batch_id="")
    for row_number in sorted(recorded.keys() | replayed.keys()):
        old, new = recorded.get(row_number), replayed.get(row_number)
        if new is None:
            result.missing += 1
            continue
        if old is None:
            result.extra += 1
            continue
        result.rows += 1
        # rows recorded before schema 0005 have no statute: compared only when recorded
        fields: tuple[str, ...] = ("request_id", *COMPARED)
        if old.statute is not None:
            fields += ("statute",)
        bad = [name for name in fields if getattr(old, name) != getattr(new, name)]
        if bad:
            result.differences.extend((row_number, old.request_id, name) for name in bad)
        else:
            result.same += 1
    return result


def replay_batch(
    store: Path,
    batch_id: str,
    *,
    database_url: str | None = None,
    actor: str = "cli",
    origin: str = "cli",
    progress: Progress | None = None,
) -> ReplayResult:
    """Re-run ``batch_id`` under its pinned rules and compare every decision."""
    with StateStore.open(store, database_url) as state:
        batch = state.find_batch(batch_id)
        if batch is None:
            raise BatchNotFound(batch_id)
        if batch.status != "done":
            raise StoreError(f"batch {batch_id} is {batch.status}: only a finished batch replays")
        pinned = _pinned_rules(state, batch_id)
        kept = inputs_dir(store, batch_id)
        requests = _requests_file(store, batch_id)
        envelope, policy = kept / ENVELOPE_NAME, kept / POLICY_NAME
        for what, path, want in (
            ("request file", requests, batch.input_sha256),
            ("envelope", envelope, batch.envelope_sha256),
        ):
            if not path.exists() or sha256_file(path) != want:
                raise StoreError(f"batch {batch_id}: the kept {what} does not match its hash")
        recorded = {r.row_number: r for r in state.iter_decisions(batch_id)}
        with tempfile.TemporaryDirectory(prefix="taxmatch-replay-") as tmp:
            scratch = Path(tmp) / "store"
            if state.keyring is None:  # StateStore.open always names one
                raise StoreError(f"{store}: no keyring to replay with")
            _scratch_store(store, scratch, pinned["reference_id"], state.keyring)
            replayed_run = run_batch(
                BatchRequest(
                    store=scratch,
                    requests=requests,
                    envelope=envelope,
                    out=Path(tmp) / "out",
                    as_of=batch.as_of,
                    policy=policy,
                    matcher=batch.matcher,
                    database_url=f"sqlite:///{scratch / 'state.sqlite3'}",
                    actor=actor,
                    origin=origin,
                ),
                progress,
            )
            summary = replayed_run.summary
            for key, got in (
                ("policy_sha256", summary["policy"]["sha256"]),
                ("model_sha256", summary["model"]["sha256"]),
                ("reference_id", summary["reference_snapshot_id"]),
            ):
                if pinned.get(key) != got:
                    raise StoreError(f"batch {batch_id}: the {key} in force is not the pinned one")
            with StateStore.open(scratch, f"sqlite:///{scratch / 'state.sqlite3'}") as again:
                replayed = {r.row_number: r for r in again.iter_decisions(replayed_run.batch_id)}
        result = compare(recorded, replayed)
        result.batch_id = batch_id
        counts: dict[str, PayloadValue] = {
            **{k: getattr(result, k) for k in ("rows", "same", "missing", "extra")},
            "differences": len(result.differences),
        }
        draft = LedgerDraft("batch_replayed", actor, origin, result.identical, batch_id, counts)
        state.append_ledger([draft])
        return result
