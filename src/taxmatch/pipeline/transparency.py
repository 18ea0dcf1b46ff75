"""The transparency report: per agency, statute and year, requests, rejections by reason,
not matched, ambiguous and disclosed, plus requests and disclosures per month and the
coverage by group (``taxmatch.policy.coverage``) of the year's batches.

Requests, disclosures and taxpayers are exactly ``taxmatch accounting report``'s figures
(this module calls the same ``annual_report``), in total, by agency and by (agency,
statute); outcome and reason counts come from the decisions of the batches received in
the year, grouped by the statute each decision recorded (the same canonical form, "" when
the citation does not parse or, for rows recorded before schema 0005, was not recorded).
The coverage sums, over the batches received in the year, the counts by group each
batch stored (``group_counts``, schema 0012; a batch run before it has none): outcomes,
probe counts and, as ``flagged``, the batches that flagged the group; its rates are those
of the summed probe counts. Counts only: no id, name or TIN.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from taxmatch.contracts import Outcome, ReasonCode
from taxmatch.pipeline.accounting import AnnualReport, annual_report
from taxmatch.policy.coverage import GROUPS, MEASURES, Coverage
from taxmatch.policy.coverage import coverage as coverage_table
from taxmatch.store.accounting import group_counts, monthly, outcome_counts
from taxmatch.store.state import StateStore

NOT_MATCHED = (Outcome.NO_MATCH, Outcome.NO_FILING_IN_PERIOD, Outcome.STALE, Outcome.INELIGIBLE)
CSV_COLUMNS = ("section", "agency", "statute", "key", "value")
NO_STATUTE = "(none)"  # how "" (no statute, or one that does not parse) is shown
_CODES = frozenset(c.value for c in ReasonCode)


@dataclass(frozen=True, slots=True)
class Figures:
    """The year's figures of an agency, or of one statute it cited."""

    agency: str
    requests: int  # accounting: requests received in the year
    rejected: int
    rejections: dict[str, int]  # by reason code (a row may carry several)
    not_matched: int
    ambiguous: int
    pending_review: int
    disclosed: int  # accounting: disclosures made in the year (batch runs and reviews)
    taxpayers: int  # accounting: distinct taxpayers disclosed about


FIGURES = tuple(f.name for f in fields(Figures) if f.name not in ("agency", "rejections"))


@dataclass(frozen=True, slots=True)
class StatuteFigures(Figures):
    """One (agency, statute) row; ``statute`` is "" when none was cited or it does not parse."""

    statute: str

    @property
    def statute_label(self) -> str:
        return self.statute or NO_STATUTE


@dataclass(frozen=True, slots=True)
class AgencyFigures(Figures):
    """An agency's totals over its statutes (taxpayers are distinct over the agency, so
    not the sum of its rows)."""

    statutes: tuple[StatuteFigures, ...]


@dataclass(frozen=True, slots=True)
class Transparency:
    year: int
    accounting: AnnualReport
    agencies: list[AgencyFigures]
    months: list[tuple[str, int, int]]
    groups: dict[str, dict[str, int]]  # group -> measure -> the year's sum (non-zero only)

    @property
    def coverage(self) -> Coverage:
        """The coverage table of ``groups``, without a ceiling."""
        return coverage_table(self.groups, None)

    @property
    def rows(self) -> list[StatuteFigures]:
        """Every (agency, statute) row, by agency then statute."""
        return [s for a in self.agencies for s in a.statutes]

    def csv_rows(self) -> list[tuple[str, str, str, str, int]]:
        rows = [("total", "", "", key, value) for key, value in self.accounting.totals.items()]
        groups: list[tuple[str, str, Figures, str]] = [
            *(("agency", "rejections", a, "") for a in self.agencies),
            *(("statute", "statute_rejections", s, s.statute_label) for s in self.rows),
        ]
        for section, rejections, f, statute in groups:
            rows += [(section, f.agency, statute, key, int(getattr(f, key))) for key in FIGURES]
            rows += [(rejections, f.agency, statute, c, n) for c, n in sorted(f.rejections.items())]
        for month, req, dis in self.months:
            rows.append(("month", "", "", f"{month} requests", req))
            rows.append(("month", "", "", f"{month} disclosures", dis))
        for g in GROUPS:
            counts = self.groups.get(g.name, {})
            rows += [
                ("group", "", "", f"{g.name} {m}", counts[m]) for m in MEASURES if counts.get(m)
            ]
        return rows


def _statute_figures(
    agency: str, statute: str, c: Mapping[str, int], acc: tuple[int, int, int]
) -> StatuteFigures:
    requests, disclosed, taxpayers = acc
    return StatuteFigures(
        agency=agency,
        statute=statute,
        requests=requests,
        rejected=c.get("REJECTED", 0),
        rejections={k: v for k, v in sorted(c.items()) if k in _CODES},
        not_matched=sum(c.get(o.value, 0) for o in NOT_MATCHED),
        ambiguous=c.get(Outcome.AMBIGUOUS.value, 0),
        pending_review=c.get(Outcome.REVIEW.value, 0),
        disclosed=disclosed,
        taxpayers=taxpayers,
    )


def transparency_report(
    store: Path, year: int, *, database_url: str | None = None, agency: str | None = None
) -> Transparency:
    report = annual_report(store, year, database_url=database_url)
    with StateStore.open(store, database_url) as state:
        counts = outcome_counts(state, year)
        months = monthly(state, year, agency)
        groups = group_counts(state, year, agency)
    accounted = {
        (r.agency, r.statute): (r.requests, r.disclosures, r.taxpayers) for r in report.rows
    }
    keys = sorted(accounted.keys() | counts.keys())
    figures = []
    for name in sorted({a for a, _ in keys}):
        if agency is not None and name != agency:
            continue
        rows = tuple(
            _statute_figures(
                name, s, counts.get((name, s), {}), accounted.get((name, s), (0, 0, 0))
            )
            for a, s in keys
            if a == name
        )
        acc = report.by_agency.get(name, {})
        rejections = sum((Counter(row.rejections) for row in rows), Counter[str]())
        summed = ("rejected", "not_matched", "ambiguous", "pending_review")
        figures.append(
            AgencyFigures(
                agency=name,
                requests=acc.get("requests", 0),
                rejections=dict(sorted(rejections.items())),
                disclosed=acc.get("disclosures", 0),
                taxpayers=acc.get("taxpayers", 0),
                statutes=rows,
                **{k: sum(getattr(r, k) for r in rows) for k in summed},
            )
        )
    return Transparency(year, report, figures, months, groups)


def year_coverage(
    store: Path, year: int, *, database_url: str | None = None, agency: str | None = None
) -> Coverage:
    """The transparency report's coverage alone: of the batches received in ``year``, of
    one agency or of all."""
    with StateStore.open(store, database_url) as state:
        return coverage_table(group_counts(state, year, agency), None)
