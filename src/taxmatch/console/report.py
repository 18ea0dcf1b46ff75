"""The transparency report pages (HTML with charts, CSV, PDF), all three from one
``transparency_report`` call, whose figures are ``taxmatch accounting report``'s.
Counts only; still a logged-in page, ``no-store`` like every console page.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from taxmatch.console.app import CurrentOfficer, Settings, render
from taxmatch.console.charts import bar_chart, line_chart
from taxmatch.pipeline.transparency import (
    CSV_COLUMNS,
    NO_STATUTE,
    Transparency,
    transparency_report,
)

router = APIRouter()
# The report reads up to 1 January of the next year: the year after 9998 is not a date.
Year = Annotated[int | None, Query(ge=1900, le=9998)]
Agency = Annotated[str | None, Query(max_length=64)]


def _report(settings: Settings, year: int | None, agency: str | None) -> Transparency:
    when = year if year is not None else datetime.now(UTC).year
    return transparency_report(
        settings.store, when, database_url=settings.database_url, agency=agency or None
    )


@router.get("/report", response_class=HTMLResponse)
def report_page(
    request: Request,
    settings: Settings,
    officer: CurrentOfficer,
    year: Year = None,
    agency: Agency = None,
) -> HTMLResponse:
    t = _report(settings, year, agency)
    rows = t.rows
    bars = bar_chart(
        f"Outcomes by agency and statute, {t.year}",
        [f"{r.agency}\n{r.statute_label}" for r in rows],
        [
            ("requests", [r.requests for r in rows]),
            ("rejected", [r.rejected for r in rows]),
            ("not matched", [r.not_matched for r in rows]),
            ("ambiguous", [r.ambiguous for r in rows]),
            ("disclosed", [r.disclosed for r in rows]),
        ],
    )
    months = [m for m, _, _ in t.months]
    series = line_chart(
        f"Requests and disclosures per month, {t.year}",
        months,
        [("requests", [r for _, r, _ in t.months]), ("disclosures", [d for _, _, d in t.months])],
    )
    query = urlencode({"year": t.year, **({"agency": agency} if agency else {})})
    return render(
        request,
        "report.html",
        officer=officer,
        t=t,
        bars=bars,
        series=series,
        query=query,
        agency=agency or "",
        none=NO_STATUTE,
    )


@router.get("/report.csv")
def report_csv(
    settings: Settings, officer: CurrentOfficer, year: Year = None, agency: Agency = None
) -> Response:
    t = _report(settings, year, agency)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in t.csv_rows():
        # Agency and statute come from the policy and envelopes; neutralise formula starts.
        writer.writerow([("'" + c) if isinstance(c, str) and c[:1] in "=+-@" else c for c in row])
    return _attachment(buf.getvalue(), "text/csv", f"transparency-{t.year}.csv")


@router.get("/report.pdf")
def report_pdf(
    settings: Settings, officer: CurrentOfficer, year: Year = None, agency: Agency = None
) -> Response:
    from taxmatch.console.pdf import render_pdf

    t = _report(settings, year, agency)
    return _attachment(render_pdf(t), "application/pdf", f"transparency-{t.year}.pdf")


def _attachment(body: str | bytes, media_type: str, filename: str) -> Response:
    disposition = f'attachment; filename="{filename}"'
    return Response(body, media_type=media_type, headers={"Content-Disposition": disposition})
