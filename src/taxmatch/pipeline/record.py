"""Record a decided batch: every row into one package file, the state database and the ledger.

Streams the workspace's ``final`` rows (joined with the matcher's ``outcomes``) in file
order, chunk by chunk. Each decision row carries the cited statute in the canonical form of
``request_counts`` (NULL when it does not parse), so the transparency report's outcomes by
agency and statute line up with the accounting's requests. Per chunk, one state-store
transaction writes the decision rows and one ``decisions`` entry whose digest covers every
decision row of the chunk, so ``ledger verify`` can re-hash them later.
Then ``decisions_recorded`` closes the batch's record with its totals, in the transaction
that writes the requests per cited statute into ``request_counts`` (the annual report's
input), whose rows it binds.

A disclosed row is not yet a disclosure made: its custodian-only subject row (TIN, statute,
stated reason, and the facts its chunk's ``disclosures`` entry binds: request id sha256,
person key, values HMAC) waits in a ``DisclosureStash`` until the package is sealed
(``taxmatch.store.seal``), so a run that stops before the seal has disclosed nothing and a
re-run discloses each row once.

Never logs or puts into the ledger a name, address or TIN: ledger payloads carry ids,
keyed hashes and counts (``person_key`` is an HMAC of the TIN under the store's key).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from taxmatch.contracts import Disposition, Outcome, disposition_of, format_codes, mask_to_codes
from taxmatch.disclose.package import MANIFEST, PackageWriter
from taxmatch.files.inputs import sha256_file
from taxmatch.ledger.chain import LedgerDraft, PayloadValue
from taxmatch.ledger.digest import DecisionsDigest, keyed_hash
from taxmatch.pipeline.stash import DisclosureStash
from taxmatch.policy.coverage import names_of
from taxmatch.policy.decide import NO_CANDIDATE, MatchSummary, decide
from taxmatch.policy.model import Policy
from taxmatch.reference.workspace import BatchWorkspace
from taxmatch.store.ledger_store import EVENT_DECISIONS_RECORDED, digest_decisions
from taxmatch.store.seal import seal_batch
from taxmatch.store.state import DecisionRow, StateStore

if TYPE_CHECKING:
    from taxmatch.pipeline.batch import BatchRequest, Progress

CHUNK_ROWS = 10_000  # decision rows per transaction and per ``decisions`` ledger entry

_ROWS_SQL = """
SELECT f.row_number, f.request_id, f.mask, f.fields,
       r.statute AS cited_statute, r.relevance AS stated_relevance,
       coalesce(g.groups, 0) AS coverage_groups, o.* EXCLUDE (row_number)
FROM final f JOIN records r USING (row_number) LEFT JOIN outcomes o USING (row_number)
LEFT JOIN row_groups g USING (row_number)
ORDER BY f.row_number
"""
_STATUTES_SQL = "SELECT coalesce(statute, '') AS s, count(*) AS n FROM records GROUP BY 1"
# A decision's columns from disposition to person_key (``DecisionRow``'s, in order).
_Decided = tuple[str, str | None, str, str, str | None, float | None, str | None]


def disclosure_id_for(batch_id: str, row_number: int) -> str:
    digest = hashlib.sha256(f"{batch_id}:{row_number}".encode()).hexdigest()
    return f"D{digest[:20].upper()}"


_SUMMARY = tuple(f.name for f in fields(MatchSummary))  # the ``outcomes`` columns it reads
_DISCLOSED = ("street_address", "unit", "city", "state", "zip", "tax_year")  # package order


def summary_of(row: dict[str, Any], i: int) -> MatchSummary:
    if row["candidates"][i] is None:
        return NO_CANDIDATE
    return MatchSummary(*(row[name][i] for name in _SUMMARY))


def disclosed_fields(policy: Policy) -> list[str]:
    """The fields a disclosure shows under ``policy``, in package order."""
    allowed = set(policy.disclosure.fields)
    return [k for k in _DISCLOSED if k in allowed] + (["phone"] if policy.disclosure.phone else [])


def disclosed_row(
    policy: Policy, rid: str, did: str, values: list[Any], score: float, phone: str | None
) -> list[str | int | float | None]:
    """A ``disclosed.csv`` row: ``values`` (of ``_DISCLOSED``, in order) blank where the
    policy does not disclose them, the score, and the phone when the policy discloses it."""
    allowed = set(policy.disclosure.fields)
    shown = [v if k in allowed else "" for k, v in zip(_DISCLOSED, values, strict=True)]
    row: list[str | int | float | None] = [rid, did, *shown, f"{score:.6f}"]
    if policy.disclosure.phone:
        row.append(phone or "")
    return row


@dataclass(slots=True)
class Written:
    """What ``write_outputs`` counted: rows by outcome (and REJECTED), rejected rows by
    reason code, Σ(1 − p) over the rows the rule discloses (the false matches the model
    expects among them) and, by coverage group, rows by outcome."""

    counts: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    expected_wrong: float = 0.0
    groups: dict[str, Counter[str]] = field(default_factory=dict)

    def count(self, outcome: str, mask: int) -> None:
        self.counts[outcome] += 1
        if mask:
            for name in names_of(mask):
                self.groups.setdefault(name, Counter())[outcome] += 1


def write_outputs(
    req: BatchRequest,
    state: StateStore,
    ws: BatchWorkspace,
    pkg: PackageWriter,
    batch_id: str,
    policy: Policy,
    stash: DisclosureStash,
    bar: Progress,
    *,
    held: bool = False,
    held_groups: int = 0,
) -> Written:
    """Stream every row, in file order, into exactly one package file and the state DB,
    holding the disclosures to make when sealing in ``stash``; what it counted.
    ``held``: the batch is under an accuracy hold, and a row the rule discloses goes to
    REVIEW instead; ``held_groups``: the coverage groups flagged, whose rows the rule
    discloses go to REVIEW."""
    written = Written()
    reasons = written.reasons
    key = state.ledger_key()
    person_key_of = cache(partial(keyed_hash, key))  # one HMAC per person, not per row
    whole = DecisionsDigest()
    chunks = 0
    for batch in ws.stream(_ROWS_SQL, CHUNK_ROWS):
        r = batch.to_pydict()
        decisions: list[DecisionRow] = []
        for i, row_number in enumerate(r["row_number"]):
            rid, mask, statute = r["request_id"][i], r["mask"][i], r["cited_statute"][i]
            groups = r["coverage_groups"][i]
            if mask:
                codes, named = format_codes(mask), r["fields"][i]
                reasons.update(code.value for code in mask_to_codes(mask))
                pkg.write(Disposition.REJECTED, [rid, codes, named])
                written.count("REJECTED", groups)
                decided: _Decided = ("rejected", None, codes, named, None, None, None)
            else:
                m = summary_of(r, i)
                outcome = decide(m, policy, req.as_of)
                if outcome is Outcome.DISCLOSED:
                    written.expected_wrong += 1.0 - float(m.score)  # exact matcher: DECIMAL
                    if held or groups & held_groups:
                        outcome = Outcome.REVIEW
                disposition = disposition_of(outcome)
                written.count(outcome.value, groups)
                tin = r["person_tin"][i]
                person_key = person_key_of(tin) if tin else None
                did = None
                if outcome is Outcome.DISCLOSED:
                    did = disclosure_id_for(batch_id, row_number)
                    values = [r[c][i] for c in ("line1", "unit", "city", "state", "zip5")]
                    values.append(m.filing_year)
                    row_out = disclosed_row(policy, rid, did, values, m.score, r["phone"][i])
                    pkg.write(Disposition.DISCLOSED, row_out)
                    rid_sha = hashlib.sha256(rid.encode()).hexdigest()
                    values_hmac = keyed_hash(key, *[str(v) for v in row_out[2:]])
                    why = statute or "", r["stated_relevance"][i] or ""
                    stash.add((did, row_number, rid_sha, person_key or "", values_hmac, tin, *why))
                elif disposition is Disposition.PENDING:
                    pkg.write(Disposition.PENDING, [rid])
                else:
                    pkg.write(Disposition.UNMATCHED, [rid, outcome.value])
                decided = (disposition.value, outcome.value, "", "", did, m.score, person_key)
            decisions.append(DecisionRow(batch_id, row_number, rid, *decided, statute))
        if decisions:
            digest_decisions(whole, decisions)
            chunks += 1
            state.record_decisions(
                batch_id, decisions, chunk=chunks, actor=req.actor, origin=req.origin
            )
        bar.advance(batch.num_rows)
    totals: dict[str, PayloadValue] = {
        "rows": sum(written.counts.values()),
        "chunks": chunks,
        "decisions_sha256": whole.hexdigest(),
        **{f"count_{k}": v for k, v in sorted(written.counts.items())},
    }
    recorded = LedgerDraft(EVENT_DECISIONS_RECORDED, req.actor, req.origin, True, batch_id, totals)
    # the request counts and the entry that closes the batch's record (and binds them)
    state.write_request_counts(
        batch_id, dict(ws.con.execute(_STATUTES_SQL).fetchall()), draft=recorded
    )
    return written


def seal_outputs(
    req: BatchRequest,
    state: StateStore,
    batch_id: str,
    package: Path,
    rows: int,
    counts: Counter[str],
    finished: datetime,
    stash: DisclosureStash,
) -> str:
    """Seal the written package: ``package_delivered`` (its manifest's sha256), every
    disclosure held in ``stash`` and the batch done, in one transaction; the new head."""
    manifest: dict[str, PayloadValue] = {"manifest_sha256": sha256_file(package / MANIFEST)}
    manifest["rows"] = rows
    delivered = LedgerDraft("package_delivered", req.actor, req.origin, True, batch_id, manifest)
    return seal_batch(
        state,
        batch_id,
        delivered=delivered,
        counts=counts,
        finished_at=finished,
        disclosures=stash.chunks(),
    )
