"""The transparency report as PDF (fpdf2): the same figures as the page and the CSV (by
agency, by agency and statute, per month), with a bar per agency. Core fonts only
(Latin-1): text outside it is replaced, never dropped silently into an error."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from fpdf import FPDF

from taxmatch.pipeline.transparency import FIGURES, Transparency

_STATUTE_WIDTHS = (20.0, 40.0, 16.0, 16.0, 17.0, 18.0, 16.0, 17.0, 20.0)  # 180 mm
_BY_STATUTE = ("agency", "statute", "requests", "rejected", "unmatched", "ambiguous", "review")


def _t(text: object) -> str:
    return str(text).encode("latin-1", "replace").decode("latin-1")


def render_pdf(t: Transparency) -> bytes:
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
    return bytes(pdf.output())


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
