"""Rows bound to the ledger: who decided, who approved, what was disclosed about whom, which
agency owns which batch, and a batch's counts for the reports (by cited statute, by
coverage group). Bound on write, re-hashed by ``ledger verify``.

A *view* is the set of columns of a table that must never change once written (the
columns that legitimately change, such as a batch's status, are left out; docs/ledger.md
lists both). The entry that records a write carries the keyed digest of the view's rows
it wrote (``taxmatch.ledger.bind``), computed from the rows as stored, in the same
transaction. Each view's rows fall into *groups* (a batch, a review, a release, a chunk
of a batch's rows) and the last entry that binds a group is the one that holds for it.
Rows written before schema 0006 are bound by the ``rows_backfilled`` entries its
migration appended (``backfill_drafts``).

Digests are keyed with the ledger key in use (``Keys.current("ledger")``) and checked
under every ledger key the keyring still holds, so a rotated ledger key leaves what the
old one bound verifiable. Encrypted columns (a subject's TIN and stated reason,
``taxmatch.store.subjects``) are bound as their plaintext: re-encrypting them under a new
data key changes no digest, and a ciphertext that does not open is a tampered row.

Functions on a ``Connection`` inside the caller's transaction. Must never load a table
whole (tables are streamed; only the claims are kept) or put a row's values into an
error (problems name tables, batches, rows, releases and sequence numbers).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, Final

from sqlalchemy import Column, ColumnElement, Connection, Table, and_, not_, select, true

from taxmatch.errors import BatchNotFound, LedgerError, StoreError
from taxmatch.ledger.bind import EVENT_ROWS_BACKFILLED, RowsDigest, bound_fields, with_fields
from taxmatch.ledger.chain import LedgerDraft, PayloadValue
from taxmatch.store.edge_models import releases, reviews
from taxmatch.store.keys import Keys
from taxmatch.store.models import (
    CHUNK,
    batches,
    disclosure_subjects,
    group_counts,
    request_counts,
)
from taxmatch.store.subjects import open_subject

Group = tuple[Any, ...]
REST: Final = "rest"  # a group of rows bound by a backfill entry, per batch
EVENT_BATCH_RECEIVED: Final = "batch_received"
# binds a batch's counts by coverage group (``StateStore.write_group_counts``)
EVENT_COVERAGE_COUNTED: Final = "coverage_counted"
# the last entry of a batch's seal (before schema 0013 it bound the accounting rows)
EVENT_DISCLOSURES_SEALED: Final = "disclosures_sealed"
# binds a chunk of a batch's disclosures made (accounting rows with their facts)
EVENT_DISCLOSURES: Final = "disclosures"
DISCLOSURE_CHUNK: Final = 10_000  # at most this many disclosures per ``disclosures`` entry


@dataclass(frozen=True, slots=True)
class View:
    name: str
    table: Table
    columns: tuple[Column[Any], ...]
    order: tuple[Column[Any], ...]
    rows: ColumnElement[bool]  # which rows of the table the view holds
    row_id: Callable[[Mapping[str, Any]], str]  # ids only, for messages
    opened: tuple[str, ...] = ()  # encrypted columns, bound as their plaintext


def _cols(table: Table, *names: str) -> tuple[Column[Any], ...]:
    return tuple(table.c[name] for name in names)


BATCHES = View(
    "batches", batches,
    _cols(batches, "batch_id", "agency", "request_letter_id", "input_sha256", "envelope_sha256",
          "policy_version", "policy_sha256", "created_at", "package_dir", "as_of", "matcher",
          "reference_id"),
    _cols(batches, "batch_id"), true(), lambda r: str(r["batch_id"]),
)  # fmt: skip
REQUEST_COUNTS = View(
    "request_counts", request_counts, _cols(request_counts, "batch_id", "statute", "requests"),
    _cols(request_counts, "batch_id", "statute"), true(), lambda r: f"of batch {r['batch_id']}",
)  # fmt: skip
GROUP_COUNTS = View(
    "group_counts", group_counts, _cols(group_counts, "batch_id", "grp", "measure", "n"),
    _cols(group_counts, "batch_id", "grp", "measure"), true(),
    lambda r: f"of batch {r['batch_id']}",
)  # fmt: skip
_SUBJECT_COLUMNS = (
    "disclosure_id",
    "batch_id",
    "row_number",
    "tin",
    "statute",
    "relevance",
    "fields",
    "disclosed_at",
)
_SUBJECT_ORDER = _cols(disclosure_subjects, "batch_id", "row_number", "disclosure_id")
_FACTS = ("request_id_sha256", "person_key", "values_hmac")  # schema 0013
_NO_FACTS = and_(*(disclosure_subjects.c[name].is_(None) for name in _FACTS))
# Accounting rows sealed before schema 0013 (no fact set): bound by a batch's
# ``disclosures_sealed``, a release's ``supplement_written``, or older entries.
SUBJECTS = View(
    "disclosure_subjects",
    disclosure_subjects,
    _cols(disclosure_subjects, *_SUBJECT_COLUMNS),
    _SUBJECT_ORDER,
    _NO_FACTS,
    lambda r: str(r["disclosure_id"]),
    ("tin", "relevance"),
)
# Accounting rows with their disclosure's facts (any of them set): bound by ``disclosures``
# entries, one per chunk of a batch's seal and one per release.
DISCLOSURES = View(
    "disclosures",
    disclosure_subjects,
    _cols(disclosure_subjects, *_SUBJECT_COLUMNS, *_FACTS),
    _SUBJECT_ORDER,
    not_(_NO_FACTS),
    lambda r: str(r["disclosure_id"]),
    ("tin", "relevance"),
)
REVIEWS = View(
    "reviews", reviews,
    _cols(reviews, "batch_id", "row_number", "request_id", "outcome", "action", "reason",
          "officer", "decided_at"),
    _cols(reviews, "batch_id", "row_number"), true(),
    lambda r: f"{r['batch_id']}#{r['row_number']}",
)  # fmt: skip
RELEASES = View(
    "releases", releases,
    _cols(releases, "release_id", "batch_id", "number", "preparer", "rows", "second_person",
          "created_at"),
    _cols(releases, "batch_id", "release_id"), true(), lambda r: str(r["release_id"]),
)  # fmt: skip
# What publishing a release sets, once: bound by ``supplement_written``. Before that the
# release awaits approval and these columns are empty (checked, not bound).
RELEASE_FINISH = View(
    "release_finish", releases,
    _cols(releases, "release_id", "batch_id", "status", "approver", "released_at",
          "package_dir", "manifest_sha256"),
    _cols(releases, "batch_id", "release_id"), true(), lambda r: str(r["release_id"]),
)  # fmt: skip
# Which reviews a release holds and which of them it disclosed: bound by the release's
# entries (``release_prepared``, then ``supplement_written``).
RELEASE_REVIEWS = View(
    "release_reviews", reviews, _cols(reviews, "batch_id", "row_number", "release_id", "disclosed"),
    _cols(reviews, "batch_id", "row_number"), reviews.c.release_id.is_not(None),
    lambda r: f"{r['batch_id']}#{r['row_number']}",
)  # fmt: skip
VIEWS: Final = (
    BATCHES,
    REQUEST_COUNTS,
    GROUP_COUNTS,
    RELEASES,
    RELEASE_FINISH,
    RELEASE_REVIEWS,
    REVIEWS,
    SUBJECTS,
    DISCLOSURES,
)  # the release views before the accounting rows: verify groups those by release
BY_RELEASE: Final = frozenset({RELEASES.name, RELEASE_FINISH.name, RELEASE_REVIEWS.name})
# deleted when a batch re-runs
DISCARDED: Final = (REQUEST_COUNTS.name, GROUP_COUNTS.name, SUBJECTS.name, DISCLOSURES.name)
# the views schema 0006 backfilled, as they were then (``group_counts`` came with 0012,
# the facts of ``disclosures`` with 0013: no row of it is backfilled)
BACKFILLED: Final = (
    BATCHES,
    REQUEST_COUNTS,
    RELEASES,
    RELEASE_FINISH,
    RELEASE_REVIEWS,
    REVIEWS,
    replace(SUBJECTS, rows=true()),
)


def unfinished(row: Mapping[str, Any]) -> bool:
    return row["status"] == "awaiting_approval" and all(
        row[name] is None for name in ("approver", "released_at", "package_dir", "manifest_sha256")
    )


# --- binding on write ----------------------------------------------------------------------


class Unopened(LedgerError):
    """A bound row's encrypted column does not open: tampered, or sealed under a key the
    keyring no longer holds. The message names the table, row and column, never a value."""


# What a writer just sealed: (disclosure id, column) -> (the stored value it wrote, the
# plaintext), so binding the rows it wrote need not decrypt them again.
Sealed = Mapping[tuple[str, str], tuple[str, str]]
NOTHING_SEALED: Final[Sealed] = MappingProxyType({})


def stream(
    conn: Connection,
    keys: Keys,
    view: View,
    *where: ColumnElement[bool],
    sealed: Sealed = NOTHING_SEALED,
) -> Iterator[dict[str, Any]]:
    """The view's rows as bound: encrypted columns opened (``LedgerError`` naming the row
    when one does not open). A stored value that is exactly the one ``sealed`` says was
    written there opens to the plaintext it holds for it; any other value is decrypted."""
    names = [c.name for c in view.columns]
    rows = conn.execute(
        select(*view.columns).where(view.rows, *where).order_by(*view.order),
        execution_options={"yield_per": CHUNK},
    )
    try:
        for values in rows:
            row = dict(zip(names, values, strict=True))
            for name in view.opened:
                known = sealed.get((str(row["disclosure_id"]), name))
                if known is not None and known[0] == row[name]:
                    row[name] = known[1]
                    continue
                try:
                    row[name] = open_subject(keys, str(row["disclosure_id"]), name, row[name])
                except StoreError:
                    raise Unopened(
                        f"{view.table.name} row {view.row_id(row)}: {name} does not decrypt"
                    ) from None
            yield row
    finally:
        rows.close()


def bind(
    conn: Connection,
    keys: Keys,
    draft: LedgerDraft,
    *parts: tuple[View, ColumnElement[bool]],
    sealed: Sealed = NOTHING_SEALED,
) -> LedgerDraft:
    """``draft`` with the binding fields of each (view, rows) in ``parts`` added: the
    digest, under the ledger key in use, of the view's stored rows, in view order
    (``sealed``: as ``stream``)."""
    fields: dict[str, PayloadValue] = {}
    for view, where in parts:
        digest = RowsDigest(keys.current("ledger")[1])
        for row in stream(conn, keys, view, where, sealed=sealed):
            digest.add(tuple(row.values()))
        fields.update(bound_fields(view.name, digest))
    return replace(draft, payload=with_fields(draft.payload, fields))


def chunk_rows(batch_id: str, numbers: Sequence[int]) -> ColumnElement[bool]:
    """The accounting rows of one chunk of decision rows (their row ``numbers``)."""
    return and_(
        disclosure_subjects.c.batch_id == batch_id,
        disclosure_subjects.c.row_number.between(min(numbers), max(numbers)),
    )


def disclosures_draft(
    conn: Connection,
    keys: Keys,
    sealed: LedgerDraft,
    chunk: int,
    rows: tuple[int, int],
    written: Sealed = NOTHING_SEALED,
) -> LedgerDraft:
    """The ``disclosures`` entry of chunk ``chunk`` of a batch's seal (``sealed``: the
    seal's ``disclosures_sealed`` entry, whose object and actor it takes), binding the
    batch's accounting rows ``rows`` (first, last row number) with their facts
    (``written``: what the seal encrypted in them, as ``stream``'s ``sealed``)."""
    first, last = rows
    payload: dict[str, PayloadValue] = {"chunk": chunk, "first_row": first, "last_row": last}
    draft = replace(sealed, event_type=EVENT_DISCLOSURES, payload=payload)
    subjects = disclosure_subjects.c
    where = and_(subjects.batch_id == sealed.object_id, subjects.row_number.between(first, last))
    return bind(conn, keys, draft, (DISCLOSURES, where), sealed=written)


def released_draft(
    conn: Connection, keys: Keys, batch_id: str, release_id: str, who: tuple[str, str]
) -> LedgerDraft:
    """The ``disclosures`` entry of a release (a chunk of its own), binding the accounting
    rows of the held rows it disclosed, with their facts."""
    payload: dict[str, PayloadValue] = {"release_id": release_id}
    draft = LedgerDraft(EVENT_DISCLOSURES, *who, True, batch_id, payload)
    return bind(conn, keys, draft, (DISCLOSURES, release_subjects(release_id)))


def received_draft(
    conn: Connection, keys: Keys, batch_id: str, actor: str, origin: str
) -> LedgerDraft:
    """The ``batch_received`` entry of a stored batch, binding its ownership columns."""
    row = conn.execute(select(batches).where(batches.c.batch_id == batch_id)).first()
    if row is None:
        raise BatchNotFound(f"batch {batch_id} not found")
    payload: dict[str, PayloadValue] = {
        "agency": row.agency,
        "request_letter_id_sha256": hashlib.sha256(row.request_letter_id.encode()).hexdigest(),
        "input_sha256": row.input_sha256,
        "envelope_sha256": row.envelope_sha256,
    }
    draft = LedgerDraft(EVENT_BATCH_RECEIVED, actor, origin, True, batch_id, payload)
    return bind(conn, keys, draft, (BATCHES, batches.c.batch_id == batch_id))


def release_subjects(release_id: str) -> ColumnElement[bool]:
    """The accounting rows a release wrote: those of its disclosed reviews."""
    disclosed = select(reviews.c.row_number).where(
        reviews.c.release_id == release_id, reviews.c.disclosed.is_(True)
    )
    batch = select(releases.c.batch_id).where(releases.c.release_id == release_id)
    return and_(
        disclosure_subjects.c.batch_id == batch.scalar_subquery(),
        disclosure_subjects.c.row_number.in_(disclosed),
    )


def backfill_drafts(conn: Connection, keys: Keys) -> list[LedgerDraft]:
    """``rows_backfilled`` entries binding every row stored now: one per batch (its batch
    row, request counts, accounting rows and reviews) and one per release (the release
    row and its reviews' release columns). Empty when nothing is stored. Schema 0006's
    views only: it runs before later tables exist."""
    key = keys.current("ledger")[1]
    groups: dict[str, dict[str, RowsDigest]] = {}
    for view in BACKFILLED:
        for row in stream(conn, keys, view):
            if view is RELEASE_FINISH and unfinished(row):
                continue
            owner = row["release_id"] if view.name in BY_RELEASE else row["batch_id"]
            groups.setdefault(owner, {}).setdefault(view.name, RowsDigest(key)).add(
                tuple(row.values())
            )
    drafts = []
    for owner in sorted(groups):
        payload: dict[str, PayloadValue] = {}
        for name, digest in sorted(groups[owner].items()):
            payload.update(bound_fields(name, digest))
        drafts.append(
            LedgerDraft(EVENT_ROWS_BACKFILLED, "taxmatch", "migration 0006", True, owner, payload)
        )
    return drafts
