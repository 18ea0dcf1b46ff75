"""A readable view of a trained model: match weight per comparison level, as rows (the
CLI prints and charts them: ``taxmatch.cli.render``)."""

from __future__ import annotations

import math

from taxmatch.match.model import ModelInfo, load_settings


def match_weight_rows(info: ModelInfo) -> list[tuple[str, str, float]]:
    """(comparison, level label, log2(m/u)) for every non-null level of the model."""
    rows: list[tuple[str, str, float]] = []
    for comparison in load_settings(info)["comparisons"]:
        name = str(comparison.get("output_column_name", "?"))
        for level in comparison["comparison_levels"]:
            m, u = level.get("m_probability"), level.get("u_probability")
            if level.get("is_null_level") or not m or not u:
                continue
            label = str(level.get("label_for_charts") or level.get("sql_condition", ""))
            rows.append((name, label, math.log2(float(m) / float(u))))
    return rows
