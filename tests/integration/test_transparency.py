"""The transparency report by agency and statute on a real batch citing two statutes (and
rows whose statute is refused or missing): its requests, disclosures and taxpayers per
(agency, statute) are ``taxmatch accounting report``'s, every decision is counted under
the statute it cited, and the ledger still verifies; the coverage by group sums the group
counts each batch stored, which are its summary.json's. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import text

from taxmatch.cli import main
from taxmatch.cli.common import get_settings
from taxmatch.disclose.package import read_summary
from taxmatch.pipeline.batch import BatchRequest, run_batch
from taxmatch.pipeline.transparency import NO_STATUTE, transparency_report
from taxmatch.policy.coverage import GROUPS, MEASURES, coverage
from taxmatch.store.state import StateStore

from .conftest import AS_OF, request_row, write_envelope, write_requests

REMOVAL, REENTRY = "8 U.S.C. 1253(a)(1)", "8 U.S.C. 1326(a)"
ROWS = [
    request_row(1),  # Maria, under REMOVAL: disclosed
    request_row(2),  # Maria again (another case): disclosed
    request_row(3, statute="8 USC § 1326(a)"),  # Maria under REENTRY, spelled otherwise
    request_row(4, statute=REENTRY, first_name="Nobody", last_name="Known"),  # no match
    request_row(5, statute="26 U.S.C. 7201"),  # title 26: rejected (R05), statute parses
    request_row(6, statute=""),  # no statute: rejected, NULL
]


def test_report_by_statute_equals_the_accounting_report(
    reference_store: Path, tmp_path: Path, state_url: str
) -> None:
    result = run_batch(
        BatchRequest(
            store=reference_store,
            requests=write_requests(tmp_path / "r.csv", ROWS),
            envelope=write_envelope(tmp_path / "e.json"),
            out=tmp_path / "out",
            as_of=AS_OF,
            matcher="exact",
            database_url=state_url,
        )
    )
    year = datetime.now(UTC).year
    t = transparency_report(reference_store, year, database_url=state_url)
    with StateStore(state_url) as state:
        stored = {d.row_number: d.statute for d in state.iter_decisions(result.batch_id)}
        assert state.verify_ledger().ok
    assert stored == {1: REMOVAL, 2: REMOVAL, 3: REENTRY, 4: REENTRY, 5: "26 U.S.C. 7201", 6: None}

    get_settings.cache_clear()  # the CLI reads TAXMATCH_DATABASE_URL once per process
    try:
        cli = CliRunner().invoke(
            main,
            [
                "accounting",
                "report",
                "--store",
                str(reference_store),
                "--year",
                str(year),
                "--json",
            ],
            env={"TAXMATCH_DATABASE_URL": state_url},
        )
    finally:
        get_settings.cache_clear()
    assert cli.exit_code == 0, cli.output
    accounting = {
        (r["agency"], r["statute"] or ""): r for r in json.loads(cli.output)["by_agency_statute"]
    }
    rows = {(r.agency, r.statute): r for r in t.rows}
    assert (
        rows.keys()
        == accounting.keys()
        == {("ICE", REMOVAL), ("ICE", REENTRY), ("ICE", "26 U.S.C. 7201"), ("ICE", "")}
    )
    for key, r in rows.items():
        acc = accounting[key]
        assert (r.requests, r.disclosed, r.taxpayers) == (
            acc["requests"],
            acc["disclosures"],
            acc["taxpayers"],
        ), key
        # every request is one decision, counted under the statute it cited
        assert r.requests == sum(1 for s in stored.values() if (s or "") == key[1]), key
        decided = r.rejected + r.not_matched + r.ambiguous + r.pending_review + r.disclosed
        assert decided == r.requests, key
    assert (rows["ICE", REMOVAL].disclosed, rows["ICE", REENTRY].disclosed) == (2, 1)
    assert rows["ICE", REENTRY].not_matched == 1
    assert rows["ICE", "26 U.S.C. 7201"].rejections == {"R05": 1}
    assert rows["ICE", ""].rejected == 1
    assert rows["ICE", ""].statute_label == NO_STATUTE
    ice = t.agencies[0]
    assert (ice.requests, ice.disclosed, ice.rejected) == (6, 3, 2)
    assert ice.taxpayers == 1  # distinct over the agency, not the sum of its rows

    # A statute changed after the fact is caught by ledger verify, naming no statute.
    with StateStore(state_url) as state:
        with state.writing("test") as conn:
            conn.execute(
                text("UPDATE decisions SET statute = :s WHERE batch_id = :b AND row_number = 1"),
                {"s": REENTRY, "b": result.batch_id},
            )
        verdict = state.verify_ledger()
    assert not verdict.ok
    assert "U.S.C." not in (verdict.problem or "")


def _stored_groups(url: str, batch_id: str) -> dict[str, dict[str, int]]:
    with StateStore(url) as state, state.reading("test") as conn:
        rows = conn.execute(
            text("SELECT grp, measure, n FROM group_counts WHERE batch_id = :b"), {"b": batch_id}
        ).all()
    out: dict[str, dict[str, int]] = {}
    for grp, measure, n in rows:
        out.setdefault(grp, {})[measure] = int(n)
    return out


def test_coverage_sums_the_group_counts_of_the_years_batches(
    reference_store: Path, tmp_path: Path, state_url: str
) -> None:
    covs, stored = [], []
    anh = request_row(7, first_name="Anh", last_name="Nguyen", street_address="9 Elm Street")
    anh.update(unit="", city="Houston", state="TX", zip="77002")
    for letter, rows in (("LTR-A", ROWS), ("LTR-B", [anh])):
        result = run_batch(
            BatchRequest(
                store=reference_store,
                requests=write_requests(tmp_path / f"{letter}.csv", rows),
                envelope=write_envelope(tmp_path / f"{letter}.json", request_letter_id=letter),
                out=tmp_path / "out",
                as_of=AS_OF,
                matcher="exact",
                database_url=state_url,
            )
        )
        cov = read_summary(result.package)["coverage"]
        # the batch's stored counts are its summary's coverage, figure for figure
        stored.append(_stored_groups(state_url, result.batch_id))
        assert coverage(stored[-1], cov["ceiling"]) == cov
        covs.append({g["group"]: g for g in cov["groups"]})
    # Maria's three requests and Anh's one: SSN filers, whatever their outcome
    assert (covs[0]["ssn"]["rows"], covs[1]["ssn"]["rows"]) == (3, 1)

    year = datetime.now(UTC).year
    t = transparency_report(reference_store, year, database_url=state_url)
    assert t.coverage["ceiling"] is None
    for g in t.coverage["groups"]:
        name, figures = g["group"], [c[g["group"]] for c in covs]
        assert g["rows"] == sum(f["rows"] for f in figures), name
        assert g["probes"] == sum(f["probes"] for f in figures), name
        assert g["flagged"] == sum(f["flagged"] for f in figures), name
        for column, n in g["outcomes"].items():
            assert n == sum(f["outcomes"][column] for f in figures), (name, column)
    assert next(g["rows"] for g in t.coverage["groups"] if g["group"] == "ssn") == 4
    # The CSV's group section: each group's non-zero measures summed over both batches, in
    # the order of GROUPS and MEASURES.
    summed = [
        (f"{g.name} {m}", sum(s.get(g.name, {}).get(m, 0) for s in stored))
        for g in GROUPS
        for m in MEASURES
    ]
    section = [row for row in t.csv_rows() if row[0] == "group"]
    assert section == [("group", "", "", key, n) for key, n in summed if n]
    assert (
        "group",
        "",
        "",
        "ssn probe_probes",
        covs[0]["ssn"]["probes"] + covs[1]["ssn"]["probes"],
    ) in section
    assert t.coverage == coverage(t.groups, None)
    other = transparency_report(reference_store, year, database_url=state_url, agency="HSI")
    assert other.groups == {}
    with StateStore(state_url) as state:
        assert state.verify_ledger().ok
