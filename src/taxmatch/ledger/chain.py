"""The ledger's hash chain: canonical encoding, linking and verification.

Each entry records one audit event (IRS Publication 1075 fields: UTC time, actor, event
type, success, origin, object) plus a payload of ids, hashes and counts. An entry's hash
covers its canonical JSON encoding, which includes the hash of the entry before it, so a
changed field, a deleted, reordered or inserted entry breaks the chain at a known ``seq``.

Pure: no I/O, no clock (``recorded_at`` is passed in), no logging. Must never put a value
from an entry into an error message or a verification result; errors name fields and
sequence numbers only. The store appends what ``link`` returns and verifies with
``ChainVerifier``; this module never touches a database.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from taxmatch.errors import LedgerError

GENESIS = "0" * 64
LEDGER_SCHEMA = "taxmatch/ledger/v1"

PayloadValue = str | int | float | bool | None | list[str]
Payload = Mapping[str, PayloadValue]

# Stable problem descriptions a ``VerifyResult`` carries. They never quote entry values.
PROBLEM_SEQUENCE = "sequence number out of order (entry deleted, inserted or reordered)"
PROBLEM_LINK = "prev_hash does not match the previous entry's hash"
PROBLEM_HASH = "entry_hash does not match the entry's content"
PROBLEM_MALFORMED = "entry is malformed"
PROBLEM_HEAD = "chain does not end at the recorded ledger head"

_HASH = re.compile(r"^[0-9a-f]{64}$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


@dataclass(frozen=True, slots=True)
class LedgerDraft:
    """What a caller wants recorded. Ids, hashes and counts only: never a name or address."""

    event_type: str  # "batch_received", "decisions", "disclosures", ...
    actor: str  # user or system id, never a person's name
    origin: str  # "cli", "api", "worker", a host id
    success: bool
    object_id: str  # batch id, request id, disclosure id, ...
    payload: Payload = field(default_factory=dict)

    @property
    def event(self) -> tuple[str, str, str, bool, str]:
        """The fields an entry holds between ``recorded_at`` and its payload, in order."""
        return (self.event_type, self.actor, self.origin, self.success, self.object_id)


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One linked, hashed ledger entry as stored."""

    seq: int
    recorded_at: str  # UTC, ISO 8601 with microseconds and "Z"
    event_type: str
    actor: str
    origin: str
    success: bool
    object_id: str
    payload: Payload
    prev_hash: str
    entry_hash: str

    @property
    def draft(self) -> LedgerDraft:
        """The caller-supplied part of the entry."""
        return LedgerDraft(
            self.event_type, self.actor, self.origin, self.success, self.object_id, self.payload
        )


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Outcome of a chain verification.

    ``entries`` counts the entries that verified before the first failure (all of them when
    ``ok``); ``head`` is the hash of the last verified entry (``GENESIS`` when none).
    ``first_bad_seq`` is the position (1-based, equal to the expected ``seq``) of the first
    entry that does not verify (or whose claim about stored rows does not hold); it is None
    when the problem is a stored row that no entry accounts for. ``decisions`` counts the
    decision rows re-hashed against the ledger (0 when only the chain was checked);
    ``bound`` the rows of reviews, releases, accounting and batches re-hashed likewise.
    """

    ok: bool
    entries: int
    head: str
    first_bad_seq: int | None
    problem: str | None
    decisions: int = 0
    bound: int = 0


def format_recorded_at(moment: datetime) -> str:
    """``moment`` as the ledger's timestamp: UTC, microseconds, trailing ``Z``."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise LedgerError("recorded_at must be a timezone-aware datetime")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_payload(payload: Payload) -> str:
    """The payload as canonical JSON text (sorted keys, no spaces, ASCII only).

    Raises ``LedgerError`` naming the offending key when a value is not a string, integer,
    finite float, boolean, null or list of strings.
    """
    if not isinstance(payload, Mapping):
        raise LedgerError("payload must be a mapping")
    clean: dict[str, PayloadValue] = {}
    for key, value in payload.items():
        if not isinstance(key, str):
            raise LedgerError("payload keys must be strings")
        clean[key] = _check_value(key, value)
    return json.dumps(
        clean, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def canonical_bytes(
    seq: int, recorded_at: str, draft: LedgerDraft, prev_hash: str, payload_text: str | None = None
) -> bytes:
    """The exact bytes an entry's hash covers, including the ledger schema version.

    ``payload_text``: the draft's payload when already made canonical (``link``).
    """
    if payload_text is None:
        payload_text = canonical_payload(draft.payload)
    if type(seq) is not int or seq < 1:
        raise LedgerError("seq must be a positive integer")
    if not isinstance(recorded_at, str) or not _TIMESTAMP.match(recorded_at):
        raise LedgerError("recorded_at must be UTC ISO 8601 with microseconds and 'Z'")
    if not isinstance(prev_hash, str) or not _HASH.match(prev_hash):
        raise LedgerError("prev_hash must be 64 lowercase hex digits")
    for name in ("event_type", "actor", "origin", "object_id"):
        if not isinstance(getattr(draft, name), str):
            raise LedgerError(f"{name} must be a string")
    if not draft.event_type:
        raise LedgerError("event_type must not be empty")
    if not isinstance(draft.success, bool):
        raise LedgerError("success must be a boolean")
    return entry_bytes(seq, recorded_at, *draft.event, payload_text, prev_hash)


def entry_bytes(
    seq: int,
    recorded_at: str,
    event_type: str,
    actor: str,
    origin: str,
    success: bool,
    object_id: str,
    payload_text: str,
    prev_hash: str,
) -> bytes:
    """The hashed bytes: the entry as canonical JSON (sorted keys, no spaces, ASCII) with
    ``payload_text`` inlined as stored. Built as one f-string, because verification runs
    it for every entry; equal to ``json.dumps`` of the document with sorted keys (a test
    checks). ``UnicodeEncodeError`` when a text is not ASCII (never canonical)."""
    text = (
        f'{{"actor":{_str(actor)},"event_type":{_str(event_type)},'
        f'"object_id":{_str(object_id)},"origin":{_str(origin)},"payload":{payload_text},'
        f'"prev_hash":{_str(prev_hash)},"recorded_at":{_str(recorded_at)},'
        f'"schema":"{LEDGER_SCHEMA}","seq":{int(seq)},"success":{"true" if success else "false"}}}'
    )
    return text.encode("ascii")


def link(draft: LedgerDraft, *, seq: int, prev_hash: str, recorded_at: str) -> LedgerEntry:
    """Chain ``draft`` after ``prev_hash`` as entry ``seq``; ``entry_hash`` = sha256(bytes)."""
    payload_text = canonical_payload(draft.payload)  # checked and serialised once
    data = canonical_bytes(seq, recorded_at, draft, prev_hash, payload_text)
    payload: dict[str, PayloadValue] = json.loads(payload_text)
    entry_hash = hashlib.sha256(data).hexdigest()
    return LedgerEntry(seq, recorded_at, *draft.event, payload, prev_hash, entry_hash)


def link_all(
    drafts: Sequence[LedgerDraft], *, after_seq: int, prev_hash: str, recorded_at: str
) -> list[LedgerEntry]:
    """Link ``drafts`` in order after the entry (``after_seq``, ``prev_hash``)."""
    entries: list[LedgerEntry] = []
    for offset, draft in enumerate(drafts, start=1):
        entry = link(draft, seq=after_seq + offset, prev_hash=prev_hash, recorded_at=recorded_at)
        entries.append(entry)
        prev_hash = entry.entry_hash
    return entries


class ChainVerifier:
    """Streaming verifier: feed entries in stored order; it stops at the first failure.

    Checks, per entry: its ``seq`` is the next position, its ``prev_hash`` is the previous
    entry's hash (``GENESIS`` for the first), and its ``entry_hash`` is the hash of its
    canonical bytes. Holds only the running head, never the entries.
    """

    __slots__ = ("_first_bad", "_problem", "entries", "head")

    def __init__(self) -> None:
        self.entries = 0  # verified so far
        self.head = GENESIS  # the hash of the last verified entry
        self._first_bad: int | None = None
        self._problem: str | None = None

    @property
    def failed(self) -> bool:
        return self._problem is not None

    def feed(
        self,
        seq: int,
        recorded_at: str,
        event_type: str,
        actor: str,
        origin: str,
        success: bool,
        object_id: str,
        payload_text: str,
        prev_hash: str,
        entry_hash: str,
    ) -> bool:
        """Check the next entry as stored, its payload as the stored text (no JSON parsing);
        False once the chain has failed. The checks, in order: position, link, form, hash.

        The hash covers the stored text itself, so any change to it, even one that keeps
        its meaning, fails as ``PROBLEM_HASH``; so does a text that is not ASCII
        (``UnicodeEncodeError``: never canonical).
        """
        if self.failed:
            return False
        if type(seq) is not int or seq != self.entries + 1:
            return self.fail(PROBLEM_SEQUENCE)
        if prev_hash != self.head:
            return self.fail(PROBLEM_LINK)
        texts = (recorded_at, event_type, actor, origin, object_id, payload_text, entry_hash)
        if not all(isinstance(v, str) for v in texts) or not isinstance(success, bool):
            return self.fail(PROBLEM_MALFORMED)
        event = (event_type, actor, origin, success, object_id)  # as ``LedgerDraft.event``
        try:
            data = entry_bytes(seq, recorded_at, *event, payload_text, prev_hash)
        except UnicodeEncodeError:
            return self.fail(PROBLEM_HASH)
        if not hmac.compare_digest(hashlib.sha256(data).hexdigest(), entry_hash):
            return self.fail(PROBLEM_HASH)
        self.entries += 1
        self.head = entry_hash
        return True

    def fail(self, problem: str, seq: int | None = None) -> bool:
        """Record a failure at ``seq`` (default: the next expected position). Returns False."""
        if not self.failed:
            self._problem = problem
            self._first_bad = self.entries + 1 if seq is None else seq
        return False

    def result(self) -> VerifyResult:
        return VerifyResult(
            ok=not self.failed,
            entries=self.entries,
            head=self.head,
            first_bad_seq=self._first_bad,
            problem=self._problem,
        )


def _check_value(key: str, value: object) -> PayloadValue:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise LedgerError(f"payload field {key!r} is not a finite number")
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return list(value)
    raise LedgerError(f"payload field {key!r} has an unsupported type")


_str = json.JSONEncoder(ensure_ascii=True).encode  # one JSON string, ASCII-escaped
