"""The one chart stack: server-rendered SVG, no JavaScript, no image library.

Pure string building; every label goes through ``html.escape`` (the result is
inserted into an autoescaped page as markup). ``inline=True`` leaves out the ``xmlns``
(an SVG inside an HTML page needs none; a page that names no URL stays visibly offline).
"""

from __future__ import annotations

from html import escape
from itertools import accumulate

from markupsafe import Markup

COLOURS = ("#2f5d8a", "#b03a2e", "#777777", "#d4a017", "#2b7a3d", "#6c3483")
_GREEN, _RED, _BLUE, _GREY = "#2b7a3d", "#b03a2e", "#2f5d8a", "#777777"
_XMLNS = ' xmlns="http://www.w3.org/2000/svg"'


def _open(width: int, height: int, title: str, *, inline: bool = False, extra: str = "") -> str:
    ns = "" if inline else _XMLNS
    return (
        f'<svg{ns} width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}"{extra}>'
    )


def _axes(
    width: int, height: int, title: str, left: int, top: int, plot_h: int, peak: int
) -> list[str]:
    """The opening of a bar or line chart: title, x axis and the peak on the y axis."""
    return [
        _open(width, height, title),
        f'<text x="{left}" y="18" font-size="13">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" '
        'stroke="#333"/>',
        f'<text x="{left - 4}" y="{top + 4}" font-size="10" text-anchor="end">{peak}</text>',
    ]


def _close(parts: list[str]) -> Markup:
    return Markup("".join([*parts, "</svg>"]))  # noqa: S704 -- every text is escaped


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
    parts = _axes(width, height, title, left, top, plot_h, peak)
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
    return _close(parts)


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
    parts = _axes(width, height, title, left, top, plot_h, peak)
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
    return _close(parts)


def _legend(names: list[str], x: int, y: int) -> list[str]:
    return [
        f'<rect x="{x + j * 120}" y="{y - 9}" width="10" height="10" '
        f'fill="{COLOURS[j % len(COLOURS)]}"/>'
        f'<text x="{x + j * 120 + 14}" y="{y}" font-size="10">{escape(name)}</text>'
        for j, name in enumerate(names)
    ]


def waterfall_chart(
    title: str, steps: list[tuple[str, float]], *, inline: bool = False, height: int = 420
) -> Markup:
    """Running totals: the first step (a prior) in grey, each further step green when it
    adds and red when it takes away, then the total in blue; each bar labelled with its
    value. ``steps`` are (name, value) in order."""
    totals = list(accumulate((v for _, v in steps), initial=0.0))
    lo, hi = min(0.0, *totals), max(0.0, *totals)
    span = (hi - lo) or 1.0
    left, top, bottom, slot = 60, 36, 130, 44
    width = left + 20 + slot * (len(steps) + 1)
    plot_h = height - top - bottom

    def y(v: float) -> float:
        return top + plot_h * (hi - v) / span

    parts = [
        _open(width, height, title, inline=inline, extra=' font-family="sans-serif"'),
        f'<text x="{left}" y="18" font-size="13">{escape(title)}</text>',
        f'<line x1="{left}" y1="{y(0):.1f}" x2="{width - 10}" y2="{y(0):.1f}" stroke="#333"/>',
        f'<text x="{left - 6}" y="{y(hi) + 4:.1f}" font-size="10" text-anchor="end">'
        f"{hi:+.1f}</text>",
        f'<text x="{left - 6}" y="{y(lo) + 4:.1f}" font-size="10" text-anchor="end">'
        f"{lo:+.1f}</text>",
    ]
    bars = [(name, totals[i], totals[i + 1], v) for i, (name, v) in enumerate(steps)]
    if steps:
        bars.append(("total", 0.0, totals[-1], totals[-1]))
    for i, (name, start, end, value) in enumerate(bars):
        if i == len(bars) - 1:
            colour = _BLUE
        elif i == 0:
            colour = _GREY
        else:
            colour = _GREEN if value >= 0 else _RED
        x = left + 10 + i * slot
        y0, y1 = y(max(start, end)), y(min(start, end))
        h = max(y1 - y0, 1.0)  # a zero still shows as a hairline
        cx = x + slot * 0.4
        parts.append(
            f'<rect x="{x:.1f}" y="{y0:.1f}" width="{slot * 0.8:.1f}" height="{h:.1f}" '
            f'fill="{colour}" stroke="#333" stroke-width="0.4">'
            f"<title>{escape(name)}: {value:+.2f}</title></rect>"
            f'<text x="{cx:.1f}" y="{y0 - 3:.1f}" font-size="9" text-anchor="middle">'
            f"{value:+.2f}</text>"
            f'<text x="{cx:.1f}" y="{top + plot_h + 12}" font-size="9" text-anchor="end" '
            f'transform="rotate(-45 {cx:.1f} {top + plot_h + 12})">{escape(name[:28])}</text>'
        )
    return _close(parts)


def weight_chart(rows: list[tuple[str, str, float]], *, inline: bool = False) -> Markup:
    """One horizontal bar per (comparison, level, weight) row, green right of the axis for
    a positive weight and red left of it for a negative one, the weight written beside."""
    width, bar_h, mid, scale = 900, 18, 600, 12.0
    height = bar_h * len(rows) + 40
    parts = [
        _open(
            width,
            height,
            "match weights",
            inline=inline,
            extra=' font-family="sans-serif" font-size="11"',
        ),
        f'<line x1="{mid}" y1="10" x2="{mid}" y2="{height - 20}" stroke="#333"/>',
    ]
    for i, (comparison, label, weight) in enumerate(rows):
        y = 20 + i * bar_h
        w = max(1.0, min(abs(weight) * scale, 280.0))
        x = mid if weight >= 0 else mid - w
        colour = _GREEN if weight >= 0 else _RED
        parts.append(f'<text x="5" y="{y + 12}">{escape(f"{comparison}: {label}"[:70])}</text>')
        parts.append(
            f'<rect x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="{bar_h - 5}" fill="{colour}"/>'
        )
        parts.append(f'<text x="{mid + 290}" y="{y + 12}">{weight:+.2f}</text>')
    return _close(parts)
