"""The disclosure officer's review: decide a held row, release decisions in a supplement.

An officer decides each REVIEW or AMBIGUOUS row (disclose or withhold, with a reason);
the decision is a ledger entry. A release gathers a batch's decided rows into the
supplemental package ``<out>/<batch_id>-S<n>/`` (the package's four files, summary and
manifest, holding only those rows); its manifest hash goes into the ledger. The two-person
rule: when the batch has more input rows than ``review.batch_release_threshold``, the
policy in force is not the one the batch ran under, or the batch is under an accuracy hold
(its shadow probes' estimate fell below ``accuracy.min_precision``) or has flagged
coverage groups (``accuracy.group_max_wrong_address``), a supervisor who neither prepared
the release nor decided any of its rows must approve before anything is written.

Must never: write a disclosed value anywhere but the package (ledger payloads carry a
keyed hash of the values), log a value, or let one person both prepare (or decide a row
of) and approve a release; show a held row's request (beside its candidates, on the
audited review page) with more than the last four digits of its TIN.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypedDict

import duckdb

from taxmatch.contracts import Address, Disposition
from taxmatch.disclose.package import (
    MANIFEST,
    PackageWriter,
)
from taxmatch.errors import BatchNotFound, StoreError, TaxmatchError
from taxmatch.ledger.chain import LedgerDraft, PayloadValue
from taxmatch.ledger.digest import keyed_hash
from taxmatch.match.explain import mask_tin
from taxmatch.pipeline.batch import done_summary
from taxmatch.pipeline.record import disclosed_fields, disclosed_row, disclosure_id_for
from taxmatch.pipeline.retain import workspace_file
from taxmatch.policy.model import Policy
from taxmatch.reference.workspace import BatchWorkspace
from taxmatch.store import review as cs
from taxmatch.store.models import BatchRow, SubjectRow
from taxmatch.store.state import StateStore

MIN_REASON = 10
DECIDERS = frozenset({"officer", "supervisor"})
_VALUES_SQL = """
SELECT o.row_number, o.line1, o.unit, o.city, o.state, o.zip5, o.filing_year, o.phone,
       o.person_tin, r.statute, r.relevance
FROM outcomes o JOIN records r USING (row_number)
WHERE o.row_number IN ({rows}) ORDER BY o.row_number
"""
# One held row's request as the batch normalised it (what matching compared against the
# reference), to be shown beside its candidates.
_REQUEST_SQL = """
SELECT concat_ws(' ', nullif(first_name, ''), nullif(middle_name, ''), nullif(last_name, ''),
                 nullif(suffix, '')) AS name,
       house_number, street, unit, po_box, city, state, zip5,
       CAST(date_of_birth AS VARCHAR) AS date_of_birth, tin,
       array_to_string(tax_periods, '; ') AS tax_periods
FROM records WHERE row_number = {row}
"""


class HeldValues(TypedDict):
    """A held row's values in the batch workspace (``_VALUES_SQL``): the candidate's
    address and filing from ``outcomes``, the request's statute and reason from
    ``records``. Only rows with a candidate (``person_tin``) are read."""

    row_number: int
    line1: str | None
    unit: str | None
    city: str | None
    state: str | None
    zip5: str | None
    filing_year: int | None
    phone: str | None
    person_tin: str
    statute: str | None
    relevance: str | None


@dataclass(frozen=True, slots=True)
class RequestShown:
    """One request's normalised values, for the officer's eyes only (on the audited
    review page); never a full TIN (last four digits, as the candidates' are)."""

    # personal values: never in a repr (a traceback or a logged context would show it)
    name: str = field(repr=False)
    address: str = field(repr=False)
    date_of_birth: str = field(repr=False)
    tin_masked: str = field(repr=False)  # "" when the requester gave no TIN
    tax_periods: str


class ReviewRefused(TaxmatchError):
    """The console user may not do this (role, or the two-person rule). Console: 403."""

    code = "TM810"
    exit_status = 8


@dataclass(frozen=True, slots=True)
class Actor:
    username: str
    role: str
    origin: str

    def draft(self, event: str, object_id: str, **payload: PayloadValue) -> LedgerDraft:
        """A ledger entry of what this console user did."""
        return LedgerDraft(event, self.username, self.origin, True, object_id, payload)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def decide_row(
    state: StateStore, batch_id: str, row_number: int, action: str, reason: str, who: Actor
) -> None:
    """Record an officer's decision on one held row (not yet released)."""
    if who.role not in DECIDERS:
        raise ReviewRefused("only officers and supervisors decide held rows")
    if action not in ("disclose", "withhold"):
        raise StoreError("action must be disclose or withhold")
    if len(reason.strip()) < MIN_REASON:
        raise StoreError(f"a reason of at least {MIN_REASON} characters is required")
    decision = cs.find_decision(state, batch_id, row_number)
    if decision is None:
        raise BatchNotFound(f"batch {batch_id} has no row {row_number}")
    payload: dict[str, PayloadValue] = {
        "batch_id": batch_id,
        "row_number": row_number,
        "outcome": decision.outcome,
        "action": action,
        "request_id_sha256": _sha(decision.request_id),
        "reason_sha256": _sha(reason.strip()),
    }
    draft = who.draft("review_decided", f"{batch_id}#{row_number}", **payload)
    cs.record_review(state, decision, action, reason.strip(), who.username, draft)


def second_person_needed(batch: BatchRow, policy: Policy, policy_sha: str) -> str:
    """Why a release of ``batch`` needs a second person; "" when it does not."""
    reasons = []
    # The batch's row count: its recorded outcome counts cover every input row.
    rows = max(batch.input_rows, sum(batch.counts.values()))
    if rows > policy.review.batch_release_threshold:
        reasons.append(
            f"the batch has {rows} rows, over the release threshold "
            f"of {policy.review.batch_release_threshold}"
        )
    if policy_sha != batch.policy_sha256:
        reasons.append("the policy in force is not the one the batch ran under")
    summary = done_summary(batch)
    if summary is not None and "accuracy_hold" in summary:
        reasons.append("the batch is under an accuracy hold")
    if summary is not None and "coverage" in summary and summary["coverage"]["flagged"]:
        reasons.append(f"coverage groups flagged: {', '.join(summary['coverage']['flagged'])}")
    return "; ".join(reasons)


def prepare_release(
    store: Path, state: StateStore, batch_id: str, who: Actor, policy: Policy, policy_sha: str
) -> cs.Release:
    """Gather the batch's decided rows into a release; publish it at once unless the
    two-person rule holds it for a supervisor's approval."""
    if who.role not in DECIDERS:
        raise ReviewRefused("only officers and supervisors prepare a release")
    batch = state.require_batch(batch_id)
    second = second_person_needed(batch, policy, policy_sha)

    def draft(release_id: str, rows: int) -> LedgerDraft:
        return who.draft(
            "release_prepared",
            release_id,
            batch_id=batch_id,
            rows=rows,
            second_person_required=bool(second),
        )

    release = cs.create_release(state, batch_id, who.username, second, draft)
    if not second:
        publish(store, state, release, batch, None, who, policy)
    return cs.find_release(state, release.release_id) or release


def approve_release(
    store: Path, state: StateStore, release_id: str, who: Actor, policy: Policy
) -> cs.Release:
    """The second person approves and publishes: a supervisor who neither prepared the
    release nor decided any row in it."""
    release = cs.find_release(state, release_id)
    if release is None:
        raise StoreError(f"release {release_id} not found")
    if who.role != "supervisor":
        raise ReviewRefused("only a supervisor approves a release")
    if who.username == release.preparer:
        raise ReviewRefused("the preparer of a release cannot also approve it")
    if release.status != "awaiting_approval":
        raise StoreError(f"release {release_id} is not awaiting approval")
    if who.username in {r.officer for r in cs.release_reviews(state, release_id)}:
        raise ReviewRefused("an officer who decided a row of a release cannot also approve it")
    batch = state.require_batch(release.batch_id)
    publish(store, state, release, batch, who.username, who, policy)
    return cs.find_release(state, release_id) or release


def _workspace_rows(store: Path, batch_id: str, sql: str, what: str) -> list[Any] | None:
    """The rows (dicts) ``sql`` reads from the batch workspace; None when the workspace is
    gone. Errors name the batch and ``what`` was read, never a value."""
    path = workspace_file(store, batch_id)
    if not path.is_file():
        return None
    try:
        with BatchWorkspace(path, threads=1) as ws:
            return [d for chunk in ws.stream(sql) for d in chunk.to_pylist()]
    except duckdb.Error as exc:
        raise StoreError(f"{path}: batch {batch_id}: cannot read {what}") from exc


def request_shown(store: Path, batch_id: str, row_number: int) -> RequestShown | None:
    """The request of ``row_number`` as the batch matched it; None when the batch
    workspace is gone (or holds no such row)."""
    sql = _REQUEST_SQL.format(row=int(row_number))
    rows = _workspace_rows(store, batch_id, sql, f"row {row_number}")
    if not rows:
        return None
    r = rows[0]
    where = Address(**{f.name: str(r[f.name] or "") for f in fields(Address)})
    return RequestShown(
        name=str(r["name"] or ""),
        address=where.one_line,
        date_of_birth=str(r["date_of_birth"] or ""),
        tin_masked=mask_tin(r["tin"]) if r["tin"] else "",
        tax_periods=str(r["tax_periods"] or ""),
    )


def _values(store: Path, batch_id: str, rows: list[int]) -> dict[int, HeldValues]:
    if not rows:
        return {}
    sql = _VALUES_SQL.format(rows=", ".join(str(int(r)) for r in rows))
    read = _workspace_rows(store, batch_id, sql, "the held rows")
    if read is None:
        raise StoreError(
            f"batch {batch_id}: the batch workspace is no longer present, so a "
            "held row cannot be disclosed; withhold it instead"
        )
    out: dict[int, HeldValues] = {int(d["row_number"]): d for d in read}
    missing = [r for r in rows if r not in out or not out[r].get("person_tin")]
    if missing:
        raise StoreError(f"batch {batch_id}: row {missing[0]} has no candidate to disclose")
    return out


def publish(
    store: Path,
    state: StateStore,
    release: cs.Release,
    batch: BatchRow,
    approver: str | None,
    who: Actor,
    policy: Policy,
) -> Path:
    """Write the supplemental package and record it (accounting rows, ledger) at once."""
    reviews = cs.release_reviews(state, release.release_id)
    disclose = [r.row_number for r in reviews if r.action == "disclose"]
    values = _values(store, batch.batch_id, disclose)
    key, named = state.ledger_key(), ";".join(disclosed_fields(policy))
    out = Path(batch.package_dir).parent
    started = datetime.now(UTC)
    subjects: list[SubjectRow] = []
    counts = {"DISCLOSED": len(disclose), "WITHHELD": len(reviews) - len(disclose)}
    with PackageWriter(out, release.release_id, phone=policy.disclosure.phone) as pkg:
        for r in reviews:
            if r.action == "withhold":
                pkg.write(Disposition.UNMATCHED, [r.request_id, r.outcome])
                continue
            v = values[r.row_number]
            decided = cs.find_decision(state, batch.batch_id, r.row_number)
            score = decided.score if decided is not None and decided.score is not None else 0.0
            did = disclosure_id_for(batch.batch_id, r.row_number)
            held = [v["line1"], v["unit"], v["city"], v["state"], v["zip5"], v["filing_year"]]
            row = disclosed_row(policy, r.request_id, did, held, score, v["phone"])
            pkg.write(Disposition.DISCLOSED, row)
            tin, statute, relevance = v["person_tin"], v["statute"] or "", v["relevance"] or ""
            facts = (
                _sha(r.request_id),
                keyed_hash(key, tin),
                keyed_hash(key, *[str(x) for x in row[2:]]),
            )
            subjects.append(
                SubjectRow(
                    did, batch.batch_id, r.row_number, tin, statute, relevance, named, *facts
                )
            )
        _, head = state.ledger_head()
        final = pkg.finish(
            {
                "batch_id": release.release_id,
                "supplement_of": batch.batch_id,
                "input_rows": len(reviews),
                "counts": counts,
                "reason_codes": {},
                "input_sha256": batch.input_sha256,
                "policy": {"version": batch.policy_version, "sha256": batch.policy_sha256},
                "reference_id": batch.reference_id,
                "ledger_head": head,
                "started_utc": started.isoformat(),
                "finished_utc": datetime.now(UTC).isoformat(),
            }
        )
    manifest_sha = _sha((final / MANIFEST).read_text(encoding="utf-8"))
    written: dict[str, PayloadValue] = {
        "batch_id": batch.batch_id,
        "manifest_sha256": manifest_sha,
        "rows": len(reviews),
        "disclosed": counts["DISCLOSED"],
        "withheld": counts["WITHHELD"],
        "approver": approver,
        "preparer": release.preparer,
    }
    supplement = who.draft("supplement_written", release.release_id, **written)
    cs.finish_release(
        state, release.release_id, approver, str(final), manifest_sha, subjects, supplement, started
    )
    return final
