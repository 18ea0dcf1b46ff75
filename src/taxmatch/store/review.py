"""Reads and writes of the console's review: the queue, reviews and releases; and the
console's ledger view, one page of entries at a time.

Each write that matters to an audit appends its ledger entry in the same transaction
(``StateStore.writing``), so the row and its record commit together. Must never load a
batch's decisions whole (the queue is a keyset page over an index) or put a reason text
or a data value into a ledger payload or an error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, and_, exists, func, select

from taxmatch.contracts import Outcome
from taxmatch.errors import StoreError
from taxmatch.ledger.chain import LedgerDraft, LedgerEntry
from taxmatch.store.edge_models import releases, reviews
from taxmatch.store.ledger_bound import (
    RELEASE_FINISH,
    RELEASE_REVIEWS,
    RELEASES,
    REVIEWS,
    bind,
    released_draft,
)
from taxmatch.store.models import (
    DecisionRow,
    SubjectRow,
    batches,
    decisions,
    disclosure_subjects,
    entry_from_row,
    find_all,
    find_one,
    from_row,
    ledger_entries,
)
from taxmatch.store.state import StateStore
from taxmatch.store.subjects import subject_params

QUEUE_OUTCOMES: tuple[str, ...] = (Outcome.REVIEW.value, Outcome.AMBIGUOUS.value)
_UNREVIEWED = ~exists().where(
    reviews.c.batch_id == decisions.c.batch_id, reviews.c.row_number == decisions.c.row_number
)


@dataclass(frozen=True, slots=True)
class QueueItem:
    batch_id: str
    row_number: int
    request_id: str
    outcome: str
    score: float | None
    received: datetime


@dataclass(frozen=True, slots=True)
class Review:
    batch_id: str
    row_number: int
    request_id: str
    outcome: str
    action: str
    reason: str
    officer: str
    decided_at: datetime
    release_id: str | None


@dataclass(frozen=True, slots=True)
class Release:
    release_id: str
    batch_id: str
    number: int
    preparer: str
    rows: int
    second_person: str
    approver: str | None
    status: str
    created_at: datetime
    released_at: datetime | None
    package_dir: str | None
    manifest_sha256: str | None


def queue_page(state: StateStore, after: tuple[str, int] | None, limit: int) -> list[QueueItem]:
    """Unreviewed REVIEW and AMBIGUOUS rows, oldest batch first, then in row order.

    Keyset paging: ``after`` is the (batch_id, row_number) of the last item shown. Each
    batch is one index range scan per outcome, limited to what the page still needs.
    """
    with state.reading("review_queue") as conn:
        order = conn.execute(
            select(batches.c.batch_id, batches.c.created_at)
            .where(batches.c.status == "done")
            .order_by(batches.c.created_at, batches.c.batch_id)
        ).all()
        ids = [b for b, _ in order]
        start = ids.index(after[0]) if after is not None and after[0] in ids else 0
        items: list[QueueItem] = []
        for batch_id, received in order[start:]:
            last = after[1] if after is not None and batch_id == after[0] else 0
            query = (
                select(decisions)
                .where(
                    decisions.c.batch_id == batch_id,
                    decisions.c.outcome.in_(QUEUE_OUTCOMES),
                    decisions.c.row_number > last,
                    _UNREVIEWED,
                )
                .order_by(decisions.c.row_number)
                .limit(limit - len(items))
            )
            items += [
                QueueItem(batch_id, int(r.row_number), r.request_id, r.outcome, r.score, received)
                for r in conn.execute(query)
            ]
            if len(items) >= limit:
                break
    return items


def find_decision(state: StateStore, batch_id: str, row_number: int) -> DecisionRow | None:
    where = decisions.c.batch_id == batch_id, decisions.c.row_number == row_number
    return find_one(state, "find_decision", DecisionRow, select(decisions).where(*where))


def find_review(state: StateStore, batch_id: str, row_number: int) -> Review | None:
    where = reviews.c.batch_id == batch_id, reviews.c.row_number == row_number
    return find_one(state, "find_review", Review, select(reviews).where(*where))


def record_review(
    state: StateStore,
    decision: DecisionRow,
    action: str,
    reason: str,
    officer: str,
    draft: LedgerDraft,
) -> None:
    """Store one officer's decision on a queued row, with its ledger entry."""
    row = f"batch {decision.batch_id} row {decision.row_number}"
    if decision.outcome not in QUEUE_OUTCOMES:
        raise StoreError(f"{row} is not awaiting review")
    where = and_(
        reviews.c.batch_id == decision.batch_id, reviews.c.row_number == decision.row_number
    )
    with state.writing("record_review") as conn:
        if conn.execute(select(reviews.c.row_number).where(where)).first() is not None:
            raise StoreError(f"{row} is already reviewed")
        conn.execute(
            reviews.insert(),
            {
                "batch_id": decision.batch_id,
                "row_number": decision.row_number,
                "request_id": decision.request_id,
                "outcome": decision.outcome,
                "action": action,
                "reason": reason,
                "officer": officer,
                "decided_at": datetime.now(UTC),
                "disclosed": False,
            },
        )
        state.append(conn, [bind(conn, state.keys, draft, (REVIEWS, where))])


def unreleased_reviews(state: StateStore, batch_id: str) -> list[Review]:
    query = select(reviews).where(*_unreleased(batch_id)).order_by(reviews.c.row_number)
    return find_all(state, "unreleased_reviews", Review, query)


def _unreleased(batch_id: str) -> tuple[ColumnElement[bool], ...]:
    return reviews.c.batch_id == batch_id, reviews.c.release_id.is_(None)


def release_reviews(state: StateStore, release_id: str) -> list[Review]:
    query = select(reviews).where(reviews.c.release_id == release_id).order_by(reviews.c.row_number)
    return find_all(state, "release_reviews", Review, query)


# --- releases ----------------------------------------------------------------------------


def list_releases(state: StateStore, batch_id: str | None = None) -> list[Release]:
    query = select(releases).order_by(releases.c.created_at, releases.c.release_id)
    if batch_id is not None:
        query = query.where(releases.c.batch_id == batch_id)
    return find_all(state, "list_releases", Release, query)


def find_release(state: StateStore, release_id: str) -> Release | None:
    query = select(releases).where(releases.c.release_id == release_id)
    return find_one(state, "find_release", Release, query)


def create_release(
    state: StateStore,
    batch_id: str,
    preparer: str,
    second_person: str,
    draft_for: Callable[[str, int], LedgerDraft],
) -> Release:
    """Gather the batch's unreleased reviews into a new release ``<batch>-S<n>``."""
    last = select(func.coalesce(func.max(releases.c.number), 0))
    unreleased = select(func.count()).select_from(reviews).where(*_unreleased(batch_id))
    with state.writing("create_release") as conn:
        number = int(conn.execute(last.where(releases.c.batch_id == batch_id)).scalar_one()) + 1
        open_rows = int(conn.execute(unreleased).scalar_one())
        if open_rows == 0:
            raise StoreError(f"batch {batch_id} has no reviewed rows awaiting release")
        release_id = f"{batch_id}-S{number}"
        row = conn.execute(
            releases.insert().returning(*releases.c),
            {
                "release_id": release_id,
                "batch_id": batch_id,
                "number": number,
                "preparer": preparer,
                "rows": open_rows,
                "second_person": second_person,
                "status": "awaiting_approval",
                "created_at": datetime.now(UTC),
            },
        ).one()
        conn.execute(reviews.update().where(*_unreleased(batch_id)).values(release_id=release_id))
        draft = bind(
            conn,
            state.keys,
            draft_for(release_id, open_rows),
            (RELEASES, releases.c.release_id == release_id),
            (RELEASE_REVIEWS, reviews.c.release_id == release_id),
        )
        state.append(conn, [draft])
    return from_row(Release, row)


def finish_release(
    state: StateStore,
    release_id: str,
    approver: str | None,
    package_dir: str,
    manifest_sha256: str,
    subjects: Sequence[SubjectRow],
    written: LedgerDraft,
    disclosed_at: datetime,
) -> None:
    """Mark a release released: its package, the reviews it discloses (one per subject),
    the accounting rows of its disclosures (``subjects``, with their facts, made at
    ``disclosed_at``) bound by one ``disclosures`` entry, and ``written`` (its
    ``supplement_written``), which binds the release's publication columns and its
    reviews' release columns, in one transaction."""
    with state.writing("finish_release") as conn:
        row = conn.execute(
            select(releases.c.status, releases.c.batch_id)
            .where(releases.c.release_id == release_id)
            .with_for_update()
        ).first()
        if row is None or row.status == "released":
            raise StoreError(f"release {release_id} is not awaiting release")
        conn.execute(
            releases.update()
            .where(releases.c.release_id == release_id)
            .values(
                status="released",
                approver=approver,
                released_at=datetime.now(UTC),
                package_dir=package_dir,
                manifest_sha256=manifest_sha256,
            )
        )
        keys = state.keys
        drafts = []
        if subjects:
            if any(s.values_hmac is None for s in subjects):
                raise StoreError(f"release {release_id}: a disclosure lacks its facts")
            disclosed = [s.row_number for s in subjects]
            conn.execute(
                reviews.update()
                .where(reviews.c.release_id == release_id, reviews.c.row_number.in_(disclosed))
                .values(disclosed=True)
            )
            params = [subject_params(row.batch_id, s, disclosed_at, keys) for s in subjects]
            conn.execute(disclosure_subjects.insert(), params)
            who = written.actor, written.origin
            drafts.append(released_draft(conn, keys, row.batch_id, release_id, who))
        written = bind(
            conn,
            keys,
            written,
            (RELEASE_FINISH, releases.c.release_id == release_id),
            (RELEASE_REVIEWS, reviews.c.release_id == release_id),
        )
        state.append(conn, [*drafts, written])


def ledger_page(state: StateStore, before: int | None, limit: int) -> list[LedgerEntry]:
    """Up to ``limit`` entries with seq below ``before`` (all when None), newest first."""
    query = select(ledger_entries).order_by(ledger_entries.c.seq.desc()).limit(limit)
    if before is not None:
        query = query.where(ledger_entries.c.seq < before)
    with state.reading("ledger_page") as conn:
        return [entry_from_row(row) for row in conn.execute(query)]
