"""The one chart stack: SVG strings with escaped labels, bars that add up."""

from __future__ import annotations

import re
from pathlib import Path

from taxmatch.cli.render import write_weight_chart
from taxmatch.console.charts import coverage_chart, waterfall_chart, weight_chart
from taxmatch.policy.coverage import coverage


def _rects(svg: str) -> list[tuple[float, float]]:
    """(y, height) of every bar."""
    found = re.findall(r'<rect x="[^"]+" y="([^"]+)" width="[^"]+" height="([^"]+)"', svg)
    return [(float(y), float(h)) for y, h in found]


def test_waterfall_bars_run_on_and_the_total_spans_them() -> None:
    svg = str(waterfall_chart("t", [("prior", -10.0), ("name", 6.0), ("tin <&>", 8.0)]))
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert "tin &lt;&amp;&gt;" in svg
    assert "tin <&>" not in svg
    bars = _rects(svg)
    assert len(bars) == 4  # three steps and the total
    prior, name, tin, total = bars
    assert prior[1] > tin[1] > name[1]  # heights follow |value|
    # The total (+4) is as tall as the prior (-10) and both positive steps (+14) net.
    assert abs(total[1] - (tin[1] + name[1] - prior[1])) < 0.2
    assert "+4.00" in svg


def test_inline_waterfall_names_no_url_and_an_empty_one_draws_no_bar() -> None:
    svg = str(waterfall_chart("nothing", [], inline=True))
    assert "http" not in svg
    assert _rects(svg) == []


def test_weight_chart_and_its_page(tmp_path: Path) -> None:
    rows = [("first_name", "exact <match>", 5.0), ("tin", "different", -3.5)]
    svg = str(weight_chart(rows))
    assert svg.count('fill="#2b7a3d"') == 1
    assert svg.count('fill="#b03a2e"') == 1
    assert "exact &lt;match&gt;" in svg
    out = tmp_path / "chart.html"
    write_weight_chart(rows, out)
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>")
    assert "<svg " in page
    assert "+5.00" in page
    assert "-3.50" in page


def test_coverage_chart_rows_ceiling_and_an_off_panel_rate() -> None:
    counts = {
        "itin": {"DISCLOSED": 3, "REVIEW": 1, "probe_disclosed": 100, "probe_wrong_address": 9},
        "mover": {"DISCLOSED": 1, "probe_disclosed": 3, "probe_wrong_address": 2},
    }
    cov = coverage({**counts, "itin": {**counts["itin"], "flagged": 1}}, 0.01)
    cov["groups"][0]["label"] = "ITIN <filers>"
    svg = str(coverage_chart(cov, title="t & u", key="k"))
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert '<title id="k-title">t &amp; u</title><desc id="k-desc">' in svg
    assert "⚑ ITIN &lt;filers&gt;" in svg
    assert "ITIN <filers>" not in svg
    assert svg.count("<rect") == 2  # a share bar for each group with rows
    assert "75.0 %" in svg  # 3 of 4 ITIN rows disclosed
    assert svg.count('stroke-dasharray="4 3"') == 1
    assert "▸ 66.7 %" in svg  # the movers' 2 of 3 runs off a panel of at most 10 %
    assert svg.count("no disclosed probe") == len(cov["groups"]) - 2
    plain = str(coverage_chart(coverage(counts, None), inline=True))
    assert "xmlns" not in plain
    assert "stroke-dasharray" not in plain  # no ceiling
    assert "⚑" not in plain
    assert "No group is flagged." in plain
