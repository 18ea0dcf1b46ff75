"""``ledger verify``, ``ledger export-head`` and ``accounting …`` on a real batch, on SQLite
and PostgreSQL (``state_url`` via ``TAXMATCH_DATABASE_URL``)."""

from __future__ import annotations

import csv
import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from taxmatch.cli import main
from taxmatch.disclose.package import read_summary
from taxmatch.store.state import StateStore
from tests.integration.conftest import request_row

from .conftest import ANH, MARIA, invoke


def test_verify_prints_the_head_that_the_summary_points_into(
    ran: tuple[Path, str, Path], cli_env: str
) -> None:
    store, _batch_id, package = ran
    result = invoke("ledger", "verify", "--store", str(store))
    assert result.exit_code == 0
    with StateStore(cli_env) as state, state.reading("test") as conn:
        entries = list(state.iter_ledger())
        head = state.ledger_head()
        groups = conn.execute(text("SELECT count(*) FROM group_counts")).scalar_one()
    first, second = result.output.strip().splitlines()
    assert first == f"ledger ok: {head[0]} entries, 3 decisions re-hashed, head {head[1]}"
    # the batch row, 1 request count, 2 accounting rows and the counts by coverage group
    assert groups > 0
    assert second == f"{4 + groups} bound rows re-hashed; head signature ok"
    # summary.json's ledger head: everything up to decisions_recorded and coverage_counted;
    # package_delivered (which carries the manifest hash, and so the summary's) is the entry
    # right after it.
    recorded = read_summary(package)["ledger_head"]
    after = entries[recorded["seq"]]
    assert entries[recorded["seq"] - 2].event_type == "decisions_recorded"
    assert entries[recorded["seq"] - 1].event_type == "coverage_counted"
    assert entries[recorded["seq"] - 1].entry_hash == recorded["hash"]
    assert (after.event_type, after.prev_hash) == ("package_delivered", recorded["hash"])
    kinds = [e.event_type for e in entries]
    assert kinds[:2] == ["config_changed", "config_changed"]  # reference, then policy
    assert [e.object_id for e in entries[:2]] == ["reference", "policy"]
    assert entries[0].actor
    assert entries[0].origin.startswith("cli@")
    assert "disclosure" not in kinds  # the two disclosures: one chunk, bound by one entry
    (chunk,) = [e for e in entries if e.event_type == "disclosures"]
    assert (chunk.payload["first_row"], chunk.payload["bound_disclosures_rows"]) == (1, 2)
    assert kinds[kinds.index("package_delivered") :][:3] == [
        "package_delivered",
        "disclosures",
        "disclosures_sealed",
    ]
    assert kinds.count("decisions") == 1
    for entry in entries:
        assert MARIA not in repr(entry)
        assert ANH not in repr(entry)


def test_tampered_decision_fails_verify_and_blocks_export(
    ran: tuple[Path, str, Path], cli_env: str
) -> None:
    store, batch_id, _ = ran
    engine = create_engine(cli_env)
    with engine.begin() as conn:
        conn.execute(text("UPDATE decisions SET outcome = 'NO_MATCH' WHERE row_number = 1"))
    engine.dispose()
    with StateStore(cli_env) as state:
        chunk = next(e for e in state.iter_ledger() if e.event_type == "decisions")
    result = CliRunner().invoke(main, ["ledger", "verify", "--store", str(store)])
    assert result.exit_code == 5
    assert result.stderr.strip() == (
        f"taxmatch: ledger verification FAILED at entry {chunk.seq}: decisions of batch "
        f"{batch_id} chunk 1 (rows 1-3) do not match the ledger"
    )
    export = invoke("ledger", "export-head", "--store", str(store))
    assert export.exit_code == 5
    assert "head not exported" in export.output


def test_a_changed_group_count_fails_verify(ran: tuple[Path, str, Path], cli_env: str) -> None:
    store, batch_id, _ = ran
    engine = create_engine(cli_env)
    with engine.begin() as conn:  # the append-only triggers off, as an attacker would
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER group_counts_no_update")
        else:
            conn.exec_driver_sql("ALTER TABLE group_counts DISABLE TRIGGER USER")
        conn.execute(text("UPDATE group_counts SET n = n + 1 WHERE grp = 'ssn'"))
    engine.dispose()
    with StateStore(cli_env) as state:
        counted = next(e for e in state.iter_ledger() if e.event_type == "coverage_counted")
    result = CliRunner().invoke(main, ["ledger", "verify", "--store", str(store)])
    assert result.exit_code == 5
    assert result.stderr.strip() == (
        f"taxmatch: ledger verification FAILED at entry {counted.seq}: group_counts rows of "
        f"batch {batch_id} do not match the ledger"
    )


def test_export_head_for_a_witness(ran: tuple[Path, str, Path], tmp_path: Path) -> None:
    store = ran[0]
    shown = invoke("ledger", "export-head", "--store", str(store))
    doc = json.loads(shown.output)
    assert set(doc) == {"schema", "seq", "hash", "utc", "entries"}
    assert doc["schema"] == "taxmatch/ledger-head/v1"
    assert doc["entries"] == doc["seq"] > 0
    assert datetime.strptime(doc["utc"], "%Y-%m-%dT%H:%M:%S.%fZ")
    out = tmp_path / "head.json"
    written = invoke("ledger", "export-head", "--store", str(store), "--out", str(out))
    assert written.exit_code == 0
    assert doc["hash"] in written.output
    assert {k: v for k, v in json.loads(out.read_text()).items() if k != "utc"} == {
        k: v for k, v in doc.items() if k != "utc"
    }


def test_accounting_taxpayer_lists_each_disclosure(
    ran: tuple[Path, str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store, batch_id, _ = ran
    result = invoke(
        "accounting", "taxpayer", "--store", str(store), "--tin", "123-45-6789", "--json"
    )
    (doc,) = json.loads(result.output)
    assert (doc["batch_id"], doc["agency"], doc["statute"]) == (
        batch_id,
        "ICE",
        "8 U.S.C. 1253(a)(1)",
    )
    assert doc["relevance"] == request_row(1)["relevance"]
    assert doc["fields"] == ["street_address", "unit", "city", "state", "zip", "tax_year"]
    assert doc["disclosure_id"].startswith("D")
    text_out = invoke("accounting", "taxpayer", "--store", str(store), "--tin", MARIA).output
    assert text_out.startswith("1 disclosures about this taxpayer")
    assert doc["disclosure_id"] in text_out
    nobody = invoke("accounting", "taxpayer", "--store", str(store), "--tin", "999999999")
    assert nobody.output.startswith("0 disclosures")
    bad = CliRunner().invoke(
        main, ["accounting", "taxpayer", "--store", str(store), "--tin", "12345678X"]
    )
    assert bad.exit_code == 2
    assert "12345678X" not in bad.output
    assert MARIA not in caplog.text


def test_accounting_batch_writes_disclosure_ids_and_tins(
    ran: tuple[Path, str, Path], tmp_path: Path
) -> None:
    store, batch_id, package = ran
    out = tmp_path / "acc.csv"
    result = invoke("accounting", "batch", "--store", str(store), batch_id, "--out", str(out))
    assert result.exit_code == 0
    assert "2 disclosures" in result.output
    with out.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    with (package / "disclosed.csv").open(newline="") as fh:
        disclosed = [r["disclosure_id"] for r in csv.DictReader(fh)]
    assert [r["disclosure_id"] for r in rows] == disclosed
    assert [r["tin"] for r in rows] == [MARIA, ANH]
    missing = invoke("accounting", "batch", "--store", str(store), "BNOPE", "--out", str(out))
    assert missing.exit_code == 4
    assert "BNOPE" in missing.output


def test_accounting_report_counts_the_year(ran: tuple[Path, str, Path]) -> None:
    store = ran[0]
    year = datetime.now(UTC).year
    doc = json.loads(
        invoke("accounting", "report", "--store", str(store), "--year", str(year), "--json").output
    )
    assert doc["schema"] == "taxmatch/accounting-report/v1"
    assert (doc["batches"], doc["requests"], doc["disclosures"], doc["taxpayers"]) == (1, 3, 2, 2)
    assert doc["by_agency"] == {"ICE": {"requests": 3, "disclosures": 2, "taxpayers": 2}}
    assert doc["by_agency_statute"] == [
        {
            "agency": "ICE",
            "statute": "8 U.S.C. 1253(a)(1)",
            "requests": 3,
            "disclosures": 2,
            "taxpayers": 2,
        }
    ]
    other = json.loads(
        invoke(
            "accounting", "report", "--store", str(store), "--year", str(year - 1), "--json"
        ).output
    )
    assert (other["requests"], other["disclosures"], other["by_agency_statute"]) == (0, 0, [])
    table = invoke("accounting", "report", "--store", str(store), "--year", str(year)).output
    assert f"{year}: 3 requests in 1 batches, 2 disclosures, 2 taxpayers" in table
    # then the year's coverage by group: Maria's and Anh's requests are SSN filers'
    assert f"Coverage by group, batches received in {year}" in table
    ssn = next(line for line in table.splitlines() if "SSN filers" in line).split("│")
    assert [cell.strip() for cell in ssn[2:4]] == ["2", "2"]  # rows, disclosed
    assert "ITIN filers" in table
    assert "batches flagged" in table


def _forge_append(url: str) -> None:
    """Append a correctly linked and hashed entry and move the head to it, as someone with
    write access to the database but not the ledger key would."""
    from taxmatch.ledger.chain import LedgerDraft, link

    engine = create_engine(url)
    with engine.begin() as conn:
        seq, head = conn.execute(text("SELECT seq, entry_hash FROM ledger_head")).one()
        forged = link(
            LedgerDraft("disclosure", "mallory", "cli", True, "D-FORGED"),
            seq=seq + 1,
            prev_hash=head,
            recorded_at="2026-12-01T00:00:00.000000Z",
        )
        conn.execute(
            text(
                "INSERT INTO ledger_entries VALUES (:s, 'taxmatch/ledger/v1', :r, "
                "'disclosure', 'mallory', 'cli', true, 'D-FORGED', '{}', :p, :h)"
            ),
            {"s": forged.seq, "r": forged.recorded_at, "p": head, "h": forged.entry_hash},
        )
        conn.execute(
            text("UPDATE ledger_head SET seq = :s, entry_hash = :h"),
            {"s": forged.seq, "h": forged.entry_hash},
        )
    engine.dispose()


def test_a_forged_head_fails_its_signature(ran: tuple[Path, str, Path], cli_env: str) -> None:
    store = ran[0]
    _forge_append(cli_env)
    result = CliRunner().invoke(main, ["ledger", "verify", "--store", str(store)])
    assert result.exit_code == 5
    with StateStore(cli_env) as state:
        seq = state.ledger_head()[0]
    assert result.stderr.strip() == (
        f"taxmatch: ledger verification FAILED at entry {seq}: the ledger head's signature "
        "does not match (head moved without the ledger key)"
    )


def test_verify_holds_the_ledger_to_a_witness(
    ran: tuple[Path, str, Path], cli_env: str, tmp_path: Path
) -> None:
    store = ran[0]
    witness = tmp_path / "head.json"
    assert (
        invoke("ledger", "export-head", "--store", str(store), "--out", str(witness)).exit_code == 0
    )
    held = invoke("ledger", "verify", "--store", str(store), "--witness", str(witness))
    assert held.output.strip().endswith("head signature ok; the witnessed head is held")
    seq = json.loads(witness.read_text())["seq"]
    # truncation: the last entries deleted and the head moved back (triggers off, as an
    # attacker would); the head signature is left alone and fails too, the witness first
    engine = create_engine(cli_env)
    with engine.begin() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            conn.exec_driver_sql("DROP TRIGGER ledger_entries_no_delete")
            conn.exec_driver_sql("DROP TRIGGER ledger_head_forward_only")
        else:
            conn.exec_driver_sql("ALTER TABLE ledger_entries DISABLE TRIGGER USER")
            conn.exec_driver_sql("ALTER TABLE ledger_head DISABLE TRIGGER USER")
        conn.execute(text("DELETE FROM ledger_entries WHERE seq >= :s"), {"s": seq - 1})
        (head,) = conn.execute(
            text("SELECT entry_hash FROM ledger_entries WHERE seq = :s"), {"s": seq - 2}
        ).one()
        conn.execute(
            text("UPDATE ledger_head SET seq = :s, entry_hash = :h"), {"s": seq - 2, "h": head}
        )
    engine.dispose()
    short = CliRunner().invoke(
        main, ["ledger", "verify", "--store", str(store), "--witness", str(witness)]
    )
    assert short.exit_code == 5
    assert short.stderr.strip() == (
        f"taxmatch: ledger verification FAILED at entry {seq - 1}: the ledger is shorter than "
        "the witnessed head (entries removed)"
    )


def test_a_rewritten_chain_differs_from_the_witness(
    ran: tuple[Path, str, Path], cli_env: str, tmp_path: Path
) -> None:
    store = ran[0]
    witness = tmp_path / "head.json"
    doc = json.loads(invoke("ledger", "export-head", "--store", str(store)).output)
    doc["hash"] = "0" * 64  # as if the entry at seq had been rewritten since it was witnessed
    witness.write_text(json.dumps(doc))
    result = CliRunner().invoke(
        main, ["ledger", "verify", "--store", str(store), "--witness", str(witness)]
    )
    assert result.exit_code == 5
    assert result.stderr.strip() == (
        f"taxmatch: ledger verification FAILED at entry {doc['seq']}: the entry differs from "
        "the witnessed head (chain rewritten)"
    )


def test_a_witness_of_an_unknown_version_is_refused(
    ran: tuple[Path, str, Path], tmp_path: Path
) -> None:
    store = ran[0]
    doc = json.loads(invoke("ledger", "export-head", "--store", str(store)).output)
    witness = tmp_path / "head.json"
    witness.write_text(json.dumps({**doc, "schema": "taxmatch/ledger-head/v2"}))
    result = CliRunner().invoke(
        main, ["ledger", "verify", "--store", str(store), "--witness", str(witness)]
    )
    assert result.exit_code == 2
    assert "unknown version" in result.output
    assert str(witness) in result.output


def test_batch_show_gives_the_summary_and_its_accuracy_estimate(
    ran: tuple[Path, str, Path], cli_env: str
) -> None:
    store, batch_id, package = ran
    shown = invoke("batch", "show", "--store", str(store), batch_id, "--json")
    assert shown.exit_code == 0
    assert json.loads(shown.output) == read_summary(package)
    assert read_summary(package)["accuracy_estimate"]["probes"] > 0
    assert "coverage" in json.loads(shown.output)  # by group, tests/cli/test_coverage.py
    text = invoke("batch", "show", "--store", str(store), batch_id).output
    assert f"batch {batch_id}: 3 input rows" in text
    assert "shadow probes)" in text
    assert "wrong address rate" in text
    assert "model's expected false matches among disclosures" in text
    assert MARIA not in text
    missing = CliRunner().invoke(main, ["batch", "show", "--store", str(store), "B" + "0" * 20])
    assert missing.exit_code == 4
    assert "not found" in missing.output
