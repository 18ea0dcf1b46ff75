"""Counts for the console's transparency report: outcomes and rejection reasons of the
batches received in a year, by agency, and requests and disclosures per month.

Aggregates only (no row leaves the database); must never load a table whole.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import func, select

from taxmatch.store.models import batches, decisions, disclosure_subjects, request_counts
from taxmatch.store.state import StateStore


def _year(year: int) -> tuple[datetime, datetime]:
    return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)


def outcome_counts(state: StateStore, year: int) -> dict[str, Counter[str]]:
    """Per agency: the decisions of batches received in ``year`` by outcome ("REJECTED"
    for rejected rows) and by reason code ("R01"...), one grouped query each."""
    start, end = _year(year)
    received = (batches.c.created_at >= start, batches.c.created_at < end)
    by_outcome = (
        select(batches.c.agency, decisions.c.outcome, func.count())
        .join(batches, batches.c.batch_id == decisions.c.batch_id)
        .where(*received)
        .group_by(batches.c.agency, decisions.c.outcome)
    )
    by_codes = (
        select(batches.c.agency, decisions.c.reason_codes, func.count())
        .join(batches, batches.c.batch_id == decisions.c.batch_id)
        .where(*received, decisions.c.disposition == "rejected")
        .group_by(batches.c.agency, decisions.c.reason_codes)
    )
    out: dict[str, Counter[str]] = {}
    with state.reading("transparency_counts") as conn:
        for agency, outcome, n in conn.execute(by_outcome):
            out.setdefault(agency, Counter())[outcome or "REJECTED"] += int(n)
        for agency, codes, n in conn.execute(by_codes):
            for code in (c for c in str(codes).split(";") if c):
                out.setdefault(agency, Counter())[code] += int(n)
    return out


def monthly(state: StateStore, year: int) -> list[tuple[str, int, int]]:
    """(YYYY-MM, requests received, disclosures made) for each month of ``year``."""
    rows = []
    with state.reading("transparency_monthly") as conn:
        for month in range(1, 13):
            start = datetime(year, month, 1, tzinfo=UTC)
            end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
            req = conn.execute(
                select(func.coalesce(func.sum(request_counts.c.requests), 0))
                .join(batches, batches.c.batch_id == request_counts.c.batch_id)
                .where(batches.c.created_at >= start, batches.c.created_at < end)
            ).scalar_one()
            dis = conn.execute(
                select(func.count())
                .select_from(disclosure_subjects)
                .where(
                    disclosure_subjects.c.disclosed_at >= start,
                    disclosure_subjects.c.disclosed_at < end,
                )
            ).scalar_one()
            rows.append((f"{year}-{month:02d}", int(req), int(dis)))
    return rows


__all__ = ["monthly", "outcome_counts"]
