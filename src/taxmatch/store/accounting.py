"""Accounting of disclosures (§ 6103(p)(3)), read from the custodian-only tables: by
taxpayer (the TIN's blind index), by batch and by year; and the transparency report's
counts by agency and cited statute, per month and by coverage group. Taxpayers are
counted as distinct blind indexes. The statute key is the canonical form
``request_counts`` uses, "" when the citation does not parse (stored NULL in
``decisions``; so are rows recorded before schema 0005). Disclosures are those made
(``taxmatch.store.seal.subjects_made``: the batch's package is sealed). TINs and stated
reasons are decrypted here (``taxmatch.store.subjects``), only for what is returned. The
only reads in taxmatch that return a TIN: the custodian's edges show them, nothing logs
them.

Must never: log or put into an error a TIN, a statute or a stated reason; load a table
whole (the per-batch list is streamed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, ColumnElement, Select, and_, func, select

from taxmatch.store.models import (
    CHUNK,
    batches,
    decisions,
    disclosure_subjects,
    pages,
    request_counts,
)
from taxmatch.store.models import group_counts as _group_counts
from taxmatch.store.seal import subjects_made
from taxmatch.store.state import StateStore
from taxmatch.store.subjects import open_subject, tin_lookup

_S = disclosure_subjects.c


@dataclass(frozen=True, slots=True)
class DisclosureRecord:
    """One disclosure about a taxpayer, as the custodian accounts for it."""

    disclosed_utc: datetime
    batch_id: str
    disclosure_id: str
    agency: str
    request_letter_id: str
    statute: str
    relevance: str
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CountRow:
    """Requests, disclosures and distinct taxpayers for one (agency, statute) pair."""

    agency: str
    statute: str  # "" when the cited statute does not parse
    requests: int
    disclosures: int
    taxpayers: int


def _span(column: Column[datetime], start: datetime, end: datetime) -> ColumnElement[bool]:
    return and_(column >= start, column < end)


def _in_year(column: Column[datetime], year: int) -> ColumnElement[bool]:
    """``column`` falls in calendar ``year`` (UTC)."""
    return _span(column, datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC))


def disclosures_about(state: StateStore, tin: str) -> list[DisclosureRecord]:
    """Every disclosure about ``tin``, oldest first."""
    query = (
        subjects_made(
            select(
                _S.disclosed_at,
                _S.batch_id,
                _S.disclosure_id,
                batches.c.agency,
                batches.c.request_letter_id,
                _S.statute,
                _S.relevance,
                _S.fields,
            )
        )
        .where(_S.tin_index.in_(tin_lookup(state.keys, tin)))
        .order_by(_S.disclosed_at, _S.disclosure_id)
    )
    with state.reading("accounting_taxpayer") as conn:
        rows = conn.execute(query).all()
    keys = state.keys
    return [
        DisclosureRecord(
            *row[:6],
            open_subject(keys, row.disclosure_id, "relevance", row.relevance),
            tuple(f for f in row.fields.split(";") if f),
        )
        for row in rows
    ]


def batch_subjects(state: StateStore, batch_id: str) -> Iterator[tuple[str, str]]:
    """(disclosure_id, tin) for every disclosure of ``batch_id``, in file order (paged)."""
    state.require_batch(batch_id)
    query = subjects_made(select(_S.row_number, _S.disclosure_id, _S.tin))
    query = query.where(_S.batch_id == batch_id)
    for page in pages(state, "accounting_batch", query, _S.row_number, CHUNK):
        keys = state.keys  # once a page: reading them stats the keyring
        for row in page:
            yield row.disclosure_id, open_subject(keys, row.disclosure_id, "tin", row.tin)


def year_counts(
    state: StateStore, year: int
) -> tuple[list[CountRow], dict[str, int], dict[str, int]]:
    """Counts for calendar ``year`` (UTC) by (agency, statute), the year's totals, and the
    distinct taxpayers disclosed to each agency, read in one snapshot.

    Requests are the records of batches received in the year; disclosures and taxpayers
    are those disclosed in the year. Totals count distinct taxpayers over the whole year,
    so they are not the sum of the rows (one taxpayer can be disclosed under two statutes).
    """
    received, disclosed = _in_year(batches.c.created_at, year), _in_year(_S.disclosed_at, year)
    agency, statute = batches.c.agency, request_counts.c.statute
    distinct = func.count(_S.tin_index.distinct())  # taxpayers
    requests_q = (
        select(agency, statute, func.sum(request_counts.c.requests))
        .join(batches, batches.c.batch_id == request_counts.c.batch_id)
        .where(received)
        .group_by(agency, statute)
    )
    disclosed_q = (
        subjects_made(select(agency, _S.statute, func.count(), distinct))
        .where(disclosed)
        .group_by(agency, _S.statute)
    )
    per_agency_q = subjects_made(select(agency, distinct)).where(disclosed).group_by(agency)
    totals_q = subjects_made(select(func.count(), distinct)).where(disclosed)
    batches_q = select(func.count()).select_from(batches).where(received)
    with state.reading("accounting_report") as conn:
        requested = {(a, s): int(n) for a, s, n in conn.execute(requests_q)}
        given = {(a, s): (int(n), int(t)) for a, s, n, t in conn.execute(disclosed_q)}
        taxpayers_of = {a: int(n) for a, n in conn.execute(per_agency_q)}
        disclosures, taxpayers = conn.execute(totals_q).one()
        received_batches = conn.execute(batches_q).scalar_one()
    rows = [
        CountRow(a, s, requested.get((a, s), 0), *given.get((a, s), (0, 0)))
        for a, s in sorted(requested.keys() | given.keys())
    ]
    totals = {
        "batches": int(received_batches),
        "requests": sum(requested.values()),
        "disclosures": int(disclosures),
        "taxpayers": int(taxpayers),
    }
    return rows, totals, taxpayers_of


# --- the transparency report -------------------------------------------------------------

Key = tuple[str, str]  # (agency, statute); statute "" when none or not parseable


def outcome_counts(state: StateStore, year: int) -> dict[Key, Counter[str]]:
    """Per (agency, statute): the decisions of batches received in ``year`` by outcome
    ("REJECTED" for rejected rows) and by reason code ("R01"...), one grouped query each."""
    keys = batches.c.agency, func.coalesce(decisions.c.statute, "")
    received = _in_year(batches.c.created_at, year)

    def counted(by: Column[Any], *where: ColumnElement[bool]) -> Select[Any]:
        query = select(*keys, by, func.count()).where(received, *where).group_by(*keys, by)
        return query.join(batches, batches.c.batch_id == decisions.c.batch_id)

    by_outcome = counted(decisions.c.outcome)
    by_codes = counted(decisions.c.reason_codes, decisions.c.disposition == "rejected")
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
                .where(_span(batches.c.created_at, start, end), *one)
            ).scalar_one()
            dis = conn.execute(
                subjects_made(select(func.count())).where(_span(_S.disclosed_at, start, end), *one)
            ).scalar_one()
            rows.append((f"{year}-{month:02d}", int(req), int(dis)))
    return rows


def group_counts(
    state: StateStore, year: int, agency: str | None = None
) -> dict[str, dict[str, int]]:
    """Group -> measure -> the sum of ``group_counts`` over the batches received in
    ``year``, of one agency or of all (``taxmatch.policy.coverage``'s counts of a year:
    ``flagged`` is the batches that flagged the group)."""
    g = _group_counts.c
    one = () if agency is None else (batches.c.agency == agency,)
    query = (
        select(g.grp, g.measure, func.sum(g.n))
        .join(batches, batches.c.batch_id == g.batch_id)
        .where(_in_year(batches.c.created_at, year), *one)
        .group_by(g.grp, g.measure)
    )
    out: dict[str, dict[str, int]] = {}
    with state.reading("transparency_groups") as conn:
        for grp, measure, n in conn.execute(query):
            out.setdefault(grp, {})[measure] = int(n)
    return out
