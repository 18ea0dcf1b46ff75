"""Explain one decision of a past batch to the custodian: ``taxmatch explain``.

Finds the batch and the request's decision in the state store, checks that the
probabilistic matcher decided it, re-scores the request from the batch's workspace
against the batch's reference snapshot and model (``taxmatch.match.explain``) and returns
it all as data; ``taxmatch.console.explain_page`` renders the page and the waterfall
chart for the disclosure officer.

The page is the custodian's, never the requester's: it is refused inside the batch's
package directory. Errors and logs name the store, batch and request ids only, never a
name, address, TIN or phone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from taxmatch.contracts import REASON_DESCRIPTIONS, Disposition, ReasonCode
from taxmatch.errors import BatchNotFound, NotExplainable, RequestNotFound, StoreError
from taxmatch.files.inputs import load_policy
from taxmatch.match.explain import Candidate as Candidate
from taxmatch.match.explain import Explanation, explain_row
from taxmatch.match.explain import Step as Step
from taxmatch.match.model import load_model_info
from taxmatch.pipeline.retain import workspace_file
from taxmatch.policy.model import MatchingPolicy, policy_sha256
from taxmatch.reference.snapshot import reference_dir
from taxmatch.store.state import BatchRow, DecisionRow, StateStore

# The decision's stored score and the re-scored best person agree to this (probability).
SCORE_TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True)
class ExplainedDecision:
    """Everything the page shows: the stored decision and the re-scored candidates."""

    batch: BatchRow
    decision: DecisionRow
    explanation: Explanation
    thresholds: MatchingPolicy | None  # None when the batch ran under another policy file
    model_version: str
    model_sha256: str
    rescored_agrees: bool  # the best person's probability is the decision's stored score


def explained_decision(
    store: Path,
    batch_id: str,
    request_id: str,
    *,
    top: int = 5,
    policy: Path | None = None,
    database_url: str | None = None,
    out: Path | None = None,
    decision: DecisionRow | None = None,
) -> ExplainedDecision:
    """The stored decision and the re-scored candidates, without writing anything.

    ``out``, when given, is where the caller will write: refused (before any work) when it
    lies inside the batch's package directory. ``decision``, when the caller has already
    read it by key (the console), spares the scan of the batch for ``request_id``.
    """
    with StateStore.open(store, database_url) as state:
        batch = state.find_batch(batch_id)
        if batch is None:
            raise BatchNotFound(f"{store}: batch {batch_id} not found")
        if out is not None:
            _refuse_package_dir(out, Path(batch.package_dir), batch_id)
        if decision is None or decision.batch_id != batch_id:
            decision = _find_decision(state, batch_id, request_id)
        key = state.ledger_key()
    where = f"batch {batch_id}, request {request_id}"
    if decision.disposition == Disposition.REJECTED.value:
        raise NotExplainable(
            f"{where}: REJECTED at validation, it never reached matching "
            f"(reason codes: {_describe_codes(decision.reason_codes)})"
        )
    if batch.matcher != "probabilistic":
        raise NotExplainable(
            f"{where}: decided by the {batch.matcher} matcher, which has no model and no "
            "match weights to explain"
        )
    reference = reference_dir(store) / f"{batch.reference_id}.duckdb"
    if not reference.exists():
        raise StoreError(
            f"{reference}: {where}: reference snapshot {batch.reference_id} is no longer present"
        )
    workspace = workspace_file(store, batch_id)
    if not workspace.exists():
        raise StoreError(f"{workspace}: {where}: the batch workspace is no longer present")
    model = load_model_info(store, batch.reference_id)
    explanation = explain_row(
        workspace,
        reference,
        model,
        int(decision.row_number),
        key=key,
        decided_key=decision.person_key,
        top=top,
    )
    best = explanation.candidates[0].probability if explanation.candidates else 0.0
    stored = decision.score if decision.score is not None else 0.0
    return ExplainedDecision(
        batch=batch,
        decision=decision,
        explanation=explanation,
        thresholds=_thresholds(policy, batch.policy_sha256),
        model_version=model.version,
        model_sha256=model.sha256,
        rescored_agrees=abs(best - stored) <= SCORE_TOLERANCE,
    )


def _find_decision(state: StateStore, batch_id: str, request_id: str) -> DecisionRow:
    # Request ids are unique within a batch: a repeated one is rejected under a generated id.
    for decision in state.iter_decisions(batch_id):
        if decision.request_id == request_id:
            return decision
    raise RequestNotFound(f"batch {batch_id}: request {request_id} is not in the batch")


def _describe_codes(codes: str) -> str:
    parts = []
    for code in (c for c in codes.split(";") if c):
        try:
            parts.append(f"{code} {REASON_DESCRIPTIONS[ReasonCode(code)]}")
        except ValueError:
            parts.append(code)
    return "; ".join(parts) or "none recorded"


def _thresholds(policy: Path | None, batch_sha: str) -> MatchingPolicy | None:
    """The policy's matching thresholds, when ``policy`` (default: the packaged one) is the
    very policy the batch ran under."""
    loaded, text = load_policy(policy)
    return loaded.matching if policy_sha256(text) == batch_sha else None


def _refuse_package_dir(out: Path, package: Path, batch_id: str) -> None:
    target, pkg = out.resolve(), package.resolve()
    if target == pkg or pkg in target.parents:
        raise StoreError(
            f"{out}: inside the package of batch {batch_id}; an explanation is the "
            "custodian's and never goes into the requester's package"
        )


def safe_name(text: str) -> str:
    """An id as a file-name part (ids are the requester's; keep them to safe characters)."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)[:80]
