"""Input files: hashes, the envelope, the policy and the master file. Errors name keys."""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from taxmatch.contracts import MASTER_COLUMNS, MASTER_OPTIONAL_COLUMNS, MASTER_REQUIRED_COLUMNS
from taxmatch.errors import EnvelopeError, InputFileError, PolicyError
from taxmatch.files.inputs import (
    MASTER_SCHEMA,
    iter_master,
    load_policy,
    read_envelope,
    sha256_file,
)

SECRET = "SECRET-VALUE-7731"


def test_sha256_file(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    data = b"x" * 3_000_000
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
    with pytest.raises(InputFileError, match="cannot be read"):
        sha256_file(tmp_path / "absent")


# --- envelope ---------------------------------------------------------------------------

ENVELOPE: dict[str, Any] = {
    "requesting_agency": "ICE",
    "requesting_official": {"name": "Pat Example", "title": "Director"},
    "request_letter_id": "LTR-2026-0001",
    "signed_on": "2026-11-02",
    "recipient_officers": ["OFC-0001", "OFC-0002"],
    "attestation": "solely for use in the investigation",
}


def write_json(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "envelope.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_envelope_loads(tmp_path: Path) -> None:
    envelope = read_envelope(write_json(tmp_path, ENVELOPE))
    assert envelope.signed_on == date(2026, 11, 2)
    assert envelope.recipient_officers == ("OFC-0001", "OFC-0002")
    assert envelope.requesting_official.title == "Director"


def edited(path: tuple[str, ...], value: object) -> dict[str, Any]:
    doc = copy.deepcopy(ENVELOPE)
    target = doc
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


@pytest.mark.parametrize(
    ("doc", "key", "problem"),
    [
        (edited(("requesting_agency",), KeyError), "requesting_agency", "missing"),
        (edited(("signed_on",), KeyError), "signed_on", "missing"),
        (
            edited(("requesting_official", "title"), KeyError),
            "requesting_official.title",
            "missing",
        ),
        (edited(("requesting_agency",), 12345), "requesting_agency", "wrong type"),
        (edited(("recipient_officers",), SECRET), "recipient_officers", "wrong type"),
        (edited(("recipient_officers",), ["OFC-1", 7]), "recipient_officers[1]", "wrong type"),
        (edited(("requesting_official",), SECRET), "requesting_official", "wrong type"),
        (edited(("signed_on",), SECRET), "signed_on", "invalid value"),
        (edited(("request_letter_id",), ""), "request_letter_id", "invalid value"),
        (edited(("surprise",), SECRET), "surprise", "unknown key"),
        (edited((SECRET + " with spaces",), 1), "(unnamed key)", "unknown key"),
    ],
)
def test_envelope_errors_name_the_key_not_the_value(
    tmp_path: Path, doc: dict[str, Any], key: str, problem: str
) -> None:
    path = write_json(tmp_path, doc)
    with pytest.raises(EnvelopeError, match=problem) as info:
        read_envelope(path)
    assert info.value.field == key
    message = str(info.value)
    assert str(path) in message
    assert "\n" not in message
    assert SECRET not in message
    assert "12345" not in message


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'"' + SECRET.encode() + b'"', "must be a JSON object"),
        (b'{"requesting_agency": "\xff"}', "not UTF-8"),
        (b'{"requesting_agency": "ICE", "requesting_agency": "X"}', "more than once"),
    ],
)
def test_envelope_not_json(tmp_path: Path, body: bytes, problem: str) -> None:
    path = tmp_path / "envelope.json"
    path.write_bytes(body)
    with pytest.raises(EnvelopeError, match=problem) as info:
        read_envelope(path)
    assert SECRET not in str(info.value)


def test_envelope_missing_file(tmp_path: Path) -> None:
    with pytest.raises(EnvelopeError, match="cannot be read"):
        read_envelope(tmp_path / "absent.json")


# --- policy -----------------------------------------------------------------------------


def default_text() -> str:
    return resources.files("taxmatch.policy").joinpath("default_policy.yaml").read_text()


def test_default_policy_loads() -> None:
    policy, text = load_policy(None)
    assert policy.version == "2026.1"
    assert text == default_text()
    assert policy.disclosure.phone is False


def test_policy_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(default_text().replace('version: "2026.1"', 'version: "local-1"'))
    policy, text = load_policy(path)
    assert policy.version == "local-1"
    assert text == path.read_text()


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (("matching:", "matching:\n  surprise: 1"), "matching.surprise"),
        (("relevance:", "relevanse: {}\nrelevance:"), "relevanse"),
        (("min_words: 6", "min_words: many"), "relevance.min_words"),
        (("lookback_years: 6", "lookback_years: -3"), "tax_periods.lookback_years"),
    ],
)
def test_policy_errors_name_the_key(tmp_path: Path, edit: tuple[str, str], key: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(default_text().replace(*edit, 1))
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert info.value.field == key
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("body", "problem"),
    [(b"a: [", "not valid YAML"), (b"- 1\n", "mapping"), (b"\xff\xfe", "not UTF-8")],
)
def test_policy_not_yaml(tmp_path: Path, body: bytes, problem: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_bytes(body)
    with pytest.raises(PolicyError, match=problem):
        load_policy(path)


def test_policy_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot be read"):
        load_policy(tmp_path / "absent.yaml")


def test_policy_warns_when_phone_is_on(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(default_text().replace("phone: false", "phone: true"))
    with caplog.at_level(logging.INFO, logger="taxmatch"):
        policy, _ = load_policy(path)
    assert policy.disclosure.phone is True
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any(r.getMessage().startswith("E401") for r in warnings)


# --- master file ------------------------------------------------------------------------

MASTER_ROWS = [
    {
        "tin": "900000001",
        "tax_year": "2023",
        "first_name": "Ana",
        "last_name": "Lopez",
        "street_address": "12 Main St",
        "city": "Springfield",
        "state": "IL",
        "zip": "02704",
        "phone": "",
        "notes": "dropped",
    },
    {
        "tin": "900000002",
        "tax_year": " 2024 ",
        "first_name": "Bo",
        "last_name": "Chen",
        "street_address": "9 Oak Ave, Unit 2",
        "city": "Peoria",
        "state": "IL",
        "zip": "61602",
        "phone": "555-0100",
        "notes": "dropped",
    },
]


def write_master_csv(tmp_path: Path, rows: list[dict[str, str]], *, bom: bool = False) -> Path:
    columns = list(rows[0])
    lines = [",".join(columns)]
    for row in rows:
        lines.append(",".join(json.dumps(row[c]) if "," in row[c] else row[c] for c in columns))
    path = tmp_path / "master.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + ("\n".join(lines) + "\n").encode())
    return path


def read_master(path: Path, chunk_rows: int = 100_000) -> pa.Table:
    batches = list(iter_master(path, chunk_rows=chunk_rows))
    for batch in batches:
        assert batch.schema == MASTER_SCHEMA
    return pa.Table.from_batches(batches, schema=MASTER_SCHEMA)


@pytest.mark.parametrize("bom", [False, True])
def test_master_csv(tmp_path: Path, bom: bool) -> None:
    table = read_master(write_master_csv(tmp_path, MASTER_ROWS, bom=bom))
    assert table.column_names == list(MASTER_COLUMNS)
    assert table.column("tax_year").to_pylist() == [2023, 2024]
    assert table.column("zip").to_pylist() == ["02704", "61602"]
    assert table.column("street_address").to_pylist()[1] == "9 Oak Ave, Unit 2"
    assert table.column("phone").to_pylist() == [None, "555-0100"]  # empty cell is null
    assert table.column("date_of_death").to_pylist() == [None, None]  # absent column


def test_master_parquet_casts_and_chunks(tmp_path: Path) -> None:
    n = 25
    data: dict[str, Any] = {c: [f"{c}{i}" for i in range(n)] for c in MASTER_REQUIRED_COLUMNS}
    data["tax_year"] = pa.array([2020 + i % 5 for i in range(n)], pa.int32())
    data["zip"] = pa.array(range(n), pa.int64())
    data["extra"] = [1.5] * n
    path = tmp_path / "master.parquet"
    pq.write_table(pa.table(data), path, row_group_size=10)
    batches = list(iter_master(path, chunk_rows=4))
    assert all(b.num_rows <= 4 for b in batches)
    table = pa.Table.from_batches(batches)
    assert table.num_rows == n
    assert table.schema == MASTER_SCHEMA
    assert table.column("zip").to_pylist()[:3] == ["0", "1", "2"]
    assert table.column("tax_year").to_pylist()[:2] == [2020, 2021]
    for name in MASTER_OPTIONAL_COLUMNS:
        assert table.column(name).null_count == n


@pytest.mark.parametrize("missing", ["tin", "tax_year", "zip"])
def test_master_missing_required_column(tmp_path: Path, missing: str) -> None:
    rows = [{k: v for k, v in row.items() if k != missing} for row in MASTER_ROWS]
    with pytest.raises(InputFileError) as info:
        list(iter_master(write_master_csv(tmp_path, rows)))
    assert info.value.field == missing
    table = pa.table({k: [v] for k, v in rows[0].items()})
    pq.write_table(table, tmp_path / "m.parquet")
    with pytest.raises(InputFileError) as info:
        list(iter_master(tmp_path / "m.parquet"))
    assert info.value.field == missing


def test_master_bad_tax_year_names_the_row_not_the_value(tmp_path: Path) -> None:
    rows = [dict(MASTER_ROWS[0]), dict(MASTER_ROWS[1]), dict(MASTER_ROWS[0])]
    rows[2]["tax_year"] = SECRET
    with pytest.raises(InputFileError) as info:
        list(iter_master(write_master_csv(tmp_path, rows), chunk_rows=1))
    assert info.value.field == "tax_year"
    assert info.value.row == 3
    assert SECRET not in str(info.value)


def test_master_ragged_row_does_not_quote_the_row(tmp_path: Path) -> None:
    path = write_master_csv(tmp_path, MASTER_ROWS)
    path.write_text(path.read_text() + f"{SECRET},2024\n")
    with pytest.raises(InputFileError, match="wrong number of columns") as info:
        list(iter_master(path))
    assert SECRET not in str(info.value)
    assert info.value.row == 3


@pytest.mark.parametrize(
    ("name", "body", "problem"),
    [
        ("m.csv", b"", "empty"),
        ("m.csv", b"PAR1xxxx", "Parquet"),
        ("m.parquet", b"tin,tax_year\n", "Parquet"),
        ("m.jsonl", b"{}\n", "CSV or Parquet"),
    ],
)
def test_master_wrong_format(tmp_path: Path, name: str, body: bytes, problem: str) -> None:
    path = tmp_path / name
    path.write_bytes(body)
    with pytest.raises(InputFileError, match=problem):
        list(iter_master(path))


def test_master_invalid_utf8_is_an_error_without_the_value(tmp_path: Path) -> None:
    path = write_master_csv(tmp_path, MASTER_ROWS)
    path.write_bytes(path.read_bytes().replace(b"Lopez", b"L\xf6pez"))
    with pytest.raises(InputFileError, match="UTF-8") as info:
        list(iter_master(path))
    assert "pez" not in str(info.value)
