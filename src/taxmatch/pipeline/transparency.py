"""The transparency report: per agency, statute and year, requests, rejections by reason,
not matched, ambiguous and disclosed, plus requests and disclosures per month.

Requests, disclosures and taxpayers are exactly ``taxmatch accounting report``'s figures
(this module calls the same ``annual_report``); outcome and reason counts come from the
decisions of the batches received in the year. Counts only: no id, name or TIN.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from taxmatch.contracts import Outcome, ReasonCode
from taxmatch.pipeline.accounting import AnnualReport, annual_report
from taxmatch.store.state import StateStore
from taxmatch.store.transparency import monthly, outcome_counts

NOT_MATCHED = (Outcome.NO_MATCH, Outcome.NO_FILING_IN_PERIOD, Outcome.STALE, Outcome.INELIGIBLE)
CSV_COLUMNS = ("section", "agency", "statute", "key", "value")


@dataclass(frozen=True, slots=True)
class AgencyFigures:
    agency: str
    requests: int
    rejected: int
    rejections: dict[str, int]  # by reason code (a row may carry several)
    not_matched: int
    ambiguous: int
    pending_review: int
    disclosed: int  # accounting: disclosures made in the year (batch runs and reviews)
    taxpayers: int


@dataclass(frozen=True, slots=True)
class Transparency:
    year: int
    accounting: AnnualReport
    agencies: list[AgencyFigures]
    months: list[tuple[str, int, int]]

    def csv_rows(self) -> list[tuple[str, str, str, str, int]]:
        rows: list[tuple[str, str, str, str, int]] = []
        for key, value in self.accounting.totals.items():
            rows.append(("total", "", "", key, value))
        for a in self.agencies:
            for key in (
                "requests",
                "rejected",
                "not_matched",
                "ambiguous",
                "pending_review",
                "disclosed",
                "taxpayers",
            ):
                rows.append(("agency", a.agency, "", key, int(getattr(a, key))))
            for code, n in sorted(a.rejections.items()):
                rows.append(("rejections", a.agency, "", code, n))
        for r in self.accounting.rows:
            rows.append(("statute", r.agency, r.statute, "requests", r.requests))
            rows.append(("statute", r.agency, r.statute, "disclosures", r.disclosures))
            rows.append(("statute", r.agency, r.statute, "taxpayers", r.taxpayers))
        for month, req, dis in self.months:
            rows.append(("month", "", "", f"{month} requests", req))
            rows.append(("month", "", "", f"{month} disclosures", dis))
        return rows


def transparency_report(
    store: Path, year: int, *, database_url: str | None = None, agency: str | None = None
) -> Transparency:
    report = annual_report(store, year, database_url=database_url)
    with StateStore.open(store, database_url) as state:
        counts = outcome_counts(state, year)
        months = monthly(state, year)
    names = sorted(set(report.by_agency) | set(counts))
    figures = []
    codes = {c.value for c in ReasonCode}
    for name in names:
        if agency is not None and name != agency:
            continue
        c: Mapping[str, int] = counts.get(name, {})
        acc = report.by_agency.get(name, {})
        figures.append(
            AgencyFigures(
                agency=name,
                requests=acc.get("requests", 0),
                rejected=c.get("REJECTED", 0),
                rejections={k: v for k, v in c.items() if k in codes},
                not_matched=sum(c.get(o.value, 0) for o in NOT_MATCHED),
                ambiguous=c.get(Outcome.AMBIGUOUS.value, 0),
                pending_review=c.get(Outcome.REVIEW.value, 0),
                disclosed=acc.get("disclosures", 0),
                taxpayers=acc.get("taxpayers", 0),
            )
        )
    return Transparency(year, report, figures, months)


__all__ = ["CSV_COLUMNS", "AgencyFigures", "Transparency", "transparency_report"]
