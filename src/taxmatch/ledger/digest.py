"""Digests that tie rows kept outside the ledger (per-record decisions) to ledger entries.

A batch's decisions are written in chunks; each chunk's ledger entry (event ``decisions``)
carries the sha256 of the chunk's rows in canonical form, the row range and the count.
``ledger verify`` re-reads the decisions table, recomputes the same digest per chunk and
compares, so a decision row changed, deleted or inserted in the state database after the
fact is caught and named by batch and chunk. The cited statute (schema 0005) is hashed
as a tenth cell only when it is set: rows recorded before it (statute NULL) keep the line
their chunk was digested with, and a statute added, changed or removed later is caught.

Also the witness document ``ledger export-head`` writes and ``ledger verify --witness``
reads, and ``keyed_hash``, the keyed digest of a person key or a disclosed value. Pure:
no I/O, no clock, no logging; never puts a row's values into an error message.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from taxmatch.errors import LedgerError
from taxmatch.ledger.chain import Payload

# Event types the pipeline and the store write. The ledger accepts any non-empty type;
# these are the ones ``ledger verify`` and the docs know.
EVENT_DECISIONS = "decisions"  # one per chunk of decision rows
EVENT_DECISIONS_DISCARDED = "decisions_discarded"  # a batch's decisions deleted to re-run
EVENT_CONFIG_CHANGED = "config_changed"  # policy, reference snapshot or model in force
HEAD_SCHEMA = "taxmatch/ledger-head/v1"

DecisionValues = tuple[
    int, str, str, str | None, str, str, str | None, float | None, str | None
]  # row_number, request_id, disposition, outcome, reason_codes, fields, disclosure_id,
#    score, person_key: the columns of a stored decision, in this order.
MIN_KEY_BYTES = 16  # a keyed hash's key: at least this many bytes


def decision_line(values: DecisionValues, statute: str | None = None) -> bytes:
    """One decision row in canonical form: a JSON array (ASCII) and a newline.

    Scores are written as floats (an integer score reads back as a float); a score that is
    not finite is written as null, because SQLite stores NaN as NULL. ``statute`` is the
    tenth cell when it is not None, and absent otherwise (the pre-0005 line).
    """
    row_number, request_id, disposition, outcome, codes, fields, disclosure_id, score, key = values
    if score is not None:
        score = float(score)
        if not math.isfinite(score):
            score = None
    cells = [int(row_number), request_id, disposition, outcome, codes, fields, disclosure_id]
    cells += [score, key]
    if statute is not None:
        cells.append(statute)
    return json_line(cells)


@dataclass(frozen=True, slots=True)
class DecisionLines:
    """Decision rows' lines, concatenated, with their count and row range: what a chunk's
    digest and the batch's running digest both take, encoded once."""

    data: bytes
    rows: int
    first_row: int | None
    last_row: int | None


def decision_lines(rows: Sequence[tuple[DecisionValues, str | None]]) -> DecisionLines:
    """The lines of ``rows`` (each a decision's values and its statute), in order."""
    data = b"".join([decision_line(values, statute) for values, statute in rows])
    if not rows:
        return DecisionLines(data, 0, None, None)
    return DecisionLines(data, len(rows), rows[0][0][0], rows[-1][0][0])


def _compact_encoder(*, ascii_only: bool) -> Callable[[object], str]:
    """``json.dumps(cells, ensure_ascii=ascii_only, separators=(",", ":"))``, made once:
    ``json.dumps`` with options builds a new encoder per call, and ``JSONEncoder.encode``
    a new C encoder per call, which costs more than the encoding of one short row. The
    C encoder made here once gives the same text (CPython's ``encode`` uses it too)."""
    python = json.JSONEncoder(ensure_ascii=ascii_only, separators=(",", ":"))
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # an interpreter without the C accelerator
        return python.encode
    quote = json.encoder.encode_basestring_ascii if ascii_only else json.encoder.encode_basestring
    chunks = make(None, python.default, quote, None, ":", ",", False, False, True)

    def encode(cells: object) -> str:
        return "".join(chunks(cells, 0))

    return encode


_encode = _compact_encoder(ascii_only=True)
_encode_text = _compact_encoder(ascii_only=False)


def json_line(cells: Sequence[object]) -> bytes:
    """``cells`` as a canonical line: a JSON array (ASCII, no spaces) and a newline."""
    return (_encode(cells) + "\n").encode("ascii")


def check_key(key: bytes, what: str) -> None:
    """``LedgerError`` unless ``key`` is bytes of at least ``MIN_KEY_BYTES``."""
    if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
        raise LedgerError(f"{what} needs a key of at least {MIN_KEY_BYTES} bytes")


class DecisionsDigest:
    """Running sha256 over decision lines, with their count and row range."""

    __slots__ = ("_sha", "first_row", "last_row", "rows")

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self.rows = 0
        self.first_row: int | None = None
        self.last_row: int | None = None

    def add(self, values: DecisionValues, statute: str | None = None) -> None:
        self._sha.update(decision_line(values, statute))
        self.rows += 1
        if self.first_row is None:
            self.first_row = values[0]
        self.last_row = values[0]

    def add_lines(self, lines: DecisionLines) -> None:
        """Rows whose lines ``decision_lines`` made (as ``add`` of each, in order)."""
        if not lines.rows:
            return
        self._sha.update(lines.data)
        self.rows += lines.rows
        if self.first_row is None:
            self.first_row = lines.first_row
        self.last_row = lines.last_row

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


@dataclass(frozen=True, slots=True)
class ChunkClaim:
    """What one ``decisions`` entry says about the stored rows of one batch."""

    seq: int
    batch_id: str
    chunk: int
    first_row: int
    last_row: int
    rows: int
    sha256: str


def chunk_payload(chunk: int, digest: DecisionsDigest, counts: Mapping[str, int]) -> Payload:
    """The payload of a ``decisions`` entry for one chunk (the batch is the entry's object)."""
    if digest.first_row is None or digest.last_row is None:
        raise LedgerError("a decisions chunk needs at least one row")
    payload: dict[str, int | str] = {
        "chunk": chunk,
        "first_row": digest.first_row,
        "last_row": digest.last_row,
        "rows": digest.rows,
        "decisions_sha256": digest.hexdigest(),
    }
    payload.update({f"count_{k}": v for k, v in sorted(counts.items())})
    return payload


def chunk_claim(seq: int, batch_id: str, payload: Payload) -> ChunkClaim:
    """A verified ``decisions`` entry's claim; ``LedgerError`` when the payload is not one."""
    values = {k: payload.get(k) for k in ("chunk", "first_row", "last_row", "rows")}
    sha = payload.get("decisions_sha256")
    if not all(type(v) is int for v in values.values()) or not isinstance(sha, str):
        raise LedgerError(f"ledger entry {seq} is not a well-formed decisions entry")
    ints = {k: int(v) for k, v in values.items() if isinstance(v, int)}
    return ChunkClaim(seq, batch_id, **ints, sha256=sha)


def head_document(seq: int, head: str, utc: str) -> dict[str, str | int]:
    """What ``ledger export-head`` writes for an outside witness (schema ``HEAD_SCHEMA``)."""
    return {"schema": HEAD_SCHEMA, "seq": seq, "hash": head, "utc": utc, "entries": seq}


def read_head_document(document: object) -> tuple[int, str]:
    """(seq, hash) of a witness document (parsed JSON) that ``head_document`` wrote.

    ``LedgerError`` naming the field when it is not one: an unknown ``schema`` (readers
    refuse versions they do not know), a ``seq`` that is not a non-negative integer, a
    ``hash`` that is not 64 lowercase hex digits.
    """
    if not isinstance(document, dict):
        raise LedgerError("a ledger head document must be a JSON object")
    if document.get("schema") != HEAD_SCHEMA:
        raise LedgerError(f"field 'schema' is not {HEAD_SCHEMA} (unknown version)")
    seq, head = document.get("seq"), document.get("hash")
    if type(seq) is not int or seq < 0:
        raise LedgerError("field 'seq' must be a non-negative integer")
    if not isinstance(head, str) or len(head) != 64 or set(head) - set("0123456789abcdef"):
        raise LedgerError("field 'hash' must be 64 lowercase hex digits")
    return seq, head


class KeyedHasher:
    """``keyed_hash`` under one key, its HMAC keyed once (a batch hashes a value per row)."""

    __slots__ = ("_base",)

    def __init__(self, key: bytes) -> None:
        check_key(key, "keyed_hash")
        self._base = hmac.new(key, digestmod=hashlib.sha256)

    def __call__(self, *values: str) -> str:
        if not values:
            raise LedgerError("keyed_hash needs at least one value")
        if not all(isinstance(v, str) for v in values):
            raise LedgerError("keyed_hash values must be strings")
        mac = self._base.copy()
        mac.update(_encode_text(list(values)).encode("utf-8"))
        return mac.hexdigest()


def keyed_hash(key: bytes, *values: str) -> str:
    """HMAC-SHA256 (hex) of ``values`` under ``key``: a person key or disclosed-value digest.

    The values are encoded as a JSON array, so ("ab", "c") and ("a", "bc") differ. Without
    the key the digest cannot be recomputed from guessed values (TINs are guessable).
    """
    return KeyedHasher(key)(*values)
