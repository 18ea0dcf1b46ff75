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
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from taxmatch.contracts import Disposition, Outcome, disposition_of, format_codes, mask_to_codes
from taxmatch.disclose.package import MANIFEST, PackageWriter
from taxmatch.files.inputs import sha256_file
from taxmatch.ledger.chain import LedgerDraft, PayloadValue
from taxmatch.ledger.digest import DecisionsDigest, KeyedHasher
from taxmatch.pipeline.stash import DisclosureStash
from taxmatch.policy.coverage import names_of
from taxmatch.policy.decide import NO_CANDIDATE, MatchSummary, decide
from taxmatch.policy.model import Policy
from taxmatch.reference.workspace import IN_WINDOW, BatchWorkspace
from taxmatch.store.decision_rows import DecisionCells
from taxmatch.store.ledger_store import EVENT_DECISIONS_RECORDED
from taxmatch.store.seal import seal_batch
from taxmatch.store.state import StateStore

if TYPE_CHECKING:
    from taxmatch.pipeline.batch import BatchRequest, Progress

CHUNK_ROWS = 10_000  # decision rows per transaction and per ``decisions`` ledger entry
PERSON_KEYS_CACHED = 1 << 16  # person keys (TIN -> HMAC) remembered while writing

# One window of rows (``BatchWorkspace.stream_windows``): each table is read within the
# window, so its joins and sort hold a window, not the batch.
_ROWS_SQL = f"""
SELECT f.row_number, f.request_id, f.mask, f.fields,
       r.statute AS cited_statute, r.relevance AS stated_relevance,
       coalesce(g.groups, 0) AS coverage_groups, o.* EXCLUDE (row_number)
FROM (SELECT * FROM final {IN_WINDOW}) f
JOIN (SELECT row_number, statute, relevance FROM records {IN_WINDOW}) r USING (row_number)
LEFT JOIN (SELECT * FROM outcomes {IN_WINDOW}) o USING (row_number)
LEFT JOIN (SELECT * FROM row_groups {IN_WINDOW}) g USING (row_number)
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


@cache
def _shown(allowed: tuple[str, ...]) -> tuple[bool, ...]:
    """Whether each of ``_DISCLOSED`` is shown, by the fields a policy discloses."""
    return tuple(k in allowed for k in _DISCLOSED)


def disclosed_row(
    policy: Policy, rid: str, did: str, values: list[Any], score: float, phone: str | None
) -> list[str | int | float | None]:
    """A ``disclosed.csv`` row: ``values`` (of ``_DISCLOSED``, in order) blank where the
    policy does not disclose them, the score, and the phone when the policy discloses it."""
    keep = _shown(policy.disclosure.fields)
    shown = [v if k else "" for k, v in zip(keep, values, strict=True)]
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

    def count(self, outcome: str, mask: int, n: int = 1) -> None:
        """``n`` rows of ``outcome`` showing the coverage groups of ``mask``."""
        self.counts[outcome] += n
        if mask:
            for name in names_of(mask):
                self.groups.setdefault(name, Counter())[outcome] += n


_Out = list[str | int | float | None]  # a package row
# the columns of ``_ROWS_SQL`` a row is decided and written from, in this order
_ROW = ("row_number", "request_id", "mask", "fields", "cited_statute", "stated_relevance")
_ROW_REST = ("coverage_groups", "person_tin", "phone", "line1", "unit", "city", "state", "zip5")


@dataclass(slots=True)
class _Chunk:
    """One chunk's package rows by file, its decision rows, and its tallies of rows by
    (outcome, coverage groups) and of rejected rows by reason mask."""

    files: dict[Disposition, list[_Out]] = field(
        default_factory=lambda: {d: [] for d in Disposition}
    )
    decisions: list[DecisionCells] = field(default_factory=list)  # ``DecisionRow``'s fields
    tally: Counter[tuple[str, int]] = field(default_factory=Counter)
    masks: Counter[int] = field(default_factory=Counter)


class _Decider:
    """Decides a batch's rows, chunk by chunk, into package rows, decision rows and the
    disclosures held in ``stash`` (see ``write_outputs``)."""

    def __init__(
        self,
        req: BatchRequest,
        key: bytes,
        batch_id: str,
        policy: Policy,
        stash: DisclosureStash,
        held: tuple[bool, int],
    ) -> None:
        self.as_of, self.batch_id, self.policy, self.stash = req.as_of, batch_id, policy, stash
        self.held, self.held_groups = held
        self.hasher = KeyedHasher(key)
        # One HMAC per person seen lately, not per row; bounded, as a batch may name
        # millions of persons.
        self.person_key_of = lru_cache(PERSON_KEYS_CACHED)(self.hasher)
        self.codes_of = cache(format_codes)
        self.expected_wrong = 0.0

    def chunk(self, r: dict[str, list[Any]]) -> _Chunk:
        out = _Chunk()
        files, tally, decisions = out.files, out.tally, out.decisions
        batch_id = self.batch_id
        summaries = zip(*(r[name] for name in _SUMMARY), strict=True)
        rest = zip(*(r[name] for name in _ROW_REST), strict=True)
        for (row_number, rid, mask, named, statute, why), more, m_row in zip(
            zip(*(r[name] for name in _ROW), strict=True), rest, summaries, strict=True
        ):
            groups = more[0]
            if mask:
                codes = self.codes_of(mask)
                out.masks[mask] += 1
                files[Disposition.REJECTED].append([rid, codes, named])
                tally["REJECTED", groups] += 1
                decided: _Decided = ("rejected", None, codes, named, None, None, None)
            else:
                m = NO_CANDIDATE if m_row[0] is None else MatchSummary(*m_row)
                decided = self._decided(out, m, row_number, rid, (statute, why), more)
            decisions.append((batch_id, row_number, rid, *decided, statute))
        return out

    def _decided(
        self,
        out: _Chunk,
        m: MatchSummary,
        row_number: int,
        rid: str,
        why: tuple[str | None, str | None],
        more: tuple[Any, ...],
    ) -> _Decided:
        """A validated row's decision, its package row and (disclosed) its stashed facts."""
        groups, tin, phone = more[0], more[1], more[2]
        outcome = decide(m, self.policy, self.as_of)
        if outcome is Outcome.DISCLOSED:
            self.expected_wrong += 1.0 - float(m.score)  # exact matcher: DECIMAL
            if self.held or groups & self.held_groups:
                outcome = Outcome.REVIEW
        disposition, value = _DISPOSITION[outcome], outcome.value
        out.tally[value, groups] += 1
        person_key = self.person_key_of(tin) if tin else None
        did = None
        if outcome is Outcome.DISCLOSED:
            did = disclosure_id_for(self.batch_id, row_number)
            values = [*more[3:], m.filing_year]
            row_out = disclosed_row(self.policy, rid, did, values, m.score, phone)
            out.files[Disposition.DISCLOSED].append(row_out)
            rid_sha = hashlib.sha256(rid.encode()).hexdigest()
            values_hmac = self.hasher(*[str(v) for v in row_out[2:]])
            stated = why[0] or "", why[1] or ""
            self.stash.add((did, row_number, rid_sha, person_key or "", values_hmac, tin, *stated))
        elif disposition is Disposition.PENDING:
            out.files[Disposition.PENDING].append([rid])
        else:
            out.files[Disposition.UNMATCHED].append([rid, value])
        return (disposition.value, value, "", "", did, m.score, person_key)


_DISPOSITION = {outcome: disposition_of(outcome) for outcome in Outcome}


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
    ready: Callable[[int], None] | None = None,
) -> Written:
    """Stream every row, in file order, into exactly one package file and the state DB,
    holding the disclosures to make when sealing in ``stash``; what it counted.
    ``held``: the batch is under an accuracy hold, and a row the rule discloses goes to
    REVIEW instead; ``held_groups``: the coverage groups flagged, whose rows the rule
    discloses go to REVIEW; ``ready``, given a row number, returns once every row below it
    has its ``outcomes`` and ``row_groups`` (the rows are matched meanwhile: ``overlap``)."""
    written = Written()
    decider = _Decider(req, state.ledger_key(), batch_id, policy, stash, (held, held_groups))
    whole = DecisionsDigest()
    chunks = 0
    for batch in ws.stream_windows(_ROWS_SQL, "final", CHUNK_ROWS, before=ready):
        out = decider.chunk(batch.to_pydict())
        chunks += _record_chunk(req, state, pkg, written, out, (batch_id, chunks + 1), whole)
        bar.advance(batch.num_rows)
    written.expected_wrong = decider.expected_wrong
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


def _record_chunk(
    req: BatchRequest,
    state: StateStore,
    pkg: PackageWriter,
    written: Written,
    out: _Chunk,
    chunk: tuple[str, int],
    whole: DecisionsDigest,
) -> int:
    """Write one chunk's package rows, count them, and record its decisions as ``chunk``
    (batch id, chunk number) with their ``decisions`` entry, their lines added to ``whole``
    too; 1, or 0 for an empty chunk."""
    for disposition, rows in out.files.items():
        pkg.write_many(disposition, rows)
    for (outcome, groups), n in out.tally.items():
        written.count(outcome, groups, n)
    for mask, n in out.masks.items():
        written.reasons.update({code.value: n for code in mask_to_codes(mask)})
    if not out.decisions:
        return 0
    batch_id, number = chunk
    state.record_decisions(
        batch_id, out.decisions, chunk=number, actor=req.actor, origin=req.origin, also=whole
    )
    return 1


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
