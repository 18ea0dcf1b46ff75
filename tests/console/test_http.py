"""The console over HTTP (TestClient), on SQLite and PostgreSQL: log-in, sessions and
lockout; cross-site POSTs refused; no-store; roles; the queue, a decision, a release with
one and with two people; the ledger's audit events; error pages without values."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from taxmatch.cli import main
from taxmatch.pipeline.accounting import annual_report
from taxmatch.pipeline.officers import LOCK_AFTER
from taxmatch.store.decision_rows import cells_of
from taxmatch.store.state import DecisionRow, SubjectRow
from tests.unit.disclose.test_package import SUMMARY_DOC

from .conftest import ORIGIN, PASSWORD, Console, build_console


def _events(c: Console, kind: str) -> list[object]:
    return [e for e in c.state.iter_ledger() if e.event_type == kind]


def test_every_page_needs_a_login(console: Console) -> None:
    for path in (
        "/console/",
        "/console/queue",
        "/console/batches",
        "/console/batches/B-OLD",
        "/console/review/B-OLD/2",
        "/console/ledger",
        "/console/report",
        "/console/report.csv",
        "/console/accounting",
    ):
        r = console.client.get(path, follow_redirects=False)
        assert r.status_code == 303, path
        assert r.headers["location"] == "/console/login"
        assert "REQ-" not in r.text
    r = console.post("/console/review/B-OLD/2", action="withhold", reason="x" * 20)
    assert r.status_code == 403  # type: ignore[attr-defined]
    assert _events(console, "review_decided") == []


def test_login_sets_a_strict_httponly_cookie_and_logout_ends_it(console: Console) -> None:
    r = console.client.post(
        "/console/login",
        data={"username": "olive", "password": PASSWORD},
        headers={"Origin": ORIGIN},
        follow_redirects=False,
    )
    assert r.status_code == 303
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/console" in cookie
    assert console.client.get("/console/", follow_redirects=False).status_code == 200
    assert console.post("/console/logout").status_code == 303  # type: ignore[attr-defined]
    assert console.client.get("/console/", follow_redirects=False).status_code == 303
    kinds = [e.event_type for e in console.state.iter_ledger()]
    assert "login" in kinds
    assert "logout" in kinds


def test_wrong_password_and_lockout(console: Console) -> None:
    for _ in range(LOCK_AFTER):
        r = console.client.post(
            "/console/login",
            data={"username": "olive", "password": "nope"},
            headers={"Origin": ORIGIN},
        )
        assert r.status_code == 401
        assert "Unknown username or wrong password" in r.text
    r = console.client.post(
        "/console/login",
        data={"username": "olive", "password": PASSWORD},
        headers={"Origin": ORIGIN},
        follow_redirects=False,
    )
    assert r.status_code == 401
    # A locked account gets the same answer as a wrong password (no enumeration).
    assert "Unknown username or wrong password" in r.text
    assert "locked" not in r.text
    assert "set-cookie" not in r.headers
    assert [e.actor for e in _events(console, "login_refused_locked")] == ["olive"]
    unknown = console.client.post(
        "/console/login", data={"username": "nobody", "password": "x"}, headers={"Origin": ORIGIN}
    )
    assert "Unknown username or wrong password" in unknown.text  # no hint the name is unknown


def test_cross_site_posts_are_refused(console: Console) -> None:
    console.login("olive")
    for headers in (
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": ORIGIN, "Sec-Fetch-Site": "same-site"},
        {},
    ):
        r = console.client.post(
            "/console/review/B-OLD/2",
            headers=headers,
            data={"action": "withhold", "reason": "a long enough reason"},
        )
        assert r.status_code == 403, headers
    r = console.client.post(
        "/console/login",
        headers={"Origin": "https://evil.example"},
        data={"username": "olive", "password": PASSWORD},
    )
    assert r.status_code == 403
    assert _events(console, "review_decided") == []
    ok = console.client.post(
        "/console/review/B-OLD/2",
        headers={"Sec-Fetch-Site": "same-origin"},
        data={"action": "withhold", "reason": "a long enough reason"},
        follow_redirects=False,
    )
    assert ok.status_code == 303


def test_pages_are_no_store_with_a_strict_csp(console: Console) -> None:
    console.login("sam")
    for path in (
        "/console/",
        "/console/queue",
        "/console/review/B-OLD/2",
        "/console/ledger",
        "/console/batches/B-OLD",
        "/console/report",
        "/console/login",
    ):
        r = console.client.get(path)
        assert r.status_code == 200, path
        assert r.headers["cache-control"] == "no-store"
        assert "default-src 'self'" in r.headers["content-security-policy"]
    js = console.client.get("/console/static/htmx.min.js")
    assert js.status_code == 200
    assert "htmx" in js.text


def test_roles(console: Console) -> None:
    console.login("olive")
    assert console.client.get("/console/accounting").status_code == 403
    assert console.post("/console/accounting", tin="123456789").status_code == 403  # type: ignore[attr-defined]
    console.login("ada")
    assert console.client.get("/console/accounting").status_code == 200
    r = console.post("/console/review/B-OLD/2", action="withhold", reason="auditors only read")
    assert r.status_code == 403  # type: ignore[attr-defined]
    r = console.post("/console/accounting", tin="123-45-6789")
    assert r.status_code == 200  # type: ignore[attr-defined]
    views = _events(console, "console_view")
    assert views
    assert views[-1].actor == "ada"
    assert "123456789" not in views[-1].object_id


def test_queue_is_review_and_ambiguous_oldest_first(console: Console) -> None:
    console.login("olive")
    text = console.client.get("/console/queue").text
    order = [f"REQ-B-OLD-{n}<" for n in (2, 3, 6)] + [f"REQ-B-NEW-{n}<" for n in (2, 3, 6)]
    positions = [text.index(x) for x in order]
    assert positions == sorted(positions)
    for absent in ("REQ-B-OLD-1<", "REQ-B-OLD-4<", "REQ-B-OLD-5<"):
        assert absent not in text


def test_queue_pages_by_keyset(console: Console, monkeypatch: object) -> None:
    import taxmatch.console.views as views

    monkeypatch.setattr(views, "PAGE", 2)  # type: ignore[attr-defined]
    console.login("olive")
    first = console.client.get("/console/queue").text
    assert "REQ-B-OLD-2<" in first
    assert "REQ-B-OLD-3<" in first
    assert "REQ-B-OLD-6<" not in first
    assert "after=B-OLD%3A3" in first
    more = console.client.get("/console/queue?fragment=true&after=B-OLD:3").text
    assert "REQ-B-OLD-6<" in more
    assert "REQ-B-NEW-2<" in more
    assert "<html" not in more


def test_withhold_and_release_by_one_person_writes_a_supplement(console: Console) -> None:
    console.login("olive")
    page = console.client.get("/console/review/B-OLD/3")
    assert "No explanation available" in page.text  # exact matcher: nothing to explain
    assert _events(console, "console_view")[-1].object_id == "B-OLD#3"
    r = console.post("/console/review/B-OLD/3", action="withhold", reason="two people fit")
    assert r.status_code == 303  # type: ignore[attr-defined]
    assert "REQ-B-OLD-3<" not in console.client.get("/console/queue").text
    again = console.post("/console/review/B-OLD/3", action="disclose", reason="changed my mind")
    assert again.status_code == 400  # type: ignore[attr-defined]
    r = console.post("/console/batches/B-OLD/release")
    assert r.status_code == 303  # type: ignore[attr-defined]
    package = console.store / "out" / "B-OLD-S1"
    with (package / "unmatched.csv").open(encoding="utf-8") as fh:
        assert list(csv.DictReader(fh)) == [{"request_id": "REQ-B-OLD-3", "outcome": "AMBIGUOUS"}]
    written = _events(console, "supplement_written")
    import hashlib

    manifest = (package / "manifest.json").read_bytes()
    assert written[-1].payload["manifest_sha256"] == hashlib.sha256(manifest).hexdigest()
    assert json.loads(manifest)["batch_id"] == "B-OLD-S1"
    assert console.state.verify_ledger().ok


def test_two_person_rule(tmp_path: Path, state_url: str) -> None:
    c = build_console(tmp_path / "store", state_url, threshold=3)  # batches have 6 rows
    try:
        c.login("sam")
        c.post("/console/review/B-NEW/2", action="withhold", reason="address undeliverable")
        batch = c.client.get("/console/batches/B-NEW").text
        assert "Two-person rule" in batch
        assert "over the release threshold" in batch
        c.post("/console/batches/B-NEW/release")
        assert not (c.store / "out" / "B-NEW-S1").exists()
        r = c.post("/console/releases/B-NEW-S1/approve")  # the preparer himself
        assert r.status_code == 403  # type: ignore[attr-defined]
        c.login("olive")  # an officer is not a supervisor
        assert c.post("/console/releases/B-NEW-S1/approve").status_code == 403  # type: ignore[attr-defined]
        c.login("sue")
        assert c.post("/console/releases/B-NEW-S1/approve").status_code == 303  # type: ignore[attr-defined]
        assert (c.store / "out" / "B-NEW-S1" / "manifest.json").exists()
        written = _events(c, "supplement_written")[-1]
        assert written.payload["approver"] == "sue"
        assert written.payload["preparer"] == "sam"
    finally:
        c.client.close()
        c.settings.close()
        c.state.close()


def test_a_supervisor_who_decided_a_row_cannot_approve_its_release(
    tmp_path: Path, state_url: str
) -> None:
    c = build_console(tmp_path / "store", state_url, threshold=3)  # batches have 6 rows
    try:
        c.login("sam")
        c.post("/console/review/B-NEW/2", action="disclose", reason="address corroborated")
        c.login("sue")
        c.post("/console/review/B-NEW/3", action="withhold", reason="two people fit here")
        c.login("olive")
        assert c.post("/console/batches/B-NEW/release").status_code == 303  # type: ignore[attr-defined]
        for decider in ("sam", "sue"):  # each decided a row of B-NEW-S1
            c.login(decider)
            r = c.post("/console/releases/B-NEW-S1/approve")
            assert r.status_code == 403, decider  # type: ignore[attr-defined]
            assert "decided a row" in r.text  # type: ignore[attr-defined]
        assert not (c.store / "out" / "B-NEW-S1").exists()
        assert _events(c, "supplement_written") == []
    finally:
        c.client.close()
        c.settings.close()
        c.state.close()


def test_a_policy_change_needs_a_second_person(tmp_path: Path, state_url: str) -> None:
    c = build_console(tmp_path / "store", state_url, threshold=1000, same_policy=False)
    try:
        c.login("olive")
        c.post("/console/review/B-OLD/2", action="withhold", reason="not the same person")
        assert "policy in force is not" in c.client.get("/console/batches/B-OLD").text
        c.post("/console/batches/B-OLD/release")
        assert not (c.store / "out" / "B-OLD-S1").exists()
    finally:
        c.client.close()
        c.settings.close()
        c.state.close()


def test_error_pages_show_no_traceback_and_escape(console: Console) -> None:
    console.login("olive")
    r = console.client.get("/console/batches/<script>alert(1)</script>")
    assert r.status_code == 404
    assert "<script>alert" not in r.text
    assert "Traceback" not in r.text
    r = console.client.get("/console/review/B-OLD/notanumber")
    assert r.status_code in (404, 422)
    assert "Traceback" not in r.text


def test_report_matches_accounting_and_downloads(console: Console) -> None:
    console.login("ada")
    year = __import__("datetime").datetime.now(__import__("datetime").UTC).year
    page = console.client.get(f"/console/report?year={year}")
    assert page.status_code == 200
    assert "<svg" in page.text
    report = annual_report(console.store, year, database_url=console.settings.database_url)
    rows = list(
        csv.DictReader(io.StringIO(console.client.get(f"/console/report.csv?year={year}").text))
    )
    totals = {r["key"]: int(r["value"]) for r in rows if r["section"] == "total"}
    assert totals == report.totals
    ice = {r["key"]: int(r["value"]) for r in rows if r["section"] == "agency"}
    assert ice["rejected"] == 2
    assert ice["ambiguous"] == 2
    assert ice["not_matched"] == 2
    # The synthetic decisions cite no statute: every outcome is under "(none)".
    by_statute = {
        (r["agency"], r["statute"], r["key"]): int(r["value"])
        for r in rows
        if r["section"] == "statute"
    }
    assert by_statute[("ICE", "(none)", "rejected")] == 2
    assert by_statute[("ICE", "(none)", "ambiguous")] == 2
    for acc in report.rows:
        label = acc.statute or "(none)"
        assert by_statute[(acc.agency, label, "requests")] == acc.requests
        assert by_statute[(acc.agency, label, "disclosed")] == acc.disclosures
        assert by_statute[(acc.agency, label, "taxpayers")] == acc.taxpayers
    pdf = console.client.get(f"/console/report.pdf?year={year}")
    assert pdf.content.startswith(b"%PDF")
    assert pdf.headers["cache-control"] == "no-store"


def test_report_breaks_outcomes_down_by_agency_and_statute(console: Console) -> None:
    """A batch of another agency citing two statutes (and one row citing none): outcomes,
    reasons, requests and disclosures per (agency, statute), equal to the accounting."""
    now = datetime.now(UTC)
    template = console.state.find_batch("B-NEW")
    assert template is not None
    console.state.create_batch(replace(template, batch_id="B-HSI", agency="HSI", created_at=now))
    removal, reentry = "8 U.S.C. 1253(a)(1)", "8 U.S.C. 1326(a)"
    kinds = [  # row: (disposition, outcome, codes, statute)
        ("disclosed", "DISCLOSED", "", reentry),
        ("pending", "REVIEW", "", reentry),
        ("unmatched", "AMBIGUOUS", "", removal),
        ("unmatched", "NO_MATCH", "", removal),
        ("rejected", None, "R01", removal),
        ("rejected", None, "R01;R05", None),
    ]
    decisions = [
        DecisionRow(
            "B-HSI",
            n,
            f"REQ-HSI-{n}",
            d,
            o,
            c,
            "",
            "D-HSI-1" if n == 1 else None,
            None if o is None else 0.9,
            None,
            s,
        )
        for n, (d, o, c, s) in enumerate(kinds, start=1)
    ]
    subject = SubjectRow("D-HSI-1", "B-HSI", 1, "900000001", reentry, "case", "zip")
    console.state.record_decisions(
        "B-HSI", [cells_of(d) for d in decisions], chunk=1, subjects=[subject]
    )
    console.state.write_request_counts("B-HSI", {reentry: 2, removal: 3, "": 1})
    assert console.state.verify_ledger().ok

    console.login("ada")
    year = now.year
    page = console.client.get(f"/console/report?year={year}&agency=HSI")
    assert page.status_code == 200
    table = page.text[page.text.index('id="statutes"') : page.text.index('id="rejections"')]
    for statute in (removal, reentry, "(none)"):
        assert statute in table
    assert "ICE" not in table
    assert page.text.count("<svg") == 2  # bars by agency and statute, the monthly series
    rows = list(
        csv.DictReader(
            io.StringIO(console.client.get(f"/console/report.csv?year={year}&agency=HSI").text)
        )
    )
    got = {(r["statute"], r["key"]): int(r["value"]) for r in rows if r["section"] == "statute"}
    assert {k: v for k, v in got.items() if k[0] == reentry} == {
        (reentry, "requests"): 2,
        (reentry, "rejected"): 0,
        (reentry, "not_matched"): 0,
        (reentry, "ambiguous"): 0,
        (reentry, "pending_review"): 1,
        (reentry, "disclosed"): 1,
        (reentry, "taxpayers"): 1,
    }
    assert got[(removal, "requests")] == 3
    assert (got[(removal, "ambiguous")], got[(removal, "not_matched")]) == (1, 1)
    assert got[(removal, "rejected")] == 1
    assert (got[("(none)", "requests")], got[("(none)", "rejected")]) == (1, 1)
    reasons = {
        (r["statute"], r["key"]): int(r["value"])
        for r in rows
        if r["section"] == "statute_rejections"
    }
    assert reasons == {(removal, "R01"): 1, ("(none)", "R01"): 1, ("(none)", "R05"): 1}
    agency = {r["key"]: int(r["value"]) for r in rows if r["section"] == "agency"}
    assert (agency["requests"], agency["rejected"], agency["disclosed"]) == (6, 2, 1)
    # the accounting report's (agency, statute) figures, row for row
    report = annual_report(console.store, year, database_url=console.settings.database_url)
    hsi = [r for r in report.rows if r.agency == "HSI"]
    assert len(hsi) == 3
    for acc in hsi:
        label = acc.statute or "(none)"
        figures = [got[(label, k)] for k in ("requests", "disclosed", "taxpayers")]
        assert figures == [acc.requests, acc.disclosures, acc.taxpayers]
    pdf = console.client.get(f"/console/report.pdf?year={year}&agency=HSI")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")


def test_cli_officer_add(tmp_path: Path) -> None:
    store = tmp_path / "s"
    runner = CliRunner()
    assert runner.invoke(main, ["store", "init", "--store", str(store)]).exit_code == 0
    r = runner.invoke(
        main,
        ["officer", "add", "kim", "--role", "auditor", "--store", str(store)],
        input="a long password here\n",
    )
    assert r.exit_code == 0, r.output
    assert "a long password" not in r.output
    r = runner.invoke(
        main,
        ["officer", "add", "kim", "--role", "auditor", "--store", str(store)],
        input="a long password here\n",
    )
    assert r.exit_code != 0
    assert "already exists" in r.output
    r = runner.invoke(
        main, ["officer", "add", "lee", "--role", "auditor", "--store", str(store)], input="short\n"
    )
    assert r.exit_code != 0
    assert "at least 12" in r.output


def test_taxmatch_serve_mounts_the_console(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from taxmatch.api.app import create_app
    from taxmatch.api.settings import ApiSettings
    from taxmatch.store.state import StateStore

    StateStore.open(tmp_path / "s", create=True).close()  # serve opens an existing store
    app = create_app(ApiSettings(store=tmp_path / "s", worker_threads=0))
    with TestClient(app) as client:
        r = client.get("/console/", follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"] == "/console/login"
        page = client.get("/console/login")
        assert 'action="/console/login"' in page.text
        assert page.headers["cache-control"] == "no-store"


def test_accounting_shows_only_disclosures_of_sealed_batches(console: Console) -> None:
    """Subject rows of a batch whose package was never sealed (as earlier versions wrote
    them, with the decisions, for a batch then failed or killed) are not disclosures made:
    the console's accounting lookup, the accounting report and the transparency report
    leave them out."""
    template = console.state.find_batch("B-NEW")
    assert template is not None
    tin = "900000003"
    for batch_id, status in (("B-SEALED", "done"), ("B-FAILED", "failed"), ("B-KILLED", "running")):
        console.state.create_batch(
            replace(template, batch_id=batch_id, status=status, created_at=datetime.now(UTC))
        )
        decision = DecisionRow(
            batch_id,
            1,
            f"REQ-{batch_id}-1",
            "disclosed",
            "DISCLOSED",
            "",
            "",
            f"D-{batch_id}-1",
            0.9999,
            None,
            "8 U.S.C. 1326(a)",
        )
        subject = SubjectRow(
            f"D-{batch_id}-1", batch_id, 1, tin, "8 U.S.C. 1326(a)", f"reason for {batch_id}", "zip"
        )
        console.state.record_decisions(batch_id, [cells_of(decision)], chunk=1, subjects=[subject])
    console.login("ada")
    page = console.post("/console/accounting", tin=tin).text  # type: ignore[attr-defined]
    assert "1 disclosure(s) about this taxpayer" in page
    assert "D-B-SEALED-1" in page
    assert "D-B-FAILED-1" not in page
    assert "D-B-KILLED-1" not in page
    report = annual_report(
        console.store, datetime.now(UTC).year, database_url=console.settings.database_url
    )
    assert (report.totals["disclosures"], report.totals["taxpayers"]) == (1, 1)
    csv_text = console.client.get(f"/console/report.csv?year={datetime.now(UTC).year}").text
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    totals = {r["key"]: int(r["value"]) for r in rows if r["section"] == "total"}
    assert totals["disclosures"] == 1
    months = sum(
        int(r["value"])
        for r in rows
        if r["section"] == "month" and r["key"].endswith("disclosures")
    )
    assert months == 1


def test_review_page_shows_the_request_beside_the_candidates(console: Console) -> None:
    import duckdb

    work = console.store / "work" / "B-OLD"
    work.mkdir(parents=True)
    with duckdb.connect(str(work / "work.duckdb")) as con:
        con.execute(
            "CREATE TABLE records (row_number BIGINT, first_name VARCHAR, middle_name VARCHAR,"
            " last_name VARCHAR, suffix VARCHAR, house_number VARCHAR, street VARCHAR,"
            " unit VARCHAR, po_box VARCHAR, city VARCHAR, state VARCHAR, zip5 VARCHAR,"
            " tax_periods INTEGER[], date_of_birth DATE, tin VARCHAR)"
        )
        con.execute(
            "INSERT INTO records VALUES (3, 'ZED', NULL, '<b>QUILL</b>', NULL, '12', 'ELM ST',"
            " NULL, NULL, 'SPRINGFIELD', 'IL', '62701', [2023, 2024], DATE '1980-02-03',"
            " '900001234')"
        )
    console.login("olive")
    page = console.client.get("/console/review/B-OLD/3").text
    table = page[page.index('id="request"') : page.index("</table>", page.index('id="request"'))]
    assert "ZED &lt;b&gt;QUILL&lt;/b&gt;" in table  # escaped
    assert "12 ELM ST, SPRINGFIELD, IL, 62701" in table
    assert "1980-02-03" in table
    assert "2023; 2024" in table
    assert "***-**-1234" in table
    assert "900001234" not in page
    assert _events(console, "console_view")[-1].object_id == "B-OLD#3"
    # A row without a workspace says so instead.
    assert "no longer available" in console.client.get("/console/review/B-NEW/3").text


def _held_summary(package: Path) -> None:
    """A done batch's summary.json whose shadow probes put it under an accuracy hold."""
    rate = {"estimate": 0.03, "low": 0.02, "high": 0.045}
    summary = {
        **SUMMARY_DOC,  # a valid summary, with this batch's id and probes
        "batch_id": package.name,
        "accuracy_estimate": {
            "probes": 2000,
            "wrong_person_rate": rate,
            "wrong_address_rate": rate,
            "recall": {"estimate": 0.9, "low": 0.88, "high": 0.92},
            "model_expected_wrong": 0.25,
        },
        "accuracy_hold": {
            "reason": "estimated precision 0.9700 is below the policy floor",
            "min_precision": 0.99,
            "estimated_precision": 0.97,
        },
    }
    package.mkdir(parents=True)
    (package / "summary.json").write_text(json.dumps(summary), encoding="utf-8")


def test_batch_page_shows_the_estimate_and_a_hold_needs_a_supervisor(console: Console) -> None:
    _held_summary(console.store / "out" / "B-NEW")
    console.login("olive")
    page = console.client.get("/console/batches/B-NEW").text
    assert "2000 shadow probes" in page
    assert "3.00 %" in page  # the wrong-address estimate
    assert "2.00 – 4.50 %" in page
    assert (
        "Held for a supervisor&#39;s release" in page or "Held for a supervisor's release" in page
    )
    assert "accuracy hold" in page  # the two-person rule, though the batch is small
    assert "under an accuracy hold" not in console.client.get("/console/batches/B-OLD").text
