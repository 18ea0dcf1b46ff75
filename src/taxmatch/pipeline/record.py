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

A disclosed row is not yet a disclosure made: its ``disclosure`` ledger entry and its
custodian-only subject row (TIN, statute, stated reason) wait in a ``DisclosureStash``
until the package is sealed (``taxmatch.store.seal``), so a run that stops before the seal
has disclosed nothing and a re-run discloses each row once.

Never logs or puts into the ledger a name, address or TIN: ledger payloads carry ids,
keyed hashes and counts (``person_key`` is an HMAC of the TIN under the store's key).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from taxmatch.contracts import (
    Disposition,
    Outcome,
    disposition_of,
    format_codes,
    mask_to_codes,
)
from taxmatch.disclose.package import MANIFEST, PackageWriter
from taxmatch.files.inputs import sha256_file
from taxmatch.ledger.chain import LedgerDraft
from taxmatch.ledger.digest import DecisionsDigest, keyed_hash
from taxmatch.pipeline.stash import DisclosureStash
from taxmatch.policy.decide import MatchSummary, decide
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
       o.* EXCLUDE (row_number)
FROM final f JOIN records r USING (row_number) LEFT JOIN outcomes o USING (row_number)
ORDER BY f.row_number
"""
_STATUTES_SQL = "SELECT coalesce(statute, '') AS s, count(*) AS n FROM records GROUP BY 1"


def disclosure_id_for(batch_id: str, row_number: int) -> str:
    digest = hashlib.sha256(f"{batch_id}:{row_number}".encode()).hexdigest()
    return f"D{digest[:20].upper()}"


def summary_of(row: dict[str, Any], i: int) -> MatchSummary:
    if row["candidates"][i] is None:
        return MatchSummary(0, 0.0, 0.0, False, False, None, False)
    return MatchSummary(
        candidates=row["candidates"][i],
        score=row["score"][i],
        margin_log2=row["margin_log2"][i],
        first_name_agrees=row["first_name_agrees"][i],
        address_corroborated=row["address_corroborated"][i],
        filing_year=row["filing_year"][i],
        ineligible=row["ineligible"][i],
        identifier_conflict=row["identifier_conflict"][i],
        suffix_unconfirmed=row["suffix_unconfirmed"][i],
        address_usable=row["address_usable"][i],
    )


def write_outputs(
    req: BatchRequest,
    state: StateStore,
    ws: BatchWorkspace,
    pkg: PackageWriter,
    batch_id: str,
    policy: Policy,
    bar: Progress,
) -> tuple[Counter[str], Counter[str], DisclosureStash]:
    """Stream every row, in file order, into exactly one package file and the state DB;
    the counts by outcome and reason code, and the disclosures to make when sealing."""
    stash = DisclosureStash(ws, batch_id, _disclosed_fields(policy))
    try:
        counts, reasons = _write(req, state, ws, pkg, batch_id, policy, bar, stash)
    except BaseException:
        stash.discard()
        raise
    return counts, reasons, stash


def _disclosed_fields(policy: Policy) -> list[str]:
    allowed = set(policy.disclosure.fields)
    names = ["street_address", "unit", "city", "state", "zip", "tax_year"]
    return [k for k in names if k in allowed] + (["phone"] if policy.disclosure.phone else [])


def _write(
    req: BatchRequest,
    state: StateStore,
    ws: BatchWorkspace,
    pkg: PackageWriter,
    batch_id: str,
    policy: Policy,
    bar: Progress,
    stash: DisclosureStash,
) -> tuple[Counter[str], Counter[str]]:
    counts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    allowed = set(policy.disclosure.fields)
    phone = policy.disclosure.phone
    key = state.ledger_key()
    person_keys: dict[str, str] = {}  # one HMAC per person, not per row
    whole = DecisionsDigest()
    chunks = 0
    for batch in ws.stream(_ROWS_SQL, CHUNK_ROWS):
        r = batch.to_pydict()
        decisions: list[DecisionRow] = []
        for i, row_number in enumerate(r["row_number"]):
            rid, mask = r["request_id"][i], r["mask"][i]
            if mask:
                codes = format_codes(mask)
                for code in mask_to_codes(mask):
                    reasons[code.value] += 1
                pkg.write(Disposition.REJECTED, [rid, codes, r["fields"][i]])
                counts["REJECTED"] += 1
                decisions.append(
                    DecisionRow(
                        batch_id,
                        row_number,
                        rid,
                        "rejected",
                        None,
                        codes,
                        r["fields"][i],
                        None,
                        None,
                        None,
                        r["cited_statute"][i],
                    )
                )
                continue
            m = summary_of(r, i)
            outcome = decide(m, policy, req.as_of)
            disposition = disposition_of(outcome)
            counts[outcome.value] += 1
            tin = r["person_tin"][i]
            person_key = None
            if tin:
                person_key = person_keys.get(tin)
                if person_key is None:
                    person_key = person_keys[tin] = keyed_hash(key, tin)
            disclosure_id = None
            if outcome is Outcome.DISCLOSED:
                disclosure_id = disclosure_id_for(batch_id, row_number)
                values = {
                    "street_address": r["line1"][i],
                    "unit": r["unit"][i],
                    "city": r["city"][i],
                    "state": r["state"][i],
                    "zip": r["zip5"][i],
                    "tax_year": m.filing_year,
                }
                shown = [values[k] if k in allowed else "" for k in values]
                row_out: list[str | int | float | None] = [
                    rid,
                    disclosure_id,
                    *shown,
                    f"{m.score:.6f}",
                ]
                if phone:
                    row_out.append(r["phone"][i] or "")
                pkg.write(Disposition.DISCLOSED, row_out)
                stash.add(
                    (
                        disclosure_id,
                        row_number,
                        hashlib.sha256(rid.encode()).hexdigest(),
                        person_key or "",
                        keyed_hash(key, *[str(v) for v in row_out[2:]]),
                        tin,
                        r["cited_statute"][i] or "",
                        r["stated_relevance"][i] or "",
                    )
                )
            elif disposition is Disposition.PENDING:
                pkg.write(Disposition.PENDING, [rid])
            else:
                pkg.write(Disposition.UNMATCHED, [rid, outcome.value])
            decisions.append(
                DecisionRow(
                    batch_id,
                    row_number,
                    rid,
                    disposition.value,
                    outcome.value,
                    "",
                    "",
                    disclosure_id,
                    m.score,
                    person_key,
                    r["cited_statute"][i],
                )
            )
        if decisions:
            digest_decisions(whole, decisions)
            chunks += 1
            state.record_decisions(
                batch_id, decisions, chunk=chunks, actor=req.actor, origin=req.origin
            )
        bar.advance(batch.num_rows)
    recorded = LedgerDraft(
        EVENT_DECISIONS_RECORDED,
        req.actor,
        req.origin,
        True,
        batch_id,
        {
            "rows": sum(counts.values()),
            "chunks": chunks,
            "decisions_sha256": whole.hexdigest(),
            **{f"count_{k}": v for k, v in sorted(counts.items())},
        },
    )
    # the request counts and the entry that closes the batch's record (and binds them)
    state.write_request_counts(
        batch_id, dict(ws.con.execute(_STATUTES_SQL).fetchall()), draft=recorded
    )
    return counts, reasons


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
    manifest = sha256_file(package / MANIFEST)
    delivered = LedgerDraft(
        "package_delivered",
        req.actor,
        req.origin,
        True,
        batch_id,
        {"manifest_sha256": manifest, "rows": rows},
    )
    return seal_batch(
        state,
        batch_id,
        delivered=delivered,
        counts=counts,
        finished_at=finished,
        disclosures=stash.chunks(req.actor, req.origin),
    )


__all__ = ["CHUNK_ROWS", "disclosure_id_for", "seal_outputs", "summary_of", "write_outputs"]
