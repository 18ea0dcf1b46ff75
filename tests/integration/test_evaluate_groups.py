"""``taxmatch evaluate`` by coverage group: each truth row grouped with its true person as
subject (as the batch's probes are), beside the package's own coverage figures."""

from __future__ import annotations

import csv
from pathlib import Path

from taxmatch.contracts import TRUTH_COLUMNS
from taxmatch.pipeline.batch import BatchRequest, run_batch
from taxmatch.pipeline.evaluate import evaluate_package
from taxmatch.pipeline.evaluate_result import evaluation_dict, group_covers

from .conftest import AS_OF, CARTER, HOPPER, NGUYEN, request_row, write_envelope, write_requests

ROWS = [
    request_row(1),  # Maria Garcia Lopez: a compound surname, moved in 2023, an apartment
    request_row(2, **NGUYEN),
    request_row(3, **HOPPER),  # moved in 2024 (under a mistyped TIN)
    request_row(4, **CARTER),  # Sr and Jr file at one house
    request_row(5, first_name="Nobody", last_name="Known", street_address="1 Nowhere Rd"),
]
# request id -> the true person's TIN ("": nobody in the master)
TRUE_TINS = {1: "123456789", 2: "423456789", 3: "723456789", 4: "223456789", 5: ""}


def write_truth(path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(TRUTH_COLUMNS))
        w.writeheader()
        for n, tin in TRUE_TINS.items():
            row = dict.fromkeys(TRUTH_COLUMNS, "")
            row.update(request_id=f"REQ-{n:05d}", tin=tin, stratum="any")
            row["expected_outcome"] = "DISCLOSED" if tin else "NO_MATCH"
            w.writerow(row)
    return path


def test_truth_rows_are_grouped_by_their_true_person(model_store: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.sqlite3'}"
    result = run_batch(
        BatchRequest(
            store=model_store,
            requests=write_requests(tmp_path / "requests.csv", ROWS),
            envelope=write_envelope(tmp_path / "envelope.json", request_letter_id="LTR-GROUPS"),
            out=tmp_path / "out",
            as_of=AS_OF,
            database_url=url,
        )
    )
    truth = write_truth(tmp_path / "truth.csv")
    ev = evaluate_package(truth, result.package, store=model_store, database_url=url)

    rows = {name: m.rows for name, m in ev.groups.items()}
    assert rows["compound_surname"] == 1  # Maria
    assert rows["mover"] == 2  # Maria and Grace: two addresses each in the lookback
    assert rows["household"] == 1  # the Carters' house
    assert rows["ssn"] == 4  # every true person in the master; nobody for row 5
    assert "itin" not in rows
    assert ev.groups["ssn"].findable == 4
    # The package's own coverage figures are set beside the measured ones.
    assert ev.coverage is not None
    covered = group_covers(ev)
    assert set(covered) == set(ev.groups)
    assert set(covered["ssn"]) == {"wrong_person_rate", "wrong_address_rate", "recall"}
    doc = evaluation_dict(ev)
    assert isinstance(doc["groups"], dict)
    assert set(doc["groups"]) == set(ev.groups)
    # Without the store, there is nothing to group by.
    assert evaluate_package(truth, result.package).groups == {}
