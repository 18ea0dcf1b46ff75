"""Server-rendered SVG charts for the transparency report: grouped bars and a time series.

Pure string building; every label goes through ``html.escape`` (the result is inserted
into an autoescaped page as markup). Counts only, never a person's value.
"""

from __future__ import annotations

from html import escape

from markupsafe import Markup

COLOURS = ("#2f5d8a", "#b03a2e", "#777777", "#d4a017", "#2b7a3d", "#6c3483")


def bar_chart(
    title: str,
    categories: list[str],
    series: list[tuple[str, list[int]]],
    width: int = 640,
    height: int = 300,
) -> Markup:
    """Grouped vertical bars: one group per category, one bar per series. A category label
    may have two lines (agency, newline, statute); the chart widens past ~70 px a group."""
    left, bottom, top = 50, 52, 30
    width = max(width, left + 10 + 70 * len(categories))
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max([1, *[v for _, vals in series for v in vals]])
    group = plot_w / max(1, len(categories))
    bar = group * 0.8 / max(1, len(series))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}">',
        f'<text x="{left}" y="18" font-size="13">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" '
        'stroke="#333"/>',
        f'<text x="{left - 4}" y="{top + 4}" font-size="10" text-anchor="end">{peak}</text>',
    ]
    for i, cat in enumerate(categories):
        x0 = left + i * group + group * 0.1
        for j, (_, vals) in enumerate(series):
            h = plot_h * vals[i] / peak
            x, y = x0 + j * bar, top + plot_h - h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar * 0.9:.1f}" '
                f'height="{h:.1f}" fill="{COLOURS[j % len(COLOURS)]}">'
                f"<title>{escape(series[j][0])}: {vals[i]}</title></rect>"
            )
        cx = x0 + group * 0.4
        lines = "".join(
            f'<tspan x="{cx:.1f}" dy="{12 if k else 0}">{escape(line[:18])}</tspan>'
            for k, line in enumerate(cat.split("\n")[:2])
        )
        parts.append(
            f'<text x="{cx:.1f}" y="{top + plot_h + 14}" font-size="10" '
            f'text-anchor="middle"><title>{escape(cat)}</title>{lines}</text>'
        )
    parts += _legend([name for name, _ in series], left, height - 10)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 -- every text above is escaped


def line_chart(
    title: str,
    labels: list[str],
    series: list[tuple[str, list[int]]],
    width: int = 640,
    height: int = 260,
) -> Markup:
    """A time series: one polyline per series over ``labels`` (months)."""
    left, bottom, top = 50, 40, 30
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max([1, *[v for _, vals in series for v in vals]])
    step = plot_w / max(1, len(labels) - 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}">',
        f'<text x="{left}" y="18" font-size="13">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" '
        'stroke="#333"/>',
        f'<text x="{left - 4}" y="{top + 4}" font-size="10" text-anchor="end">{peak}</text>',
    ]
    for j, (name, vals) in enumerate(series):
        points = " ".join(
            f"{left + i * step:.1f},{top + plot_h - plot_h * v / peak:.1f}"
            for i, v in enumerate(vals)
        )
        parts.append(
            f'<polyline fill="none" stroke-width="2" '
            f'stroke="{COLOURS[j % len(COLOURS)]}" points="{points}">'
            f"<title>{escape(name)}</title></polyline>"
        )
    for i, label in enumerate(labels):
        parts.append(
            f'<text x="{left + i * step:.1f}" y="{top + plot_h + 14}" font-size="9" '
            f'text-anchor="middle">{escape(label[-2:])}</text>'
        )
    parts += _legend([name for name, _ in series], left, height - 8)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 -- every text above is escaped


def _legend(names: list[str], x: int, y: int) -> list[str]:
    out = []
    for j, name in enumerate(names):
        cx = x + j * 120
        out.append(
            f'<rect x="{cx}" y="{y - 9}" width="10" height="10" '
            f'fill="{COLOURS[j % len(COLOURS)]}"/>'
            f'<text x="{cx + 14}" y="{y}" font-size="10">{escape(name)}</text>'
        )
    return out


__all__ = ["bar_chart", "line_chart"]
