"""Voiding the ``disclosure`` entries that older versions wrote for disclosures never made.

Before disclosures were written only at the seal (``taxmatch.store.seal``), a batch's
``disclosure`` entries went into the ledger with its decisions. So a ledger written by such
a version can hold entries of a run that never finished (its batch is not done) and, for a
batch resumed after a crash, a second entry for a disclosure id that already had one. The
ledger is append-only, so they are not removed: ``disclosures_voided`` entries name them
(by sequence number) and say why.

The rule (``voided_entries``): an entry whose disclosure id is no disclosure made — its
batch is not done, or the done batch's final decision for that row was not to disclose —
is void ("unsealed"); of the entries of a disclosure made, every one but the last is void
("superseded"). What remains is one entry per disclosure made. ``disclosure`` entries of a
supplement (they carry a ``release_id``) belong to a release published with its entries in
one transaction and are never void.

Pure: no I/O, no clock, no logging.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass
from typing import Final, Literal

from taxmatch.ledger.chain import LedgerDraft

EVENT_DISCLOSURES_VOIDED: Final = "disclosures_voided"
VOID_CHUNK: Final = 10_000  # sequence numbers per voiding entry

Why = Literal["unsealed", "superseded"]


@dataclass(frozen=True, slots=True)
class DisclosureEntry:
    """What voiding needs of a ``disclosure`` entry: ids only."""

    seq: int
    disclosure_id: str
    batch_id: str
    released: bool = False  # a supplement's disclosure (its entry names a release)


def voided_entries(
    entries: Iterable[DisclosureEntry], made: Container[tuple[str, str]]
) -> dict[tuple[str, Why], list[int]]:
    """(batch, why) -> the sequence numbers of its void ``disclosure`` entries, sorted.

    ``entries`` in ledger order; ``made``: (batch, disclosure id) of the disclosures made
    (rows decided DISCLOSED in a batch whose package is sealed).
    """
    last: dict[tuple[str, str], int] = {}  # (batch, disclosure id) -> seq of its last entry
    void: dict[tuple[str, Why], list[int]] = {}
    for entry in entries:
        if entry.released:
            continue
        key = (entry.batch_id, entry.disclosure_id)
        if key not in made:
            void.setdefault((entry.batch_id, "unsealed"), []).append(entry.seq)
            continue
        before = last.get(key)
        if before is not None:
            void.setdefault((entry.batch_id, "superseded"), []).append(before)
        last[key] = entry.seq
    return {key: sorted(seqs) for key, seqs in sorted(void.items())}


def void_drafts(
    void: dict[tuple[str, Why], list[int]], actor: str, origin: str
) -> list[LedgerDraft]:
    """The ``disclosures_voided`` entries for ``void``: per batch and reason, the sequence
    numbers (as decimal strings) in chunks of ``VOID_CHUNK``."""
    drafts = []
    for (batch_id, why), seqs in void.items():
        for start in range(0, len(seqs), VOID_CHUNK):
            part = seqs[start : start + VOID_CHUNK]
            payload = {"why": why, "entries": len(part), "seqs": [str(s) for s in part]}
            drafts.append(
                LedgerDraft(EVENT_DISCLOSURES_VOIDED, actor, origin, True, batch_id, payload)
            )
    return drafts
