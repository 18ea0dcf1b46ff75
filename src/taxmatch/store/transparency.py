"""Counts for the console's transparency report: outcomes and rejection reasons of the
batches received in a year, by agency and cited statute, and requests and disclosures
per month.

The statute key is the canonical form ``request_counts`` uses, "" when the citation does
not parse (stored NULL in ``decisions``; so are rows recorded before schema 0005), so the
keys line up with ``taxmatch accounting report``'s rows. Aggregates only (no row leaves
the database); must never load a table whole.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import func, select

from taxmatch.store.models import batches, decisions, disclosure_subjects, request_counts
from taxmatch.store.seal import subjects_made
from taxmatch.store.state import StateStore

Key = tuple[str, str]  # (agency, statute); statute "" when none or not parseable


def _year(year: int) -> tuple[datetime, datetime]:
    return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)


def outcome_counts(state: StateStore, year: int) -> dict[Key, Counter[str]]:
    """Per (agency, statute): the decisions of batches received in ``year`` by outcome
    ("REJECTED" for rejected rows) and by reason code ("R01"...), one grouped query each."""
    start, end = _year(year)
    received = (batches.c.created_at >= start, batches.c.created_at < end)
    statute = func.coalesce(decisions.c.statute, "")
    by_outcome = (
        select(batches.c.agency, statute, decisions.c.outcome, func.count())
        .join(batches, batches.c.batch_id == decisions.c.batch_id)
        .where(*received)
        .group_by(batches.c.agency, statute, decisions.c.outcome)
    )
    by_codes = (
        select(batches.c.agency, statute, decisions.c.reason_codes, func.count())
        .join(batches, batches.c.batch_id == decisions.c.batch_id)
        .where(*received, decisions.c.disposition == "rejected")
        .group_by(batches.c.agency, statute, decisions.c.reason_codes)
    )
    out: dict[Key, Counter[str]] = {}
    with state.reading("transparency_counts") as conn:
        for agency, cited, outcome, n in conn.execute(by_outcome):
            out.setdefault((agency, cited), Counter())[outcome or "REJECTED"] += int(n)
        for agency, cited, codes, n in conn.execute(by_codes):
            for code in (c for c in str(codes).split(";") if c):
                out.setdefault((agency, cited), Counter())[code] += int(n)
    return out


def monthly(state: StateStore, year: int, agency: str | None = None) -> list[tuple[str, int, int]]:
    """(YYYY-MM, requests received, disclosures made) for each month of ``year``, of one
    agency or of all."""
    rows = []
    one = () if agency is None else (batches.c.agency == agency,)
    with state.reading("transparency_monthly") as conn:
        for month in range(1, 13):
            start = datetime(year, month, 1, tzinfo=UTC)
            end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
            req = conn.execute(
                select(func.coalesce(func.sum(request_counts.c.requests), 0))
                .join(batches, batches.c.batch_id == request_counts.c.batch_id)
                .where(batches.c.created_at >= start, batches.c.created_at < end, *one)
            ).scalar_one()
            dis = conn.execute(
                subjects_made(select(func.count())).where(
                    disclosure_subjects.c.disclosed_at >= start,
                    disclosure_subjects.c.disclosed_at < end,
                    *one,
                )
            ).scalar_one()
            rows.append((f"{year}-{month:02d}", int(req), int(dis)))
    return rows


__all__ = ["Key", "monthly", "outcome_counts"]
