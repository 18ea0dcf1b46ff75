"""The batch page's coverage by group (the table, its chart, flagged groups, the ceiling)
and ``/batches/{batch}/coverage.csv`` (a login as for the batch page; ``CSV_COLUMNS`` and
a row per group; 404 without a batch or its coverage), on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json

from taxmatch.policy.coverage import CSV_COLUMNS, GROUPS, Coverage, coverage, csv_rows
from tests.unit.disclose.test_package import SUMMARY_DOC

from .conftest import OFFICERS, Console

COUNTS = {
    "itin": {
        "DISCLOSED": 40,
        "NO_MATCH": 10,
        "REVIEW": 3,
        "REJECTED": 1,
        "probe_probes": 300,
        "probe_disclosed": 250,
        "probe_wrong_address": 12,
        "probe_findable": 280,
        "probe_found": 240,
        "flagged": 1,
    },
    "ssn": {"DISCLOSED": 4000, "STALE": 7, "probe_probes": 1700, "probe_disclosed": 1500},
    "po_box": {"AMBIGUOUS": 2},
}
CSV_PATH = "/console/batches/B-NEW/coverage.csv"


def _summary(c: Console, cov: Coverage | None) -> Coverage | None:
    """B-NEW's package summary: a valid one, with ``cov`` as its coverage (None: none)."""
    package = c.store / "out" / "B-NEW"
    package.mkdir(parents=True, exist_ok=True)
    doc: dict[str, object] = {**SUMMARY_DOC, "batch_id": "B-NEW"}
    if cov is not None:
        doc["coverage"] = cov
    (package / "summary.json").write_text(json.dumps(doc), encoding="utf-8")
    return cov


def _section(page: str) -> str:
    start = page.index('id="coverage-by-group"')
    return page[start : page.index("Reviewed records awaiting release", start)]


def test_the_batch_page_shows_coverage_by_group_with_its_chart(console: Console) -> None:
    _summary(console, coverage(COUNTS, 0.01))
    console.login("olive")
    section = _section(console.client.get("/console/batches/B-NEW").text)
    assert "Ceiling on a group's wrong-address rate: 1.00 %" in section
    assert "Flagged</strong>" in section
    assert f'href="{CSV_PATH}"' in section
    chart = section[section.index("<svg") : section.index("</svg>")]
    assert 'role="img" aria-labelledby="cov-title cov-desc"' in chart
    assert '<title id="cov-title">Coverage by group</title>' in chart
    desc = chart[chart.index('<desc id="cov-desc">') : chart.index("</desc>")]
    assert "against the ceiling of 1.00 % (dashed line)" in desc
    assert "Flagged: ITIN filers." in desc
    assert "xmlns" not in chart  # inline: the page names no URL
    assert chart.count('stroke-dasharray="4 3"') == 1  # the ceiling
    assert "⚑ ITIN filers" in chart
    assert "40 of 54 rows disclosed (74.1 %)" in chart  # ITIN filers' share
    assert "no rows" in chart  # groups without rows say so
    assert chart.count("<circle") == 2  # ITIN and SSN filers' probes disclosed
    table = section[section.index('<table id="coverage">') : section.index("</table>")]
    assert table.count("<tr") == 1 + len(GROUPS)
    flagged = table[table.index('<tr class="flagged">') :]
    assert flagged.startswith('<tr class="flagged"><td>ITIN filers</td><td class="num">54</td>')
    assert "4.80 %" in flagged
    assert "2.77 % – 8.20 %" in flagged
    assert "⚑ flagged" in flagged
    assert table.count('class="flagged"') == 1
    assert "n/a" in table  # no probe in a group: no rate


def test_a_batch_without_coverage_says_so(console: Console) -> None:
    console.login("olive")
    _summary(console, None)  # a package written before coverage groups
    section = _section(console.client.get("/console/batches/B-NEW").text)
    assert "No coverage by group" in section
    assert "<svg" not in section
    assert "coverage.csv" not in section
    assert console.client.get(CSV_PATH).status_code == 404
    section = _section(console.client.get("/console/batches/B-OLD").text)  # no package
    assert "No coverage by group" in section
    _summary(console, coverage({}, None))
    section = _section(console.client.get("/console/batches/B-NEW").text)
    assert "No ceiling on a group" in section
    assert "No group is flagged." in section


def test_coverage_csv_needs_a_login_and_gives_a_row_per_group(console: Console) -> None:
    cov = _summary(console, coverage(COUNTS, 0.01))
    assert cov is not None
    r = console.client.get(CSV_PATH, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/console/login"
    for username in OFFICERS:  # every role, as the batch page
        console.login(username)
        r = console.client.get(CSV_PATH)
        assert r.status_code == 200, username
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"] == 'attachment; filename="coverage-B-NEW.csv"'
    assert r.headers["cache-control"] == "no-store"
    header, *rows = list(csv.reader(io.StringIO(r.text)))
    assert header == list(CSV_COLUMNS)
    assert [row[0] for row in rows] == [g.name for g in GROUPS]
    assert rows == [["" if v is None else str(v) for v in row] for row in csv_rows(cov)]
    itin = dict(zip(header, rows[0], strict=True))
    assert (itin["rows"], itin["review"], itin["flagged"]) == ("54", "3", "1")
    assert float(itin["wrong_address_rate_estimate"]) == 12 / 250


def test_coverage_csv_of_an_unknown_batch_or_one_without_a_package_is_404(
    console: Console,
) -> None:
    console.login("ada")
    bad = {"ceiling": 0.01, "flagged": [], "groups": [{"group": "itin"}]}
    _summary(console, bad)  # type: ignore[arg-type]  # a malformed coverage
    assert console.client.get(CSV_PATH).status_code == 404
    for path in ("/console/batches/B-NOPE/coverage.csv", "/console/batches/B-OLD/coverage.csv"):
        r = console.client.get(path)
        assert r.status_code == 404, path
        assert "TM999" not in r.text
