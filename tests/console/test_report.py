"""The transparency report's coverage by group on the console, on SQLite and PostgreSQL:
the page's table, the CSV's ``group`` section and the PDF sum the group counts of the
year's batches (of the agency asked for)."""

from __future__ import annotations

import csv
import io
import re
import zlib
from dataclasses import replace
from datetime import UTC, datetime

from .conftest import Console

COUNTS = {  # batch -> (agency, group -> measure -> n)
    "B-C1": ("ICE", {"itin": {"DISCLOSED": 3, "NO_MATCH": 1, "probe_disclosed": 8}}),
    "B-C2": (
        "ICE",
        {
            "itin": {"STALE": 1, "REVIEW": 2, "probe_disclosed": 2, "probe_wrong_address": 1},
            "po_box": {"REJECTED": 4, "flagged": 1},
        },
    ),
    "B-C3": ("HSI", {"itin": {"AMBIGUOUS": 5}}),
}


def _cells(page: str, label: str) -> list[str]:
    table = page[page.index('id="coverage"') :]
    row = table[table.index(f"<td>{label}</td>") :]
    return re.findall(r'<td class="num">([^<]*)</td>', row[: row.index("</tr>")])


def test_the_report_shows_the_years_coverage_by_group(console: Console) -> None:
    now = datetime.now(UTC)
    template = console.state.find_batch("B-NEW")
    assert template is not None
    for batch_id, (agency, counts) in COUNTS.items():
        console.state.create_batch(
            replace(template, batch_id=batch_id, agency=agency, created_at=now)
        )
        console.state.write_group_counts(batch_id, counts, actor="test", origin="test")
    assert console.state.verify_ledger().ok

    console.login("ada")
    page = console.client.get(f"/console/report?year={now.year}&agency=ICE").text
    # records, disclosed, not matched, ambiguous, review, rejected, probes, wrong address,
    # its interval, recall, batches flagged: B-C1 and B-C2 summed, B-C3 (HSI) left out
    itin = _cells(page, "ITIN filers")
    assert itin[:6] == ["7", "3", "2", "0", "2", "0"]
    assert itin[7:9] == ["10.00 %", "1.79 % – 40.42 %"]  # 1 wrong of 10 disclosed
    assert itin[9:] == ["n/a", "0"]  # no probe counted what was findable
    assert _cells(page, "PO boxes")[:6] == ["4", "0", "0", "0", "0", "4"]
    assert _cells(page, "PO boxes")[-1] == "⚑ 1"
    assert _cells(page, "movers") == ["0"] * 7 + ["n/a", "n/a", "n/a", "0"]

    everyone = console.client.get(f"/console/report?year={now.year}").text
    assert _cells(everyone, "ITIN filers")[:4] == ["12", "3", "2", "5"]

    rows = list(
        csv.DictReader(
            io.StringIO(console.client.get(f"/console/report.csv?year={now.year}&agency=ICE").text)
        )
    )
    section = [
        (r["agency"], r["statute"], r["key"], r["value"]) for r in rows if r["section"] == "group"
    ]
    assert section == [
        ("", "", "itin DISCLOSED", "3"),
        ("", "", "itin NO_MATCH", "1"),
        ("", "", "itin STALE", "1"),
        ("", "", "itin REVIEW", "2"),
        ("", "", "itin probe_disclosed", "10"),
        ("", "", "itin probe_wrong_address", "1"),
        ("", "", "po_box REJECTED", "4"),
        ("", "", "po_box flagged", "1"),
    ]
    pdf = console.client.get(f"/console/report.pdf?year={now.year}&agency=ICE")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf.content, re.DOTALL)
    text = b"".join(zlib.decompress(s) for s in streams).decode("latin-1")
    assert "(Coverage by group)" in text
    assert "(10.00 % \\(1.79-40.42\\))" in text  # ITIN filers' wrong-address rate
