"""Checks that need the whole batch: duplicates (R10), boilerplate relevance (R06) and the
per-officer cap (R08). Pure.

The pipeline counts (in the batch workspace, so memory does not grow with the file);
these functions decide. Each record is judged from four numbers about it:

- ``id_rank``: 1 for the first row with its request_id in file order, 2 for the next, …
  (0 when the row has no usable request_id);
- ``person_case_rank``: the same over (first name, last name, date of birth, case number);
- ``relevance_count``: how many rows in the batch give the same relevance text after
  folding case, spaces and punctuation;
- ``officer_rank``: the row's position among the rows naming the same officer.

The first of a set of duplicates stays valid; later ones get R10. A relevance text shared
by two or more rows and by more than ``max_identical_share`` of the batch is boilerplate:
every row that gives it gets R06. Rows past an officer's cap get R08, in file order.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from taxmatch.contracts import Envelope, ReasonCode
from taxmatch.normalise.text import fold, fold_rare, relevance_key
from taxmatch.policy.model import Policy


@dataclass(frozen=True, slots=True)
class BatchCounts:
    id_rank: int
    person_case_rank: int
    relevance_count: int
    officer_rank: int


def key_digest(text: str) -> bytes:
    """A 128-bit digest for batch-wide grouping keys (the workspace never groups on values)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def person_case_key(fields: dict[str, str]) -> bytes | None:
    """Grouping key for 'same person and case'; None when the parts are missing."""
    first, last = fold(fields.get("first_name", "")), fold(fields.get("last_name", ""))
    case = fold_rare(fields.get("case_number", ""))
    if not (first and last and case):
        return None
    return key_digest(f"{first}|{last}|{fields.get('date_of_birth', '').strip()}|{case}")


def relevance_digest(fields: dict[str, str]) -> bytes | None:
    key = relevance_key(fields.get("relevance", ""))
    return key_digest(key) if key else None


def officer_cap(envelope: Envelope, policy: Policy) -> int:
    agency = policy.agencies.get(envelope.requesting_agency)
    return agency.max_records_per_officer if agency is not None else 0


def batch_codes(
    counts: BatchCounts, *, input_rows: int, max_identical_share: float, cap: int
) -> tuple[frozenset[ReasonCode], tuple[str, ...]]:
    """The whole-batch codes for one record, with the names of the fields concerned."""
    codes: set[ReasonCode] = set()
    fields: list[str] = []
    if counts.id_rank > 1:
        codes.add(ReasonCode.R10)
        fields.append("request_id")
    if counts.person_case_rank > 1:
        codes.add(ReasonCode.R10)
        fields.extend(("first_name", "last_name", "case_number"))
    if (
        counts.relevance_count >= 2
        and input_rows > 0
        and counts.relevance_count / input_rows > max_identical_share
    ):
        codes.add(ReasonCode.R06)
        fields.append("relevance")
    if counts.officer_rank > cap:
        codes.add(ReasonCode.R08)
        fields.append("officer_id")
    return frozenset(codes), tuple(fields)
