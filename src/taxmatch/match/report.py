"""Readable views of a trained model: match weight per comparison level, as rows or a
self-contained HTML chart (inline SVG; no JavaScript, no network)."""

from __future__ import annotations

import html
import math
from pathlib import Path

from taxmatch.match.model import ModelInfo, load_settings
from taxmatch.owner_only import write_private_text


def match_weight_rows(info: ModelInfo) -> list[tuple[str, str, float]]:
    """(comparison, level label, log2(m/u)) for every non-null level of the model."""
    rows: list[tuple[str, str, float]] = []
    for comparison in load_settings(info)["comparisons"]:
        name = str(comparison.get("output_column_name", "?"))
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            if not m or not u:
                continue
            label = str(level.get("label_for_charts") or level.get("sql_condition", ""))
            rows.append((name, label, math.log2(float(m) / float(u))))
    return rows


def write_weight_chart(rows: list[tuple[str, str, float]], out: Path) -> None:
    width, bar_h, left, scale = 900, 18, 420, 12.0
    height = bar_h * len(rows) + 40
    mid = left + 180
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             'font-family="sans-serif" font-size="11">',
             f'<line x1="{mid}" y1="10" x2="{mid}" y2="{height - 20}" stroke="#333"/>']  # fmt: skip
    for i, (comparison, label, weight) in enumerate(rows):
        y = 20 + i * bar_h
        w = max(1.0, min(abs(weight) * scale, 280.0))
        x = mid if weight >= 0 else mid - w
        colour = "#2b7a3d" if weight >= 0 else "#b03a2e"
        text = html.escape(f"{comparison}: {label}"[:70])
        parts.append(f'<text x="5" y="{y + 12}">{text}</text>')
        parts.append(f'<rect x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="{bar_h - 5}" '
                     f'fill="{colour}"/>')  # fmt: skip
        parts.append(f'<text x="{mid + 290}" y="{y + 12}">{weight:+.2f}</text>')
    parts.append("</svg>")
    write_private_text(
        out,
        "<!doctype html><meta charset='utf-8'><title>taxmatch match weights</title>"
        "<h1>Match weights (log2 m/u) per comparison level</h1>" + "".join(parts) + "\n",
    )
