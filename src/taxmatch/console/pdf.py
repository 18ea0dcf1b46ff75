"""The transparency report as PDF (fpdf2): the same figures as the page and the CSV (by
agency, by agency and statute, per month), with a bar per agency. Core fonts only
(Latin-1): text outside it is replaced, never dropped silently into an error."""

from __future__ import annotations

from fpdf import FPDF

from taxmatch.pipeline.transparency import Transparency

_STATUTE_WIDTHS = (20.0, 40.0, 16.0, 16.0, 17.0, 18.0, 16.0, 17.0, 20.0)  # 180 mm


def _t(text: object) -> str:
    return str(text).encode("latin-1", "replace").decode("latin-1")


def render_pdf(t: Transparency) -> bytes:
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    pdf.cell(0, 10, _t(f"taxmatch transparency report {t.year}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    totals = t.accounting.totals
    pdf.cell(
        0,
        6,
        _t(
            f"{totals.get('requests', 0)} requests in {totals.get('batches', 0)} "
            f"batches, {totals.get('disclosures', 0)} disclosures, "
            f"{totals.get('taxpayers', 0)} taxpayers"
        ),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(3)
    heads = ("agency", "requests", "rejected", "not matched", "ambiguous", "review", "disclosed")
    _row(pdf, heads, bold=True)
    for a in t.agencies:
        _row(
            pdf,
            (
                a.agency,
                a.requests,
                a.rejected,
                a.not_matched,
                a.ambiguous,
                a.pending_review,
                a.disclosed,
            ),
        )
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 7, "By agency and statute", new_x="LMARGIN", new_y="NEXT")
    by_statute = (
        "agency",
        "statute",
        "requests",
        "rejected",
        "unmatched",
        "ambiguous",
        "review",
        "disclosed",
        "taxpayers",
    )
    _row(pdf, by_statute, bold=True, widths=_STATUTE_WIDTHS)
    for r in t.rows:
        _row(
            pdf,
            (
                r.agency,
                r.statute_label,
                r.requests,
                r.rejected,
                r.not_matched,
                r.ambiguous,
                r.pending_review,
                r.disclosed,
                r.taxpayers,
            ),
            widths=_STATUTE_WIDTHS,
        )
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 7, "Rejections by reason code", new_x="LMARGIN", new_y="NEXT")
    widths = (30.0, 60.0, 45.0, 45.0)
    _row(pdf, ("agency", "statute", "code", "records"), bold=True, widths=widths)
    for r in t.rows:
        for code, n in sorted(r.rejections.items()):
            _row(pdf, (r.agency, r.statute_label, code, n), widths=widths)
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 7, "Disclosed by agency", new_x="LMARGIN", new_y="NEXT")
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
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 7, "Per month", new_x="LMARGIN", new_y="NEXT")
    _row(pdf, ("month", "requests", "disclosures"), bold=True)
    for month, req, dis in t.months:
        _row(pdf, (month, req, dis))
    return bytes(pdf.output())


def _row(
    pdf: FPDF,
    cells: tuple[object, ...],
    *,
    bold: bool = False,
    widths: tuple[float, ...] | None = None,
) -> None:
    pdf.set_font("Helvetica", "B" if bold else "", 9)
    for cell, width in zip(cells, widths or (180 / len(cells),) * len(cells), strict=True):
        pdf.cell(width, 6, _t(cell)[:40], border=1)
    pdf.ln(6)
