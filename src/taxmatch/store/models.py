"""State database schema (SQLAlchemy Core) and the rows that cross the store boundary.

Tables: ``batches``, ``decisions`` (one per input row), ``ledger_entries`` (append-only
hash chain), ``ledger_head`` (one row), the custodian-only accounting tables
``disclosure_subjects`` (one per disclosure) and ``request_counts``, and ``group_counts``
(a batch's counts by coverage group); the tables of the service and the console are in
``edge_models``, on the same ``metadata``. No key is stored here: the keys live in the
keyring (``taxmatch.store.keys``). The Alembic migrations in ``migrations/versions``
build exactly this schema; a test compares the two.

Must never: hold a TIN, or the requester's free text (relevance, which may name people),
outside ``disclosure_subjects``, nor there unencrypted (``taxmatch.store.subjects``); hold
a name or address at all (decisions carry a keyed person hash; ledger payloads carry ids,
hashes and counts); hold a key; or change without a new migration. Conversions here raise
``StoreError``/``LedgerError`` naming fields and ids, never values.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Final, TypeVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Row,
    Select,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.types import TypeDecorator

from taxmatch.errors import LedgerError, StoreError
from taxmatch.ledger.chain import LEDGER_SCHEMA, LedgerEntry, canonical_payload

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    from taxmatch.store.database import StateDatabase

T = TypeVar("T", bound="DataclassInstance")

CHUNK: Final = 10_000  # rows written, read or streamed at a time

BATCH_STATUSES: frozenset[str] = frozenset({"queued", "running", "done", "failed"})


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores it naive, in UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

batches = Table(
    "batches",
    metadata,
    Column("batch_id", Text, primary_key=True),
    Column("agency", Text, nullable=False),
    Column("request_letter_id", Text, nullable=False),
    Column("input_sha256", Text, nullable=False),
    Column("envelope_sha256", Text, nullable=False),
    Column("policy_version", Text, nullable=False),
    Column("policy_sha256", Text, nullable=False),
    Column("input_rows", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("counts", Text, nullable=False),
    Column("package_dir", Text, nullable=False),
    Column("as_of", Date, nullable=False),
    Column("matcher", Text, nullable=False),
    Column("reference_id", Text, nullable=False),
    Column("error_code", String(16), nullable=True),
    CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="ck_batches_status"),
    Index("ix_batches_agency", "agency"),
)

decisions = Table(
    "decisions",
    metadata,
    Column("batch_id", Text, ForeignKey("batches.batch_id"), primary_key=True),
    Column("row_number", BigInteger, primary_key=True, autoincrement=False),
    Column("request_id", Text, nullable=False),
    Column("disposition", String(16), nullable=False),
    Column("outcome", String(32), nullable=True),
    Column("reason_codes", Text, nullable=False),
    Column("fields", Text, nullable=False),
    Column("disclosure_id", Text, nullable=True),
    Column("score", Float, nullable=True),
    Column("person_key", String(64), nullable=True),
    # The cited statute, normalised (NULL when it does not parse, and for rows recorded
    # before schema 0005): the transparency report's (agency, statute) breakdown.
    Column("statute", Text, nullable=True),
    Index("ix_decisions_batch_id_disposition", "batch_id", "disposition"),
    Index("ix_decisions_person_key", "person_key"),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("ledger_schema", String(64), nullable=False),
    Column("recorded_at", String(32), nullable=False),
    Column("event_type", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("origin", Text, nullable=False),
    Column(
        "success", Boolean(create_constraint=True, name="ck_ledger_entries_success"), nullable=False
    ),
    Column("object_id", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("entry_hash", String(64), nullable=False),
    # Two entries can never claim the same predecessor: no forks, whatever the appender.
    UniqueConstraint("prev_hash", name="uq_ledger_entries_prev_hash"),
    # The last configuration change of a kind (policy, reference, model) is one lookup.
    Index("ix_ledger_entries_event_object", "event_type", "object_id", "seq"),
)

# Custodian-only accounting (§ 6103(p)(3)): who was disclosed about, under which statute
# and stated reason. The only table that holds a TIN; never logged, never in a package.
# ``tin`` and ``relevance`` are AES-GCM ciphertexts (schema 0008); ``tin_index`` is the
# TIN's HMAC under the data key's index key, for lookups and distinct counts.
disclosure_subjects = Table(
    "disclosure_subjects",
    metadata,
    Column("disclosure_id", Text, primary_key=True),
    Column("batch_id", Text, ForeignKey("batches.batch_id"), nullable=False),
    Column("row_number", BigInteger, nullable=False),
    Column("tin", Text, nullable=False),
    Column("statute", Text, nullable=False),
    Column("relevance", Text, nullable=False),
    Column("fields", Text, nullable=False),
    Column("disclosed_at", UTCDateTime, nullable=False),
    Column("tin_index", String(64), nullable=True),
    # the disclosure's facts (schema 0013; NULL on rows sealed before it)
    Column("request_id_sha256", Text, nullable=True),
    Column("person_key", Text, nullable=True),
    Column("values_hmac", Text, nullable=True),
    Index("ix_disclosure_subjects_batch_id_row_number", "batch_id", "row_number"),
    Index("ix_disclosure_subjects_disclosed_at", "disclosed_at"),
    Index("ix_disclosure_subjects_tin_index", "tin_index"),
)

# Requests received per batch and cited statute ("" when the citation does not parse).
request_counts = Table(
    "request_counts",
    metadata,
    Column("batch_id", Text, ForeignKey("batches.batch_id"), primary_key=True),
    Column("statute", Text, primary_key=True),
    Column("requests", BigInteger, nullable=False),
)

# A batch's counts by coverage group (``taxmatch.policy.coverage``: ``grp`` a group's name,
# ``measure`` an outcome, REJECTED, a ``probe_`` count or ``flagged``); non-zero only.
group_counts = Table(
    "group_counts",
    metadata,
    Column("batch_id", Text, ForeignKey("batches.batch_id"), primary_key=True),
    Column("grp", Text, primary_key=True),
    Column("measure", Text, primary_key=True),
    Column("n", BigInteger, nullable=False),
)

ledger_head = Table(
    "ledger_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("entry_hash", String(64), nullable=False),
    # HMAC-SHA256 of (seq, entry_hash) under the ledger key (schema 0006); NULL only for
    # the empty ledger.
    Column("signature", String(64), nullable=True),
    CheckConstraint("id = 1", name="ck_ledger_head_single_row"),
)


@dataclass(frozen=True, slots=True)
class BatchRow:
    """One batch as the state database knows it. Ids and hashes only."""

    batch_id: str
    agency: str
    request_letter_id: str
    input_sha256: str
    envelope_sha256: str
    policy_version: str
    policy_sha256: str
    input_rows: int
    status: str  # "queued" / "running" / "done" / "failed"
    created_at: datetime  # timezone-aware; read back in UTC
    finished_at: datetime | None
    counts: dict[str, int]
    package_dir: str
    as_of: date
    matcher: str
    reference_id: str
    error_code: str | None = None


@dataclass(frozen=True, slots=True)
class DecisionRow:
    """The decision for one input row. ``person_key`` is a keyed hash, never a TIN."""

    batch_id: str
    row_number: int
    request_id: str
    disposition: str  # a contracts.Disposition value
    outcome: str | None  # a contracts.Outcome value; None for rejected rows
    reason_codes: str  # ";"-separated R-codes, "" when none
    fields: str  # ";"-separated offending field names, "" when none
    disclosure_id: str | None
    score: float | None
    person_key: str | None = field(default=None)
    # the cited statute in canonical form (as ``request_counts``); None when it does not
    # parse. Last, so positional constructions without it keep working.
    statute: str | None = field(default=None)


@dataclass(frozen=True, slots=True)
class SubjectRow:
    """Custodian-only: the taxpayer a disclosure was about, and why it was asked for."""

    disclosure_id: str
    batch_id: str
    row_number: int
    tin: str
    statute: str
    relevance: str
    fields: str  # ";"-separated names of the disclosed fields
    # sha256 of the request id, keyed hashes of TIN and values (None: older versions)
    request_id_sha256: str | None = None
    person_key: str | None = None
    values_hmac: str | None = None


def check_aware(name: str, value: datetime | None) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise StoreError(f"{name} must be a timezone-aware datetime")


def check_status(status: str) -> None:
    if status not in BATCH_STATUSES:
        raise StoreError(f"batch status must be one of {sorted(BATCH_STATUSES)}")


def dump_counts(counts: Mapping[str, int]) -> str:
    if not all(isinstance(k, str) and type(v) is int for k, v in counts.items()):
        raise StoreError("batch counts must map names to integers")
    return json.dumps(dict(counts), sort_keys=True, separators=(",", ":"))


# One row's column values as SQLAlchemy binds them (``insert()`` parameters).
Params = dict[str, object]


def from_row(cls: type[T], row: Row[Any]) -> T:
    """A ``cls`` made of the columns of ``row`` that are its fields."""
    values = row._mapping
    return cls(**{name: values[name] for name in cls.__dataclass_fields__})


def find_one(db: StateDatabase, operation: str, cls: type[T], query: Select[Any]) -> T | None:
    """The first row ``query`` reads as a ``cls``; None when there is none."""
    with db.reading(operation) as conn:
        row = conn.execute(query).first()
    return None if row is None else from_row(cls, row)


def find_all(db: StateDatabase, operation: str, cls: type[T], query: Select[Any]) -> list[T]:
    with db.reading(operation) as conn:
        return [from_row(cls, row) for row in conn.execute(query)]


def pages(
    db: StateDatabase, operation: str, query: Select[Any], key: Column[Any], size: int
) -> Iterator[Sequence[Row[Any]]]:
    """``query``'s rows in ``key`` order, ``size`` at a time, each page in a read of its own
    that starts after the last key read (keyset paging)."""
    if type(size) is not int or size < 1:
        raise StoreError("chunk must be a positive integer")
    after = query
    while True:
        with db.reading(operation, snapshot=False) as conn:
            page = conn.execute(after.order_by(key).limit(size)).all()
        yield page
        if len(page) < size:
            return
        after = query.where(key > page[-1]._mapping[key])


def has_row(conn: Connection, key: Column[Any], value: object) -> bool:
    """Whether ``key``'s table holds a row whose ``key`` is ``value``."""
    return conn.execute(select(key).where(key == value)).first() is not None


def upsert(conn: Connection, table: Table) -> sqlite.Insert | postgresql.Insert:
    """An INSERT for ``table`` in the connection's dialect (for ``on_conflict_do_nothing``)."""
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    return postgresql.insert(table)


def batch_params(row: BatchRow) -> Params:
    check_status(row.status)
    check_aware("created_at", row.created_at)
    check_aware("finished_at", row.finished_at)
    return {**asdict(row), "counts": dump_counts(row.counts)}


def batch_from_row(row: Row[Any]) -> BatchRow:
    values = row._asdict()
    values["counts"] = json.loads(values["counts"])
    return BatchRow(**values)


def entry_params(entry: LedgerEntry) -> Params:
    params: Params = {name: getattr(entry, name) for name in LedgerEntry.__dataclass_fields__}
    return {**params, "ledger_schema": LEDGER_SCHEMA, "payload": canonical_payload(entry.payload)}


def parse_payload(seq: int, payload_text: str) -> dict[str, Any]:
    """A stored payload's JSON object; ``LedgerError`` when it is not one."""
    try:
        payload = json.loads(payload_text)
    except (ValueError, TypeError, RecursionError):
        payload = None
    if not isinstance(payload, dict):
        raise LedgerError(f"ledger entry {seq} has a malformed payload")
    return payload


def entry_from_row(row: Row[Any]) -> LedgerEntry:
    """A stored row as a ``LedgerEntry``; ``LedgerError`` if it cannot be one.

    The payload text must be exactly the canonical encoding of what it parses to, so even
    a change that keeps the JSON's meaning (``\\u00e9`` vs ``\\u00E9``) is caught.
    """
    values = row._asdict()
    seq = values["seq"]
    if values.pop("ledger_schema") != LEDGER_SCHEMA:
        raise LedgerError(f"ledger entry {seq} has an unknown schema version")
    payload = parse_payload(seq, values["payload"])
    if canonical_payload(payload) != values["payload"]:
        raise LedgerError(f"ledger entry {seq} has a malformed payload")
    if not isinstance(values["success"], bool):
        raise LedgerError(f"ledger entry {seq} has a malformed success flag")
    values["payload"] = payload
    return LedgerEntry(**values)


# The service's and the console's tables live in their own module; importing it here keeps
# ``metadata`` complete for whoever reads the schema from this module (Alembic, the test).
from taxmatch.store import edge_models as _edge_models  # noqa: E402, F401
