"""The transparency report pages (HTML with charts, CSV, PDF via fpdf2), all three from one
``transparency_report`` call, whose figures are ``taxmatch accounting report``'s (and the
year's coverage by group).
Counts only; still a logged-in page, ``no-store`` like every console page.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse
from fpdf import FPDF

from taxmatch.console.app import CurrentOfficer, Settings, attachment, render
from taxmatch.console.charts import bar_chart, line_chart
from taxmatch.disclose.csvout import neutralise
from taxmatch.pipeline.transparency import (
    CSV_COLUMNS,
    FIGURES,
    NO_STATUTE,
    Transparency,
    transparency_report,
)
from taxmatch.policy.accuracy import Interval, percent
from taxmatch.policy.coverage import COLUMNS, GroupFigures

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
        writer.writerow([neutralise(c) if isinstance(c, str) else c for c in row])
    return attachment(buf.getvalue(), "text/csv", f"transparency-{t.year}.csv")


@router.get("/report.pdf")
def report_pdf(
    settings: Settings, officer: CurrentOfficer, year: Year = None, agency: Agency = None
) -> Response:
    t = _report(settings, year, agency)
    return attachment(render_pdf(t), "application/pdf", f"transparency-{t.year}.pdf")


_STATUTE_WIDTHS = (20.0, 40.0, 16.0, 16.0, 17.0, 18.0, 16.0, 17.0, 20.0)  # 180 mm
_BY_STATUTE = ("agency", "statute", "requests", "rejected", "unmatched", "ambiguous", "review")


def _t(text: object) -> str:
    return str(text).encode("latin-1", "replace").decode("latin-1")


def render_pdf(t: Transparency) -> bytes:
    """The same figures as the page and the CSV, with a bar per agency. Core fonts only
    (Latin-1): text outside it is replaced, never dropped silently into an error."""
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    pdf.cell(0, 10, _t(f"taxmatch transparency report {t.year}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    n = t.accounting.totals
    summary = (
        f"{n.get('requests', 0)} requests in {n.get('batches', 0)} batches, "
        f"{n.get('disclosures', 0)} disclosures, {n.get('taxpayers', 0)} taxpayers"
    )
    pdf.cell(0, 6, _t(summary), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    heads = ("agency", "requests", "rejected", "not matched", "ambiguous", "review", "disclosed")
    _table(pdf, heads, [(a.agency, *(getattr(a, f) for f in FIGURES[:-1])) for a in t.agencies])
    _heading(pdf, "By agency and statute")
    _table(
        pdf,
        (*_BY_STATUTE, "disclosed", "taxpayers"),
        [(r.agency, r.statute_label, *(getattr(r, f) for f in FIGURES)) for r in t.rows],
        _STATUTE_WIDTHS,
    )
    _heading(pdf, "Rejections by reason code")
    _table(
        pdf,
        ("agency", "statute", "code", "records"),
        [(r.agency, r.statute_label, *c) for r in t.rows for c in sorted(r.rejections.items())],
        (30.0, 60.0, 45.0, 45.0),
    )
    _heading(pdf, "Disclosed by agency")
    peak = max([1, *[a.requests for a in t.agencies]])
    pdf.set_font("Helvetica", "", 9)
    for a in t.agencies:
        y = pdf.get_y()
        pdf.cell(30, 6, _t(a.agency[:14]))
        pdf.set_fill_color(47, 93, 138)
        pdf.rect(42, y + 1, max(0.5, 140 * a.requests / peak), 2, style="F")
        pdf.set_fill_color(43, 122, 61)
        pdf.rect(42, y + 3.2, max(0.5, 140 * a.disclosed / peak), 2, style="F")
        pdf.ln(6)
    _heading(pdf, "Per month", gap=2)
    _table(pdf, ("month", "requests", "disclosures"), t.months)
    _heading(pdf, "Coverage by group")
    _table(pdf, _COVERAGE_HEADS, map(_coverage_cells, t.coverage["groups"]), _COVERAGE_WIDTHS)
    return bytes(pdf.output())


_COVERAGE_HEADS = (
    *("group", "rows", "discl.", "not m.", "amb.", "review", "rej."),
    *("probes", "wrong address", "recall", "flagged"),
)
_COVERAGE_WIDTHS = (32.0, 14.0, 12.0, 12.0, 12.0, 12.0, 12.0, 13.0, 33.0, 14.0, 14.0)  # 180 mm


def _coverage_cells(g: GroupFigures) -> tuple[object, ...]:
    """A coverage group's row of the PDF: its counts, its wrong-address rate with the
    interval, its recall and whether it was flagged."""
    wrong_address = _rate(g["wrong_address_rate"], interval=True)
    outcomes = (g["outcomes"][c] for c in COLUMNS)
    return (
        g["label"],
        g["rows"],
        *outcomes,
        g["probes"],
        wrong_address,
        _rate(g["recall"]),
        g["flagged"],
    )


def _rate(rate: Interval, *, interval: bool = False) -> str:
    """A rate in percent (and its 95 % interval); "n/a" when nothing was counted."""
    if rate["estimate"] is None:  # its bounds are None with it (an Interval's rule)
        return "n/a"
    span = f" ({percent(rate['low'], unit='')}-{percent(rate['high'], unit='')})"
    return percent(rate["estimate"]) + (span if interval else "")


def _heading(pdf: FPDF, text: str, gap: float = 4) -> None:
    pdf.ln(gap)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")


def _table(
    pdf: FPDF,
    heads: Sequence[object],
    rows: Iterable[Sequence[object]],
    widths: Sequence[float] | None = None,
) -> None:
    """A bold header row, then the rows; equal widths over 180 mm unless given."""
    for i, cells in enumerate([heads, *rows]):
        pdf.set_font("Helvetica", "B" if i == 0 else "", 9)
        for cell, width in zip(cells, widths or (180 / len(cells),) * len(cells), strict=True):
            pdf.cell(width, 6, _t(cell)[:40], border=1)
        pdf.ln(6)
