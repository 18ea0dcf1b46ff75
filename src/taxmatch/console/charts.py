"""The one chart stack: server-rendered SVG, no JavaScript, no image library.

Pure string building; every label goes through ``html.escape`` (the result is
inserted into an autoescaped page as markup). ``inline=True`` leaves out the ``xmlns``
(an SVG inside an HTML page needs none; a page that names no URL stays visibly offline).
"""

from __future__ import annotations

from html import escape
from itertools import accumulate
from typing import TYPE_CHECKING

from markupsafe import Markup

from taxmatch.policy.accuracy import percent, percent_range

if TYPE_CHECKING:
    from taxmatch.policy.coverage import Coverage, GroupFigures

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


# The coverage chart's layout: group labels end left of the share panel, then the rate panel.
_SHARE_X, _SHARE_W, _RATE_X, _RATE_W, _COV_TOP, _COV_ROW = 185, 200, 450, 300, 64, 24


def _rate_axis(cov: Coverage) -> float:
    """The rate panel's right end, a round rate past every estimate; with a ceiling, at
    most 5 times it (or past the flagged groups' estimates), so that the ceiling stays
    readable: a rate off the panel is drawn to its edge, marked ▸ with its value."""
    ceiling = cov["ceiling"]
    rates = [(g["wrong_address_rate"]["estimate"], g["flagged"]) for g in cov["groups"]]
    need = max([0.01, 2.5 * (ceiling or 0.0), *(1.2 * r for r, _ in rates if r is not None)])
    if ceiling is not None:
        flagged = [1.2 * r for r, f in rates if f and r is not None]
        need = min(need, max([5 * ceiling, *flagged]))
    return next((s for s in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5) if s >= need), 1.0)


def _rx(value: float, peak: float) -> float:
    return _RATE_X + _RATE_W * min(value, peak) / peak


def _coverage_desc(cov: Coverage) -> str:
    """What the chart shows, in words, for a screen reader."""
    ceiling = cov["ceiling"]
    flagged = [g["label"] for g in cov["groups"] if g["flagged"]]
    against = (
        "" if ceiling is None else f", against the ceiling of {percent(ceiling)} (dashed line)"
    )
    return (
        f"One row per group ({len(cov['groups'])}). Left: the share of the group's rows "
        "disclosed. Right: the wrong-address rate of the group's shadow probes with its "
        f"95 % interval{against}. "
        + (f"Flagged: {', '.join(flagged)}." if flagged else "No group is flagged.")
        + " The coverage table gives every figure."
    )


def _coverage_axes(peak: float, bottom: int, ceiling: float | None) -> list[str]:
    parts = [
        f'<text x="{_SHARE_X}" y="{_COV_TOP - 26}" font-size="11">disclosed share of rows</text>',
        f'<text x="{_RATE_X}" y="{_COV_TOP - 26}" font-size="11">'
        "probes' wrong-address rate, 95 % interval</text>",
    ]
    for x0, w, end in ((_SHARE_X, _SHARE_W, 1.0), (_RATE_X, _RATE_W, peak)):
        parts.append(f'<line x1="{x0}" y1="{bottom}" x2="{x0 + w}" y2="{bottom}" stroke="#333"/>')
        parts += [
            f'<text x="{x0 + w * frac:.1f}" y="{bottom + 14}" font-size="9" '
            f'text-anchor="middle">{percent(end * frac, 0 if end >= 0.1 else 1)}</text>'
            for frac in (0.0, 0.5, 1.0)
        ]
    if ceiling is not None:
        x = _rx(ceiling, peak)
        parts.append(
            f'<line x1="{x:.1f}" y1="{_COV_TOP - 8}" x2="{x:.1f}" y2="{bottom}" '
            f'stroke="{_RED}" stroke-dasharray="4 3"><title>ceiling {percent(ceiling)}</title>'
            f'</line><text x="{x + 3:.1f}" y="{_COV_TOP - 10}" font-size="9" fill="{_RED}">'
            f"ceiling {percent(ceiling)}</text>"
        )
    return parts


def _coverage_row(g: GroupFigures, y: int, peak: float) -> list[str]:
    """A group's label, its disclosed-share bar and its wrong-address interval."""
    colour = _RED if g["flagged"] else "#333"
    label = ("⚑ " if g["flagged"] else "") + g["label"]
    bold = ' font-weight="bold"' if g["flagged"] else ""
    parts = [
        f'<text x="{_SHARE_X - 8}" y="{y + 16}" font-size="11" text-anchor="end" '
        f'fill="{colour}"{bold}>{escape(label)}</text>'
    ]
    disclosed = g["outcomes"].get("DISCLOSED", 0)
    if g["rows"]:
        share = disclosed / g["rows"]
        tip = f"{g['label']}: {disclosed} of {g['rows']} rows disclosed ({percent(share, 1)})"
        parts.append(
            f'<rect x="{_SHARE_X}" y="{y + 6}" width="{max(_SHARE_W * share, 1.0):.1f}" '
            f'height="13" fill="{_BLUE}"><title>{escape(tip)}</title></rect>'
            f'<text x="{_SHARE_X + _SHARE_W * share + 4:.1f}" y="{y + 16}" font-size="9">'
            f"{percent(share, 1)}</text>"
        )
    else:
        parts.append(
            f'<text x="{_SHARE_X + 4}" y="{y + 16}" font-size="9" fill="{_GREY}">no rows</text>'
        )
    rate = g["wrong_address_rate"]
    est, low, high = rate["estimate"], rate["low"], rate["high"]
    if est is None or low is None or high is None:
        parts.append(
            f'<text x="{_RATE_X + _RATE_W}" y="{y + 16}" font-size="9" fill="{_GREY}" '
            'text-anchor="end">no disclosed probe</text>'
        )
        return parts
    tip = (
        f"{g['label']}: wrong address {percent(est)} (95 % interval {percent_range(rate)}) "
        f"among {g['probes']} probes" + ("; flagged" if g["flagged"] else "")
    )
    off = est if est > peak else high  # what runs off the panel, if anything
    beyond = (
        f'<text x="{_RATE_X + _RATE_W + 2}" y="{y + 16}" font-size="9" fill="{colour}">'
        f"▸ {percent(off, 1)}</text>"
        if off > peak
        else ""
    )
    parts.append(
        f"<g><title>{escape(tip)}</title>"
        f'<line x1="{_rx(low, peak):.1f}" y1="{y + 12}" x2="{_rx(high, peak):.1f}" y2="{y + 12}" '
        f'stroke="{colour}" stroke-width="2"/>'
        f'<circle cx="{_rx(est, peak):.1f}" cy="{y + 12}" r="4" fill="{colour}"/>{beyond}</g>'
    )
    return parts


def coverage_chart(
    cov: Coverage, *, title: str = "Coverage by group", inline: bool = False, key: str = "cov"
) -> Markup:
    """One row per coverage group, two panels: the share of the group's rows disclosed (a
    bar), and its shadow probes' wrong-address rate (a dot on its 95 % interval) against
    the ceiling (a dashed line). A flagged group is marked ⚑ and drawn red. The SVG has a
    title and a description (ids ``key``-title and ``key``-desc); the coverage table beside
    it gives every figure."""
    groups = cov["groups"]
    peak = _rate_axis(cov)
    bottom = _COV_TOP + _COV_ROW * len(groups)
    width, height = _RATE_X + _RATE_W + 60, bottom + 40
    parts = [
        f'<svg{"" if inline else _XMLNS} width="{width}" height="{height}" role="img" '
        f'aria-labelledby="{key}-title {key}-desc" font-family="sans-serif">'
        f'<title id="{key}-title">{escape(title)}</title>'
        f'<desc id="{key}-desc">{escape(_coverage_desc(cov))}</desc>',
        f'<text x="10" y="18" font-size="13">{escape(title)}</text>',
        *_coverage_axes(peak, bottom, cov["ceiling"]),
    ]
    for i, g in enumerate(groups):
        parts += _coverage_row(g, _COV_TOP + i * _COV_ROW, peak)
    if any(g["flagged"] for g in groups):
        parts.append(
            f'<text x="10" y="{height - 6}" font-size="10" fill="{_RED}">'
            "⚑ flagged: its disclosures went to REVIEW</text>"
        )
    return _close(parts)
