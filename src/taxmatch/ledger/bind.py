"""Keyed digests that bind rows kept beside the ledger (reviews, releases, accounting, batch
ownership) to the entry that records them, and the keyed signature of the ledger head.

A *view* is a named set of columns of one table (``taxmatch.store.ledger_bound`` defines
them). The entry written in the same transaction as the rows carries, per view it binds,
``bound_<view>_rows`` (how many rows) and ``bound_<view>_sha256``: an HMAC-SHA256, under
the store's ledger key, over the rows' canonical lines in the view's order. Keyed because
the rows hold guessable values (a TIN, a reason): without the key the digest cannot be
recomputed from guesses, nor forged. ``ledger verify`` recomputes every digest.

The head signature is an HMAC-SHA256 of (``seq``, ``hash``) of the ledger head under the
same key, so someone who can write to the store but does not hold the key cannot move the
head to an entry they appended.

Pure: no I/O, no clock, no logging; never puts a row's value into an error.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache

from taxmatch.errors import LedgerError
from taxmatch.ledger.chain import Payload, PayloadValue, format_recorded_at
from taxmatch.ledger.digest import check_key, json_line

EVENT_ROWS_BACKFILLED = "rows_backfilled"  # rows written before binding (schema 0006)
HEAD_SIGNATURE_SCHEMA = "taxmatch/ledger-head-signature/v1"

Cell = str | int | bool | None | datetime | date


def bound_line(cells: Sequence[Cell]) -> bytes:
    """One row of a view in canonical form: a JSON array (ASCII) and a newline.

    Datetimes are written in UTC with microseconds and ``Z`` (as ``recorded_at``), dates
    as ISO dates; a naive datetime is read as UTC (how SQLite returns one).
    """
    out: list[str | int | bool | None] = []
    for cell in cells:
        if cell is None or isinstance(cell, str):  # most cells, first
            out.append(cell)
        elif isinstance(cell, datetime):
            out.append(_utc_text(cell))
        elif isinstance(cell, date):
            out.append(cell.isoformat())
        elif isinstance(cell, bool | int):
            out.append(cell)
        else:
            raise LedgerError("a bound column has an unsupported type")
    return json_line(out)


@lru_cache(maxsize=1024)
def _utc_text(cell: datetime) -> str:
    """A bound datetime's text (the rows of one write share their moment: made once)."""
    moment = cell if cell.tzinfo is not None else cell.replace(tzinfo=UTC)
    return format_recorded_at(moment)


class RowsDigest:
    """Running HMAC-SHA256 over a view's row lines, with their count."""

    __slots__ = ("_mac", "rows")

    def __init__(self, key: bytes) -> None:
        check_key(key, "binding")
        self._mac = hmac.new(key, digestmod=hashlib.sha256)
        self.rows = 0

    def add(self, cells: Sequence[Cell]) -> None:
        self._mac.update(bound_line(cells))
        self.rows += 1

    def hexdigest(self) -> str:
        return self._mac.hexdigest()


def bound_fields(view: str, digest: RowsDigest) -> dict[str, PayloadValue]:
    """The payload fields by which an entry binds ``digest``'s rows of ``view``."""
    return {f"bound_{view}_rows": digest.rows, f"bound_{view}_sha256": digest.hexdigest()}


@dataclass(frozen=True, slots=True)
class BoundClaim:
    """What one verified entry says about the rows of one view (one group of them)."""

    seq: int
    rows: int
    sha256: str


def bound_claim(seq: int, view: str, payload: Mapping[str, object]) -> BoundClaim | None:
    """The entry's claim on ``view``; None when it binds none; ``LedgerError`` if malformed."""
    rows = payload.get(f"bound_{view}_rows")
    sha = payload.get(f"bound_{view}_sha256")
    if rows is None and sha is None:
        return None
    if type(rows) is not int or not isinstance(sha, str):
        raise LedgerError(f"ledger entry {seq} binds {view} rows in a malformed way")
    return BoundClaim(seq, int(rows), sha)


def claims_match(claim: BoundClaim, digest: RowsDigest) -> bool:
    return digest.rows == claim.rows and hmac.compare_digest(digest.hexdigest(), claim.sha256)


def head_signature(key: bytes, seq: int, head: str) -> str:
    """HMAC-SHA256 (hex) of the ledger head (``seq``, ``head``) under the ledger key."""
    check_key(key, "binding")
    message = json.dumps([HEAD_SIGNATURE_SCHEMA, int(seq), head], separators=(",", ":"))
    return hmac.new(key, message.encode("ascii"), hashlib.sha256).hexdigest()


def signature_holds(key: bytes, seq: int, head: str, signature: object) -> bool:
    """Whether ``signature`` is the head's signature. An empty ledger (seq 0) needs none."""
    if signature is None:
        return seq == 0
    if not isinstance(signature, str):
        return False
    return hmac.compare_digest(head_signature(key, seq, head), signature)


def with_fields(payload: Payload, fields: Mapping[str, PayloadValue]) -> dict[str, PayloadValue]:
    """``payload`` extended by ``fields`` (binding fields never overwrite a caller's)."""
    clash = set(payload) & set(fields)
    if clash:
        raise LedgerError(f"payload already has field {sorted(clash)[0]!r}")
    return {**payload, **fields}
