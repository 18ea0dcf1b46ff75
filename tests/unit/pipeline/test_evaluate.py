"""Evaluation of a response package against known truth: hand-built truth and packages.

One small batch covers every class of row: a right disclosure, a wrong person, the right
person at an old address, the right address of the wrong person, rejections with equal
and different codes, a miss, a generated id, a repeated truth id, a truth row the package
lacks and a package row the truth lacks. It is judged twice: by address only, and with a
state database holding the decisions' person keys.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from taxmatch.cli import main
from taxmatch.cli.evaluate_tables import render_evaluation
from taxmatch.contracts import (
    DISCLOSED_COLUMNS,
    PACKAGE_SCHEMA,
    PENDING_COLUMNS,
    REJECTED_COLUMNS,
    TRUTH_COLUMNS,
    UNMATCHED_COLUMNS,
)
from taxmatch.errors import BatchNotFound, InputFileError, PackageError, StoreError
from taxmatch.ledger.digest import keyed_hash
from taxmatch.pipeline.evaluate import address_key, evaluate_package
from taxmatch.pipeline.evaluate_result import evaluation_dict
from taxmatch.store.state import BatchRow, DecisionRow, StateStore

BATCH = "Bfeedfacecafe00aa11bb"
SEATTLE = ("Seattle", "WA", "98101")

# request_id, tin, expected, codes, street, unit, (city, state, zip), year, stratum, person_tins
TruthRow = tuple[str, str, str, str, str, str, tuple[str, str, str], str, str, str]
TRUTH: list[TruthRow] = [
    ("REQ-1", "123456789", "DISCLOSED", "", "12 N Main St", "Apt 4", SEATTLE, "2025",
     "ssn;mover", ""),
    ("REQ-2", "223456789", "DISCLOSED", "", "410 Oak Avenue", "", ("Spokane", "WA", "99201"),
     "2025", "ssn;household_member", ""),
    ("REQ-3", "", "NO_MATCH", "", "", "", ("", "", ""), "", "itin;not_in_master", ""),
    ("REQ-4", "323456789", "DISCLOSED", "", "5 Birch Rd", "", ("Boise", "ID", "83702"),
     "2025", "ssn;compound_surname", "323-45-6780"),
    ("REQ-5", "423456789", "DISCLOSED", "", "1 Lake Dr", "", ("Miami", "FL", "33101"), "2025",
     "ssn;household_member", ""),
    ("REQ-6", "", "REJECTED", "R01;R03", "", "", ("", "", ""), "", "invalid", ""),
    ("REQ-7", "", "REJECTED", "R04", "", "", ("", "", ""), "", "invalid", ""),
    ("REQ-8", "523456789", "DISCLOSED", "", "9 Elm St", "", ("Houston", "TX", "77002"), "2025",
     "noisy_request", ""),
    ("REQ-9", "", "NO_MATCH", "", "", "", ("", "", ""), "", "not_in_master", ""),
    ("REQ-10", "623456789", "NO_FILING_IN_PERIOD", "", "", "", ("", "", ""), "",
     "duplicate_first", ""),
    ("REQ-10", "", "REJECTED", "R10", "", "", ("", "", ""), "", "invalid", ""),
    ("REQ-11", "723456789", "NO_MATCH", "", "", "", ("", "", ""), "", "", ""),
]  # fmt: skip

DISCLOSED = [
    ("REQ-1", "12 NORTH MAIN STREET", "APT 4", "SEATTLE", "WA", "98101"),  # right
    ("REQ-2", "PINE ST", "APT 2", "TACOMA", "WA", "98402"),  # right person, old, incomplete
    ("REQ-3", "9 ELM ST", "", "HOUSTON", "TX", "77002"),  # nobody to find: wrong person
    ("REQ-4", "5 BIRCH RD", "", "BOYSE", "ID", "83702-1234"),  # right (city spelling varies)
    ("REQ-5", "1 LAKE DR", "", "MIAMI", "FL", "33101"),  # right address, wrong person
]
# Person keys the store records for the disclosures: the TIN the decision chose.
DECIDED_TINS = {
    "REQ-1": "123456789",
    "REQ-2": "223456789",
    "REQ-3": "923456789",
    "REQ-4": "323456780",
    "REQ-5": "999999999",
}


def write_csv(path: Path, header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def write_truth(path: Path, rows: Sequence[TruthRow] | None = None) -> Path:
    out = []
    for rid, tin, exp, codes, street, unit, (city, state, zip_), year, strata, more in (
        rows if rows is not None else TRUTH
    ):
        out.append((rid, tin, exp, codes, street, unit, city, state, zip_, year, strata, more))
    return write_csv(path, TRUTH_COLUMNS, out)


def write_package(
    root: Path,
    disclosed: list[tuple[str, ...]] | None = None,
    rejected: list[tuple[str, ...]] | None = None,
    unmatched: list[tuple[str, ...]] | None = None,
    pending: list[tuple[str, ...]] | None = None,
) -> Path:
    package = root / BATCH
    package.mkdir(parents=True)
    (package / "summary.json").write_text(
        json.dumps({"schema": PACKAGE_SCHEMA, "batch_id": BATCH}), encoding="utf-8"
    )
    rows = [(*d, "2025", "1.000000") for d in (DISCLOSED if disclosed is None else disclosed)]
    write_csv(package / "disclosed.csv", DISCLOSED_COLUMNS, [(r[0], "D1", *r[1:]) for r in rows])
    write_csv(
        package / "rejected.csv",
        REJECTED_COLUMNS,
        rejected
        if rejected is not None
        else [
            ("REQ-6", "R03;R01", "first_name"),
            ("REQ-7", "R04;R09", "tax_periods"),
            ("#row-12", "R10", "request_id"),
        ],
    )
    write_csv(
        package / "unmatched.csv",
        UNMATCHED_COLUMNS,
        unmatched
        if unmatched is not None
        else [("REQ-8", "NO_MATCH"), ("REQ-10", "AMBIGUOUS"), ("REQ-99", "NO_MATCH")],
    )
    write_csv(package / "pending.csv", PENDING_COLUMNS, pending or [("REQ-9",)])
    return package


@pytest.fixture
def batch_files(tmp_path: Path) -> tuple[Path, Path]:
    return write_truth(tmp_path / "truth.csv"), write_package(tmp_path / "out")


def make_store(root: Path, tins: dict[str, str]) -> Path:
    with StateStore.open(root, create=True) as state:
        state.create_batch(
            BatchRow(
                batch_id=BATCH,
                agency="ICE",
                request_letter_id="LTR-1",
                input_sha256="a" * 64,
                envelope_sha256="b" * 64,
                policy_version="2026.1",
                policy_sha256="c" * 64,
                input_rows=13,
                status="done",
                created_at=datetime(2026, 11, 30, tzinfo=UTC),
                finished_at=None,
                counts={},
                package_dir=str(root),
                as_of=date(2026, 11, 30),
                matcher="exact",
                reference_id="ref-1",
                error_code=None,
            )
        )
        key = state.ledger_key()
        rows = [
            DecisionRow(BATCH, n, rid, "disclosed", "DISCLOSED", "", "", f"D{n}", 1.0, None)
            for n, rid in enumerate(tins, start=1)
        ]
        state.record_decisions(
            BATCH,
            [replace(d, person_key=keyed_hash(key, tins[d.request_id])) for d in rows],
            chunk=1,
        )
    return root


def test_address_key_normalises_both_sides_and_ignores_city() -> None:
    assert address_key("12 N Main St", "Apt 4", "98101") == address_key(
        "12 NORTH MAIN STREET", "APT 4", "98101-0001"
    )
    assert address_key("9490 Fort Hill Rd", "", "19134") == address_key(
        "9490 FT HILL RD", "", "19134"
    )
    assert address_key("508 Sixth St", "", "27601") == address_key("508 6TH ST", "", "27601")
    assert address_key("11 Twelfth Ave", "", "27601") == address_key("11 12TH AVE", "", "27601")
    assert address_key("12 N Main St", "Apt 4", "98101") != address_key(
        "12 N Main St", "Apt 5", "98101"
    )


def test_address_only_judgement(batch_files: tuple[Path, Path]) -> None:
    ev = evaluate_package(*batch_files)
    m = ev.overall
    assert ev.batch_id == BATCH
    assert ev.person_check == "address"
    assert (m.rows, m.disclosed, m.right, m.findable) == (11, 5, 3, 5)
    assert m.wrong_person == 1  # REQ-3: nobody in the master file to find
    assert m.right_person_not_latest is None
    assert m.right_address_wrong_person is None
    assert m.unattributed == 1  # REQ-2: wrong address, person unknown without a store
    assert m.precision == pytest.approx(3 / 5)
    assert m.wrong_address_rate == pytest.approx(2 / 5)
    assert m.wrong_person_rate == pytest.approx(1 / 5)
    assert m.recall == pytest.approx(3 / 5)
    assert m.pending == 1
    assert m.incomplete == 1  # REQ-2: no house number
    assert (m.expected_rejected, m.rejected, m.both_rejected, m.codes_equal) == (2, 2, 2, 1)
    assert m.code_agreement == pytest.approx(1 / 2)


def test_unjoinable_rows_are_counted_apart(batch_files: tuple[Path, Path]) -> None:
    ev = evaluate_package(*batch_files)
    assert ev.generated_ids == {"REJECTED": 1}
    assert ev.truth_unjoinable == 1  # the second REQ-10
    assert ev.truth_not_in_package == 1  # REQ-11
    assert ev.package_not_in_truth == 1  # REQ-99
    assert ev.confusion["NO_MATCH"] == {"DISCLOSED": 1, "MISSING": 1, "REVIEW": 1}
    assert ev.confusion["NO_FILING_IN_PERIOD"] == {"AMBIGUOUS": 1}
    assert ev.confusion["DISCLOSED"] == {"DISCLOSED": 4, "NO_MATCH": 1}
    assert ev.reason_codes["R04"].expected == 1
    assert ev.reason_codes["R09"].reported == 1
    assert ev.reason_codes["R01"].both == 1


def test_strata(batch_files: tuple[Path, Path]) -> None:
    strata = evaluate_package(*batch_files).strata
    assert set(strata) == {
        *("ssn", "mover", "household_member", "itin", "not_in_master", "compound_surname"),
        *("invalid", "noisy_request", "duplicate_first"),
    }
    assert (strata["ssn"].rows, strata["ssn"].disclosed, strata["ssn"].right) == (4, 4, 3)
    hm = strata["household_member"]
    assert (hm.disclosed, hm.right, hm.precision) == (2, 1, 0.5)
    assert strata["itin"].wrong_person == 1
    assert strata["noisy_request"].recall == 0.0
    assert strata["invalid"].rejected == 2
    assert strata["invalid"].disclosed == 0


def test_person_keys_from_the_store(batch_files: tuple[Path, Path], tmp_path: Path) -> None:
    store = make_store(tmp_path / "store", DECIDED_TINS)
    ev = evaluate_package(*batch_files, store=store)
    m = ev.overall
    assert ev.person_check == "store"
    assert m.right == 3
    assert m.wrong_person == 2  # REQ-3 (not in master) and REQ-5 (another TIN)
    assert m.right_person_not_latest == 1  # REQ-2
    assert m.right_address_wrong_person == 1  # REQ-5
    assert m.unattributed == 0  # REQ-4 matched through its second TIN, any format
    assert ev.strata["household_member"].wrong_person == 1


def test_store_without_the_batch_or_database(
    batch_files: tuple[Path, Path], tmp_path: Path
) -> None:
    with pytest.raises(StoreError):
        evaluate_package(*batch_files, store=tmp_path / "nowhere")
    StateStore.open(tmp_path / "empty", create=True).close()
    with pytest.raises(BatchNotFound):
        evaluate_package(*batch_files, store=tmp_path / "empty")


def test_zero_denominators_are_null(tmp_path: Path) -> None:
    truth = write_truth(tmp_path / "t.csv", [TRUTH[8]])
    package = write_package(tmp_path / "out", disclosed=[], rejected=[], unmatched=[])
    ev = evaluate_package(truth, package)
    m = ev.overall
    assert (m.rows, m.disclosed, m.precision, m.wrong_address_rate, m.recall) == (
        1,
        0,
        None,
        None,
        None,
    )
    assert m.code_agreement is None
    assert ev.generated_ids == {}
    doc = json.loads(json.dumps(evaluation_dict(ev)))
    assert doc["overall"]["precision"] is None
    assert doc["overall"]["wrong_person_rate"] is None
    assert "n/a" in render_evaluation(ev)


def test_output_carries_no_values(batch_files: tuple[Path, Path], tmp_path: Path) -> None:
    store = make_store(tmp_path / "store", DECIDED_TINS)
    ev = evaluate_package(*batch_files, store=store)
    text = render_evaluation(ev) + json.dumps(evaluation_dict(ev))
    for value in ("MAIN", "Main", "PINE", "BIRCH", "123456789", "323456780", "98101", "Seattle"):
        assert value not in text
    assert "household_member" in text
    assert "wrong_address_rate" in text


def test_bad_truth_names_file_row_and_field_not_value(tmp_path: Path) -> None:
    package = write_package(tmp_path / "out")
    bad = list(TRUTH[:2])
    bad[1] = (*bad[1][:2], "SECRET-OUTCOME", *bad[1][3:])
    truth = write_truth(tmp_path / "t.csv", bad)
    with pytest.raises(InputFileError) as err:
        evaluate_package(truth, package)
    assert "row 2" in str(err.value)
    assert "expected_outcome" in str(err.value)
    assert "SECRET" not in str(err.value)
    short = write_csv(tmp_path / "s.csv", ("request_id", "tin"), [("REQ-1", "123456789")])
    with pytest.raises(InputFileError, match="expected_outcome"):
        evaluate_package(short, package)


def test_package_with_a_repeated_id_is_refused(tmp_path: Path) -> None:
    truth = write_truth(tmp_path / "t.csv")
    package = write_package(tmp_path / "out", unmatched=[("REQ-1", "NO_MATCH")])
    with pytest.raises(PackageError, match="more than one row"):
        evaluate_package(truth, package)


def test_cli_json(batch_files: tuple[Path, Path], tmp_path: Path) -> None:
    truth, package = batch_files
    store = make_store(tmp_path / "store", DECIDED_TINS)
    args = ["evaluate", "--truth", str(truth), "--package", str(package)]
    result = CliRunner().invoke(main, [*args, "--store", str(store), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["person_check"] == "store"
    assert doc["overall"]["wrong_person"] == 2
    table = CliRunner().invoke(main, args)
    assert table.exit_code == 0
    assert "address only" in table.output


def test_recall_counts_only_rows_truth_says_to_disclose() -> None:
    from taxmatch.contracts import Outcome
    from taxmatch.pipeline.evaluate_result import RowResult, metrics, tally

    counts: Counter[str] = Counter()
    # A right address on a row truth says not to disclose (the requester's address is
    # not on file): it counts for precision, never for recall.
    tally(counts, RowResult("NO_MATCH", Outcome.DISCLOSED, True, "right", True, False))
    tally(counts, RowResult("DISCLOSED", Outcome.DISCLOSED, True, "right", True, False))
    tally(counts, RowResult("DISCLOSED", Outcome.NO_MATCH, False, None, True, False))
    m = metrics(counts, "store")
    assert (m.disclosed, m.right, m.found, m.findable) == (2, 2, 1, 2)
    assert m.precision == 1.0
    assert m.recall == pytest.approx(1 / 2)


def test_the_packages_own_estimate_is_set_beside_the_measured_rates(
    batch_files: tuple[Path, Path],
) -> None:
    truth, package = batch_files
    summary = json.loads((package / "summary.json").read_text(encoding="utf-8"))
    # Measured (address only): wrong person 1/5, wrong address 2/5, recall 3/5.
    summary["accuracy_estimate"] = {
        "probes": 2000,
        "wrong_person_rate": {"estimate": 0.25, "low": 0.1, "high": 0.3},  # covers 0.2
        "wrong_address_rate": {"estimate": 0.01, "low": 0.005, "high": 0.02},  # misses 0.4
        "recall": {"estimate": None, "low": None, "high": None},
        "model_expected_wrong": 0.5,
    }
    (package / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    ev = evaluate_package(truth, package)
    doc = evaluation_dict(ev)
    assert doc["accuracy_estimate"] == summary["accuracy_estimate"]
    assert doc["estimate_covers"] == {
        "wrong_person_rate": True,
        "wrong_address_rate": False,
        "recall": None,
    }
    table = render_evaluation(ev)
    assert "own estimate (2,000 shadow probes)" in table
    assert "NO" in table.split("own estimate")[1]


def test_a_package_without_probes_has_no_estimate(batch_files: tuple[Path, Path]) -> None:
    ev = evaluate_package(*batch_files)
    assert ev.estimate is None
    assert evaluation_dict(ev)["estimate_covers"] == dict.fromkeys(
        ("wrong_person_rate", "wrong_address_rate", "recall")
    )
    assert "own estimate" not in render_evaluation(ev)
