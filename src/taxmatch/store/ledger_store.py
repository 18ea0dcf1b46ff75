"""The ledger's rows in the state database: append under the lock, verify chain and claims.

Functions on an open SQLAlchemy ``Connection`` inside a transaction the caller holds
(``StateStore`` takes the write lock or the read snapshot), so a chunk of decisions and
the ledger entry that accounts for it commit together, or neither does.

``verify_store`` checks the hash chain (every entry, in order, ending at the recorded
head, holding a witnessed head when given one), the head's keyed signature, then re-hashes
every stored decision row against the ``decisions`` entries that claim it (see
``taxmatch.ledger.digest``) and every bound row against the entry that binds it (see
``taxmatch.store.ledger_bound``). Streams the tables; keeps only the running head and the
claims (one per chunk of 10 000 rows, per review and per release) in memory.

Must never: change a stored entry, load a table whole, or put a row's values into an
error or a result (problems name batches, chunks, row numbers and sequence numbers).
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from contextlib import closing
from dataclasses import fields, replace
from itertools import groupby
from operator import itemgetter
from typing import Any, Final

from sqlalchemy import Connection, select

from taxmatch.errors import LedgerError
from taxmatch.ledger.bind import head_signature, signature_holds
from taxmatch.ledger.chain import (
    GENESIS,
    LEDGER_SCHEMA,
    PROBLEM_HEAD,
    PROBLEM_MALFORMED,
    ChainVerifier,
    LedgerDraft,
    LedgerEntry,
    Payload,
    VerifyResult,
    link_all,
)
from taxmatch.ledger.digest import (
    EVENT_CONFIG_CHANGED,
    EVENT_DECISIONS,
    EVENT_DECISIONS_DISCARDED,
    ChunkClaim,
    DecisionsDigest,
    chunk_claim,
)
from taxmatch.store.keys import Keys
from taxmatch.store.ledger_bound import EVENT_DISCLOSURES_SEALED
from taxmatch.store.ledger_bound_verify import BoundClaims, Problem, verify_bound
from taxmatch.store.models import (
    CHUNK,
    decisions,
    entry_from_row,
    entry_params,
    ledger_entries,
    parse_payload,
)
from taxmatch.store.models import ledger_head as head_table

# The stored columns ``verify_store`` reads, by name: ``ledger_schema``, then a
# ``LedgerEntry``'s fields, which are ``ChainVerifier.feed``'s arguments in order.
_STORED: Final = ("ledger_schema", *(f.name for f in fields(LedgerEntry)))
EVENT_DECISIONS_RECORDED: Final = "decisions_recorded"
_CLAIMING: Final = frozenset({EVENT_DECISIONS, EVENT_DECISIONS_DISCARDED, EVENT_DECISIONS_RECORDED})
_PARSED: Final = _CLAIMING | {EVENT_DISCLOSURES_SEALED}  # and every entry that binds rows
DIGESTED: Final = (
    "row_number",
    "request_id",
    "disposition",
    "outcome",
    "reason_codes",
    "fields",
    "disclosure_id",
    "score",
    "person_key",
)  # a decision row's columns in its digest line (``DecisionValues``), then ``statute``
DECISION_COLUMNS: Final = tuple(decisions.c[name] for name in (*DIGESTED, "statute"))


def append_entries(
    conn: Connection, drafts: Sequence[LedgerDraft], recorded_at: str, *, key: bytes
) -> list[LedgerEntry]:
    """Link ``drafts`` after the locked head and insert them; the entries written. The new
    head is signed with the ledger ``key`` (``taxmatch.ledger.bind.head_signature``).

    Refuses to extend a ledger whose head row does not match its last entry.
    """
    seq, head = conn.execute(
        select(head_table.c.seq, head_table.c.entry_hash)
        .where(head_table.c.id == 1)
        .with_for_update()
    ).one()
    if not drafts:
        return []
    last = conn.execute(
        select(ledger_entries.c.entry_hash).where(ledger_entries.c.seq == seq)
    ).scalar_one_or_none()
    if (last or GENESIS) != head or (seq == 0) != (last is None):
        raise LedgerError("ledger head does not match its last entry; run ledger verify")
    entries = link_all(drafts, after_seq=seq, prev_hash=head, recorded_at=recorded_at)
    conn.execute(ledger_entries.insert(), [entry_params(e) for e in entries])
    conn.execute(
        head_table.update()
        .where(head_table.c.id == 1)
        .values(
            seq=entries[-1].seq,
            entry_hash=entries[-1].entry_hash,
            signature=head_signature(key, entries[-1].seq, entries[-1].entry_hash),
        )
    )
    return entries


def last_config(conn: Connection, kind: str) -> Payload | None:
    """The payload of the last ``config_changed`` entry for ``kind``; None if none."""
    row = conn.execute(
        select(ledger_entries)
        .where(ledger_entries.c.event_type == EVENT_CONFIG_CHANGED)
        .where(ledger_entries.c.object_id == kind)
        .order_by(ledger_entries.c.seq.desc())
        .limit(1)
    ).first()
    return None if row is None else entry_from_row(row).payload


class _Claims:
    """The decisions entries that hold for each batch, in ledger order.

    A ``decisions_discarded`` entry drops a batch's earlier claims (its rows were deleted to
    re-run it); a later claim for the same row range replaces the earlier one.
    """

    def __init__(self) -> None:
        self.chunks: dict[str, dict[tuple[int, int], ChunkClaim]] = {}
        self.recorded: dict[str, tuple[int, int]] = {}  # batch -> (seq, rows)

    def see(self, seq: int, event_type: str, batch: str, payload: Payload) -> None:
        """Take note of a verified entry; ``LedgerError`` when one it reads is malformed."""
        if event_type not in _CLAIMING:
            return
        if event_type == EVENT_DECISIONS:
            claim = chunk_claim(seq, batch, payload)
            self.chunks.setdefault(batch, {})[(claim.first_row, claim.last_row)] = claim
        elif event_type == EVENT_DECISIONS_DISCARDED:
            self.chunks.pop(batch, None)
            self.recorded.pop(batch, None)
        else:
            rows = payload.get("rows")
            if type(rows) is not int:
                raise LedgerError(f"ledger entry {seq} is not a well-formed record")
            self.recorded[batch] = (seq, int(rows))

    def of(self, batch: str) -> list[ChunkClaim]:
        return sorted(self.chunks.get(batch, {}).values(), key=lambda c: c.first_row)


def verify_store(
    conn: Connection, keys: Keys, witness: tuple[int, str] | None = None
) -> VerifyResult:
    """``StateStore.verify_ledger``'s checks, in the order above, on ``conn``'s snapshot."""
    verifier = ChainVerifier()
    claims = _Claims()
    bound = BoundClaims()
    head_seq, head, signature = conn.execute(
        select(head_table.c.seq, head_table.c.entry_hash, head_table.c.signature).where(
            head_table.c.id == 1
        )
    ).one()
    rows = conn.execute(
        select(*(ledger_entries.c[name] for name in _STORED)).order_by(ledger_entries.c.seq),
        execution_options={"yield_per": CHUNK},
    )
    for row in rows:
        seq, payload = row.seq, row.payload
        if row.ledger_schema != LEDGER_SCHEMA:
            verifier.fail(PROBLEM_MALFORMED)
            break
        if not verifier.feed(*row[1:]) or verifier.entries > head_seq:
            break
        if witness is not None and seq == witness[0] and row.entry_hash != witness[1]:
            verifier.fail("the entry differs from the witnessed head (chain rewritten)", seq=seq)
            break
        try:
            if row.event_type in _PARSED or '"bound_' in payload:
                parsed = parse_payload(seq, payload)
                claims.see(seq, row.event_type, row.object_id, parsed)
                bound.see(seq, row.event_type, row.object_id, parsed)
        except LedgerError:
            verifier.fail(PROBLEM_MALFORMED, seq=seq)
            break
    rows.close()
    if not verifier.failed and (verifier.entries, verifier.head) != (head_seq, head):
        verifier.fail(PROBLEM_HEAD, seq=min(verifier.entries, head_seq) + 1)
    if not verifier.failed and witness is not None and verifier.entries < witness[0]:
        short = "the ledger is shorter than the witnessed head (entries removed)"
        verifier.fail(short, seq=verifier.entries + 1)
    signed = any(signature_holds(key, head_seq, head, signature) for _, key in keys.ledger)
    if not verifier.failed and not signed:
        moved = "the ledger head's signature does not match (head moved without the ledger key)"
        verifier.fail(moved, seq=head_seq)
    result = verifier.result()
    if not result.ok:
        return result
    result = _verify_decisions(conn, claims, result)
    if not result.ok:
        return result
    checked, problem = verify_bound(conn, keys, bound)
    if problem is None:
        return replace(result, bound=checked)
    return replace(result, ok=False, first_bad_seq=problem[0], problem=problem[1], bound=checked)


def _verify_decisions(conn: Connection, claims: _Claims, chain: VerifyResult) -> VerifyResult:
    checked = 0
    seen: set[str] = set()
    rows = conn.execute(
        select(decisions.c.batch_id, *DECISION_COLUMNS).order_by(
            decisions.c.batch_id, decisions.c.row_number
        ),
        execution_options={"yield_per": CHUNK},
    )
    try:
        with closing(rows):
            for batch, group in groupby(rows, key=itemgetter(0)):
                walker = _BatchWalker(batch, claims)
                seen.add(batch)
                for row in group:
                    walker.add(row[1:])
                    checked += 1
                walker.finish()
        for batch in sorted(set(claims.chunks) - seen):
            _BatchWalker(batch, claims).finish()
    except Problem as problem:
        return replace(
            chain, ok=False, first_bad_seq=problem.seq, problem=problem.text, decisions=checked
        )
    return replace(chain, decisions=checked)


class _BatchWalker:
    """Re-hashes one batch's decision rows (in row order) chunk by chunk; ``Problem`` at
    the first that does not match."""

    def __init__(self, batch: str, claims: _Claims) -> None:
        self.batch = batch
        self.claims = claims.of(batch)
        self.recorded = claims.recorded.get(batch)
        self.index = 0
        self.digest = DecisionsDigest()
        self.rows = 0

    def add(self, row: tuple[Any, ...]) -> None:
        row_number = int(row[0])
        while self.index < len(self.claims) and self.claims[self.index].last_row < row_number:
            self._close()
        if self.index >= len(self.claims) or row_number < self.claims[self.index].first_row:
            row_id = f"decision row {row_number} of batch {self.batch}"
            raise Problem(None, f"{row_id} is not accounted for by any ledger entry")
        self.digest.add(row[:9], row[9])
        self.rows += 1

    def finish(self) -> None:
        while self.index < len(self.claims):
            self._close()
        if self.recorded is not None and self.recorded[1] != self.rows:
            text = f"batch {self.batch}: the number of decision rows differs from the ledger"
            raise Problem(self.recorded[0], text)

    def _close(self) -> None:
        claim = self.claims[self.index]
        self.index += 1
        digest, self.digest = self.digest, DecisionsDigest()
        chunk = f"batch {self.batch} chunk {claim.chunk}"
        if self.index > 1 and claim.first_row <= self.claims[self.index - 2].last_row:
            raise Problem(claim.seq, f"{chunk} overlaps another chunk")
        if digest.rows != claim.rows or not hmac.compare_digest(digest.hexdigest(), claim.sha256):
            rows = f"rows {claim.first_row}-{claim.last_row}"
            raise Problem(claim.seq, f"decisions of {chunk} ({rows}) do not match the ledger")
