"""End to end: a batch goes in, a complete package comes out, every row exactly once."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taxmatch.contracts import PACKAGE_SCHEMA, REQUEST_COLUMNS
from taxmatch.disclose.package import read_summary, verify_manifest
from taxmatch.pipeline.batch import BatchRequest, BatchResult, run_batch

from .conftest import AS_OF, read_package, request_row, write_envelope, write_requests


def run(store: Path, tmp: Path, rows: list[dict[str, str]], **env: object) -> BatchResult:
    return run_batch(
        BatchRequest(
            store=store,
            requests=write_requests(tmp / "requests.csv", rows),
            envelope=write_envelope(tmp / "envelope.json", **env),
            out=tmp / "out",
            as_of=AS_OF,
            database_url=f"sqlite:///{tmp / 'state.sqlite3'}",
            matcher="exact",
        )
    )


def by_id(package: Path) -> dict[str, tuple[str, dict[str, str]]]:
    out: dict[str, tuple[str, dict[str, str]]] = {}
    for name, rows in read_package(package).items():
        for row in rows:
            assert row["request_id"] not in out, "a request_id in two files"
            out[row["request_id"]] = (name, row)
    return out


def test_outcomes_of_the_cast(reference_store: Path, tmp_path: Path) -> None:
    rows = [
        request_row(1),  # Maria, older address, periods 2023-24 → latest address in period
        request_row(
            2,
            first_name="John",
            last_name="Carter",
            street_address="410 Oak Ave",
            unit="",
            city="Spokane",
            zip="99201",
        ),  # Jr/Sr, no suffix → AMBIGUOUS
        request_row(
            3,
            first_name="Anh",
            last_name="Nguyen",
            street_address="9 Elm Street",
            unit="",
            city="Houston",
            state="TX",
            zip="77002",
        ),
        request_row(
            4,
            first_name="Robert",
            last_name="Old",
            street_address="5 Birch Rd",
            unit="",
            city="Boise",
            state="ID",
            zip="83702",
        ),  # deceased
        request_row(
            5,
            first_name="Li",
            last_name="Wang",
            street_address="1 Lake Dr",
            unit="",
            city="Miami",
            state="FL",
            zip="33101",
        ),  # no filing in 2023-24
        request_row(6, first_name="Nobody", last_name="Known"),
        request_row(7, first_name=""),
        request_row(8, street_address="UNKNOWN ADDRESS"),
    ]
    result = run(reference_store, tmp_path, rows)
    got = by_id(result.package)
    assert got["REQ-00001"][0] == "disclosed"
    disclosed = got["REQ-00001"][1]
    assert disclosed["street_address"] == "77 PINE ST"
    assert disclosed["unit"] == "APT 2"
    assert (disclosed["city"], disclosed["state"], disclosed["zip"]) == ("TACOMA", "WA", "98402")
    assert disclosed["tax_year"] == "2024"
    assert disclosed["disclosure_id"].startswith("D")
    assert got["REQ-00002"] == ("unmatched", {"request_id": "REQ-00002", "outcome": "AMBIGUOUS"})
    assert got["REQ-00003"][0] == "disclosed"
    assert got["REQ-00004"][1]["outcome"] == "INELIGIBLE"
    assert got["REQ-00005"][1]["outcome"] == "NO_FILING_IN_PERIOD"
    assert got["REQ-00006"][1]["outcome"] == "NO_MATCH"
    assert got["REQ-00007"][1] == {
        "request_id": "REQ-00007",
        "reason_codes": "R01",
        "fields": "first_name",
    }
    assert got["REQ-00008"][1]["reason_codes"] == "R03"
    s = result.summary
    assert s["input_rows"] == 8
    assert s["counts"] == {
        "AMBIGUOUS": 1,
        "DISCLOSED": 2,
        "INELIGIBLE": 1,
        "NO_FILING_IN_PERIOD": 1,
        "NO_MATCH": 1,
        "REJECTED": 2,
    }
    assert s["reason_codes"] == {"R01": 1, "R03": 1}
    assert read_summary(result.package)["schema"] == PACKAGE_SCHEMA
    assert result.summary == read_summary(result.package)  # the typed summary is all of it
    assert verify_manifest(result.package) == []


def test_jr_sr_separated_by_suffix(reference_store: Path, tmp_path: Path) -> None:
    row = request_row(
        1,
        first_name="John",
        last_name="Carter",
        suffix="Jr",
        street_address="410 Oak Ave",
        unit="",
        city="Spokane",
        zip="99201",
    )
    got = by_id(run(reference_store, tmp_path, [row]).package)
    # The exact baseline ignores suffixes, so it must say AMBIGUOUS, never guess.
    assert got["REQ-00001"][1]["outcome"] == "AMBIGUOUS"


def test_batch_level_codes_reject_every_row(reference_store: Path, tmp_path: Path) -> None:
    rows = [request_row(i) for i in range(1, 6)]
    result = run(
        reference_store, tmp_path, rows, requesting_official={"name": "X", "title": "Analyst"}
    )
    pkg = read_package(result.package)
    assert len(pkg["rejected"]) == 5
    assert all("R07" in r["reason_codes"].split(";") for r in pkg["rejected"])
    assert pkg["disclosed"] == []


def test_duplicates_boilerplate_and_officer_cap(reference_store: Path, tmp_path: Path) -> None:
    rows = [request_row(i, officer_id="OFC-0001") for i in range(1, 53)]
    rows.append(request_row(1, officer_id="OFC-0002"))  # same request_id again
    rows.append(dict(rows[2], request_id="REQ-99999", officer_id="OFC-0003"))  # same person+case
    result = run(reference_store, tmp_path, rows)
    got = by_id(result.package)
    assert len(got) == len(rows)
    assert got["REQ-00001"][0] == "disclosed"  # the first stays valid
    assert got["#row-53"][1]["reason_codes"] == "R10"
    assert "R10" in got["REQ-99999"][1]["reason_codes"]
    assert got["REQ-00051"][1]["reason_codes"] == "R08"  # 51st row for one officer
    assert got["REQ-00050"][0] == "disclosed"


def test_boilerplate_relevance_rejects_all_copies(reference_store: Path, tmp_path: Path) -> None:
    text = "Needed for an ongoing immigration enforcement investigation of the subject"
    rows = [request_row(i) for i in range(1, 21)]
    for i in (3, 4):
        rows[i]["relevance"] = text.upper() if i == 3 else text
    got = by_id(run(reference_store, tmp_path, rows).package)
    assert got["REQ-00004"][1]["reason_codes"] == "R06"
    assert got["REQ-00005"][1]["reason_codes"] == "R06"


def test_same_submission_is_the_same_batch(reference_store: Path, tmp_path: Path) -> None:
    rows = [request_row(1), request_row(2)]
    first = run(reference_store, tmp_path, rows)
    second = run(reference_store, tmp_path, rows)
    assert second.reused
    assert second.batch_id == first.batch_id
    assert second.summary == first.summary


def test_no_personal_values_in_logs(
    reference_store: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rows = [
        request_row(1),
        request_row(
            2, first_name="Zebulon", last_name="Quackenbush", street_address="4242 Zanzibar Blvd"
        ),
    ]
    run(reference_store, tmp_path, rows)
    text = caplog.text.upper()
    assert "E140" in caplog.text  # the batch did log
    for value in (
        "MARIA",
        "GARCIA",
        "ZEBULON",
        "QUACKENBUSH",
        "ZANZIBAR",
        "TACOMA",
        "PINE",
        "123456789",
        "98101",
    ):
        assert value not in text


_cell = st.text(st.characters(blacklist_categories=["Cs"]), max_size=12)


@st.composite
def messy_rows(draw: st.DrawFn) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for i in range(draw(st.integers(1, 25))):
        kind = draw(st.sampled_from(["valid", "noise", "dup", "blank"]))
        if kind == "valid":
            rows.append(request_row(i))
        elif kind == "noise":
            rows.append({c: draw(_cell) for c in REQUEST_COLUMNS})
        elif kind == "dup" and rows:
            rows.append(dict(draw(st.sampled_from(rows))))
        else:
            rows.append(dict.fromkeys(REQUEST_COLUMNS, ""))
    return rows


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(rows=messy_rows(), ragged=st.lists(st.integers(0, 30), max_size=3))
def test_every_row_lands_in_exactly_one_file(
    reference_store: Path, tmp_path_factory: pytest.TempPathFactory,
    rows: list[dict[str, str]], ragged: list[int],
) -> None:  # fmt: skip
    tmp = tmp_path_factory.mktemp("prop")
    path = write_requests(tmp / "requests.csv", rows)
    lines = path.read_bytes().split(b"\n")
    # Corrupt some physical lines: ragged rows and undecodable bytes.
    for k in ragged:
        at = 1 + k % max(1, len(lines) - 2)
        lines.insert(at, b"a,b" if k % 2 else b"\xff\xfe,bad")
    path.write_bytes(b"\n".join(lines))
    with path.open(newline="", encoding="utf-8", errors="replace") as fh:
        expected = sum(1 for _ in csv.reader(fh)) - 1
    result = run_batch(
        BatchRequest(
            store=reference_store,
            requests=path,
            envelope=write_envelope(tmp / "e.json"),
            out=tmp / "out",
            as_of=AS_OF,
            database_url=f"sqlite:///{tmp / 's.sqlite3'}",
            matcher="exact",
        )
    )
    pkg = read_package(result.package)
    ids = [r["request_id"] for rows_ in pkg.values() for r in rows_]
    assert len(ids) == len(set(ids)) == expected == result.summary["input_rows"]
    assert sum(result.summary["counts"].values()) == expected
    manifest = json.loads((result.package / "manifest.json").read_text())
    assert sum(manifest["files"][f"{n}.csv"]["rows"] for n in pkg) == expected


def test_parallel_validation_gives_the_same_package(reference_store: Path, tmp_path: Path) -> None:
    rows = [request_row(i) for i in range(1, 40)] + [request_row(50, first_name="")]
    rows += [request_row(i, street_address="N/A") for i in range(60, 70)]
    packages = []
    for workers in (1, 2):
        tmp = tmp_path / f"w{workers}"
        tmp.mkdir()
        result = run_batch(
            BatchRequest(
                store=reference_store,
                requests=write_requests(tmp / "r.csv", rows),
                envelope=write_envelope(tmp / "e.json"),
                out=tmp / "out",
                as_of=AS_OF,
                database_url=f"sqlite:///{tmp / 's.sqlite3'}",
                workers=workers,
                matcher="exact",
            )
        )
        packages.append(read_package(result.package))
    assert packages[0] == packages[1]


def test_preflight_rejects_exactly_what_the_batch_rejects(
    reference_store: Path, tmp_path: Path
) -> None:
    from taxmatch.pipeline.preflight import validate_batch

    rows = [request_row(i) for i in range(1, 30)]
    rows += [request_row(40, first_name=""), request_row(41, statute="26 USC 7201")]
    rows.append(dict(rows[0]))  # a duplicate request_id
    result = run(reference_store, tmp_path, rows)
    pre = validate_batch(
        requests=tmp_path / "requests.csv",
        envelope=tmp_path / "envelope.json",
        out=tmp_path / "pre",
        as_of=AS_OF,
    )
    assert (tmp_path / "pre" / "rejected.csv").read_bytes() == (
        result.package / "rejected.csv"
    ).read_bytes()
    assert pre.rows == len(rows)
    assert pre.rejected == result.summary["counts"]["REJECTED"] == 4  # the copy shares R06
    assert pre.reason_codes == result.summary["reason_codes"]
    assert not (tmp_path / "pre" / ".work").exists()
