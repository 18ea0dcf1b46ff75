"""Request-file readers: every data row comes back exactly once, bad rows marked, no crash."""

from __future__ import annotations

import csv
import json
import tempfile
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taxmatch.contracts import (
    REQUEST_COLUMNS,
    REQUEST_OPTIONAL_COLUMNS,
    REQUEST_REQUIRED_COLUMNS,
    ROW_FIELD,
    RawRecord,
)
from taxmatch.errors import InputFileError
from taxmatch.files import reader_text
from taxmatch.files.inputs import detect_format, read_requests

HEADER = ",".join(REQUEST_COLUMNS)


def row_values(i: int, **override: str) -> dict[str, str]:
    values = {c: f"{c}-{i}" for c in REQUEST_COLUMNS}
    values.update(override)
    return values


def csv_line(i: int, **override: str) -> str:
    values = row_values(i, **override)
    return ",".join(values[c] for c in REQUEST_COLUMNS)


def read_all(path: Path, **kwargs: int) -> list[RawRecord]:
    return [record for chunk in read_requests(path, **kwargs) for record in chunk]


def write(tmp_path: Path, body: bytes, name: str = "requests.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(body)
    return path


# --- format detection ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.csv", "csv"),
        ("a.TXT", "csv"),
        ("a.jsonl", "jsonl"),
        ("a.ndjson", "jsonl"),
        ("a.parquet", "parquet"),
        ("a.pq", "parquet"),
    ],
)
def test_detect_format_by_suffix(name: str, fmt: str) -> None:
    assert detect_format(Path(name)) == fmt


@pytest.mark.parametrize("name", ["a.xlsx", "a", "a.csv.gz", "a.json"])
def test_detect_format_refuses_other_suffixes(name: str) -> None:
    with pytest.raises(InputFileError, match="unknown file type"):
        detect_format(Path(name))


# --- the invariant: one RawRecord per data row, whatever is wrong with the rows ---------

# (case, file bytes, data rows, {row_number: expected malformed})
MALFORMED_CSV: list[tuple[str, bytes, int, dict[int, tuple[str, ...]]]] = [
    (
        "latin-1 bytes mid-file",
        (HEADER + "\n" + csv_line(1) + "\n").encode()
        + (csv_line(2, last_name="Jos@") + "\n").encode().replace(b"@", b"\xe9")
        + (csv_line(3) + "\n").encode(),
        3,
        {2: ("last_name",)},
    ),
    (
        "ragged rows (fewer and more cells)",
        (
            HEADER + "\n" + csv_line(1) + "\na,b,c\n" + csv_line(3) + ",extra\n" + csv_line(4)
        ).encode(),
        4,
        {2: (ROW_FIELD,), 3: (ROW_FIELD,)},
    ),
    (
        "NUL bytes",
        (HEADER + "\n" + csv_line(1, city="Spring\x00field") + "\n" + csv_line(2) + "\n").encode(),
        2,
        {1: ("city",)},
    ),
    (
        "control characters",
        (
            HEADER
            + "\n"
            + csv_line(1, first_name="A\x07B", last_name="\x1b[31m", zip="1\x0b2")
            + "\n"
            + csv_line(2, relevance="tab\tis fine")
            + "\n"
        ).encode(),
        2,
        {1: ("first_name", "last_name", "zip")},
    ),
    (
        "100 kB field",
        (HEADER + "\n" + csv_line(1, relevance="x" * 100_000) + "\n" + csv_line(2) + "\n").encode(),
        2,
        {1: ("relevance",)},
    ),
    (
        "unbalanced quote swallowing the rows after it",
        (
            HEADER
            + "\n"
            + csv_line(1)
            + "\n"
            + csv_line(2, first_name='"never closed')
            + "\n"
            + csv_line(3)
            + "\n"
            + csv_line(4)
            + "\n"
        ).encode(),
        4,
        {2: (ROW_FIELD,)},
    ),
    (
        "unbalanced quote in the last row",
        (HEADER + "\n" + csv_line(1) + "\n" + csv_line(2, relevance='"open') + "\n").encode(),
        2,
        {2: (ROW_FIELD,)},
    ),
    (
        "blank lines are not rows",
        (HEADER + "\n\n" + csv_line(1) + "\n\n\n" + csv_line(2) + "\n\n").encode(),
        2,
        {},
    ),
    (
        "BOM, CRLF and a quoted newline",
        b"\xef\xbb\xbf"
        + (
            HEADER + "\r\n" + csv_line(1, relevance='"line one\r\nline two"') + "\r\n" + csv_line(2)
        ).encode(),
        2,
        {},
    ),
    ("CR line endings", (HEADER + "\r" + csv_line(1) + "\r" + csv_line(2) + "\r").encode(), 2, {}),
    (
        "undecodable bytes in an ignored column",
        (HEADER + ",notes\n" + csv_line(1) + ",@\n").encode().replace(b"@", b"\xff\xfe"),
        1,
        {},
    ),
    (
        "empty cells everywhere is still a row",
        (HEADER + "\n" + "," * (len(REQUEST_COLUMNS) - 1) + "\n").encode(),
        1,
        {},
    ),
]


@pytest.mark.parametrize(
    ("body", "rows", "malformed"),
    [case[1:] for case in MALFORMED_CSV],
    ids=[case[0] for case in MALFORMED_CSV],
)
def test_one_record_per_data_row(
    tmp_path: Path, body: bytes, rows: int, malformed: dict[int, tuple[str, ...]]
) -> None:
    records = read_all(write(tmp_path, body), chunk_rows=2)
    assert len(records) == rows
    assert [r.row_number for r in records] == list(range(1, rows + 1))
    for record in records:
        assert set(record.fields) == set(REQUEST_COLUMNS)
        assert all(isinstance(v, str) for v in record.fields.values())
        assert record.malformed == malformed.get(record.row_number, ()), record.row_number
        for value in record.fields.values():  # safe to encode and log-free to carry on
            value.encode("utf-8")
            assert "\x00" not in value


def test_clean_rows_keep_their_values(tmp_path: Path) -> None:
    body = (HEADER + "\n" + csv_line(1, first_name="  padded  ") + "\n").encode()
    (record,) = read_all(write(tmp_path, body))
    assert record.fields == row_values(1, first_name="padded")
    assert record.malformed == ()


def test_swallowed_rows_come_back_intact(tmp_path: Path) -> None:
    body = HEADER + "\n" + csv_line(1, city='"Spring') + "\n" + csv_line(2) + "\n" + csv_line(3)
    records = read_all(write(tmp_path, body.encode()))
    assert len(records) == 3
    assert records[0].malformed == (ROW_FIELD,)
    assert records[0].fields["request_id"] == "request_id-1"
    assert records[1].fields == row_values(2)
    assert records[2].fields == row_values(3)


def test_latin1_value_is_replaced_not_kept(tmp_path: Path) -> None:
    body = (HEADER + "\n" + csv_line(1, last_name="Jos@")).encode().replace(b"@", b"\xe9")
    (record,) = read_all(write(tmp_path, body))
    assert record.fields["last_name"] == "Jos\ufffd"


def test_over_long_field_is_cut_to_the_limit(tmp_path: Path) -> None:
    body = (HEADER + "\n" + csv_line(1, relevance="y" * 100_000) + "\n").encode()
    (record,) = read_all(write(tmp_path, body), max_field_length=50)
    assert record.fields["relevance"] == "y" * 50
    assert record.malformed == ("relevance",)


def test_field_at_the_limit_is_fine(tmp_path: Path) -> None:
    body = (HEADER + "\n" + csv_line(1, relevance="y" * 50) + "\n").encode()
    (record,) = read_all(write(tmp_path, body), max_field_length=50)
    assert record.malformed == ()


@pytest.mark.parametrize("size", [3_000_000, 9_000_000])
def test_multi_megabyte_field_does_not_crash(tmp_path: Path, size: int) -> None:
    body = (HEADER + "\n" + csv_line(1, relevance="z" * size) + "\n" + csv_line(2) + "\n").encode()
    records = read_all(write(tmp_path, body))
    assert len(records) == 2
    assert records[0].malformed  # relevance (or the whole row, over the csv module's limit)
    assert len(records[0].fields["relevance"]) <= 1000
    assert records[1].fields == row_values(2)


def test_quote_swallowing_more_than_the_field_limit_loses_no_row(tmp_path: Path) -> None:
    rows = 30_000  # about 9 MB after the stray quote: over the csv module's field limit
    lines = [csv_line(1, first_name='"stray')] + [csv_line(i) for i in range(2, rows + 1)]
    path = write(tmp_path, (HEADER + "\n" + "\n".join(lines) + "\n").encode())
    assert path.stat().st_size > reader_text.FIELD_LIMIT
    records = read_all(path)
    assert len(records) == rows
    assert records[0].malformed == (ROW_FIELD,)
    assert records[0].fields["request_id"] == "request_id-1"  # salvaged from its line
    assert all(r.malformed == () for r in records[1:])
    assert records[-1].fields == row_values(rows)


def test_overlong_physical_line_is_cut(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader_text, "LINE_CAP", 600)
    body = HEADER + "\n" + csv_line(1, relevance="w" * 2000) + "\n" + csv_line(2) + "\n"
    records = read_all(write(tmp_path, body.encode()))
    assert len(records) == 2
    assert ROW_FIELD in records[0].malformed
    assert records[1].fields == row_values(2)


def test_formula_values_are_read_as_data(tmp_path: Path) -> None:
    formulas = {"first_name": "=HYPERLINK(1)", "last_name": "+SUM(A1)", "city": "@cmd", "zip": "-1"}
    path = tmp_path / "f.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(REQUEST_COLUMNS)
        writer.writerow([row_values(1, **formulas)[c] for c in REQUEST_COLUMNS])
    (record,) = read_all(path)
    assert record.malformed == ()
    assert {k: record.fields[k] for k in formulas} == formulas


def test_optional_columns_may_be_absent_and_extras_are_ignored(tmp_path: Path) -> None:
    columns = [*REQUEST_REQUIRED_COLUMNS, "notes"]
    body = ",".join(columns) + "\n" + ",".join(f"v{i}" for i in range(len(columns))) + "\n"
    (record,) = read_all(write(tmp_path, body.encode()))
    assert set(record.fields) == set(REQUEST_COLUMNS)
    assert all(record.fields[c] == "" for c in REQUEST_OPTIONAL_COLUMNS)
    assert "notes" not in record.fields
    assert read_requests(write(tmp_path, body.encode())).columns == tuple(columns)


def test_header_names_are_stripped_and_tab_delimited_txt_works(tmp_path: Path) -> None:
    body = "\t".join(f" {c} " for c in REQUEST_COLUMNS) + "\n" + "\t".join(REQUEST_COLUMNS) + "\n"
    (record,) = read_all(write(tmp_path, body.encode(), "requests.txt"))
    assert record.fields == {c: c for c in REQUEST_COLUMNS}


def test_header_only_file_has_zero_rows(tmp_path: Path) -> None:
    reader = read_requests(write(tmp_path, (HEADER + "\n").encode()))
    assert [r for chunk in reader for r in chunk] == []
    assert reader.columns == REQUEST_COLUMNS


def test_chunks_progress_and_reiteration(tmp_path: Path) -> None:
    body = HEADER + "\n" + "\n".join(csv_line(i) for i in range(1, 26)) + "\n"
    reader = read_requests(write(tmp_path, body.encode()), chunk_rows=10)
    sizes = []
    for chunk in reader:
        sizes.append(len(chunk))
        assert 0 < reader.bytes_read <= reader.total_bytes
    assert sizes == [10, 10, 5]
    assert reader.bytes_read == reader.total_bytes
    assert [len(c) for c in reader] == [10, 10, 5]  # a second pass reads the file again


# --- whole-file problems: one line, names file and column, never a value ------------------


def assert_one_line_without(exc: InputFileError, path: Path, *secrets: str) -> None:
    message = str(exc)
    assert "\n" not in message
    assert str(path) in message
    for secret in secrets:
        assert secret not in message


@pytest.mark.parametrize("missing", ["request_id", "relevance", "officer_id"])
def test_missing_required_column_is_named(tmp_path: Path, missing: str) -> None:
    columns = [c for c in REQUEST_COLUMNS if c != missing]
    path = write(tmp_path, (",".join(columns) + "\n").encode())
    with pytest.raises(InputFileError) as info:
        read_requests(path)
    assert info.value.field == missing
    assert_one_line_without(info.value, path)


def test_headerless_file_error_does_not_quote_the_data(tmp_path: Path) -> None:
    path = write(tmp_path, b"MARIA,GARCIA,123 SECRET ST\nJOHN,DOE,9 HIDDEN AVE\n")
    with pytest.raises(InputFileError) as info:
        read_requests(path)
    assert info.value.field == "request_id"
    assert_one_line_without(info.value, path, "MARIA", "SECRET", "HIDDEN")
    assert "13 more" in str(info.value)  # every required column is missing


def test_duplicate_known_column_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, (HEADER + ",city\n").encode())
    with pytest.raises(InputFileError, match="more than once") as info:
        read_requests(path)
    assert info.value.field == "city"


@pytest.mark.parametrize(
    ("name", "body", "problem"),
    [
        ("empty.csv", b"", "empty"),
        ("bom.csv", b"\xef\xbb\xbf\r\n  \n", "empty"),
        ("parquet.csv", b"PAR1\x00\x00garbage", "Parquet"),
        ("gzip.csv", b"\x1f\x8b\x08\x00junk", "gzip"),
        ("binary.csv", b"\x00\x01\x02\xff\xfe" * 20, "not readable"),
        ("utf16.csv", "request_id,first_name\n".encode("utf-16"), "UTF-16"),
        ("empty.jsonl", b"\n\n", "empty"),
        ("array.jsonl", b'[{"request_id": "x"}]\n', "not JSON Lines"),
        ("text.jsonl", b"request_id,first_name\nMARIA,GARCIA\n", "not JSON Lines"),
        ("csv.parquet", (HEADER + "\n").encode(), "Parquet"),
        ("empty.parquet", b"", "Parquet"),
    ],
)
def test_wrong_format_or_empty_file(tmp_path: Path, name: str, body: bytes, problem: str) -> None:
    path = write(tmp_path, body, name)
    with pytest.raises(InputFileError, match=problem) as info:
        read_requests(path)
    assert_one_line_without(info.value, path, "MARIA")


@pytest.mark.parametrize("name", ["absent.csv", "absent.jsonl", "absent.parquet"])
def test_missing_file(tmp_path: Path, name: str) -> None:
    with pytest.raises(InputFileError, match="cannot be read"):
        read_requests(tmp_path / name)


def test_directory_is_unreadable(tmp_path: Path) -> None:
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(InputFileError, match="cannot be read"):
        read_requests(tmp_path / "dir.csv")


# --- JSON Lines -------------------------------------------------------------------------


def jsonl(*objects: object) -> bytes:
    return b"".join(json.dumps(o).encode() + b"\n" for o in objects)


def test_jsonl_rows_types_and_bad_lines(tmp_path: Path) -> None:
    first = row_values(1)
    body = (
        b"\xef\xbb\xbf"
        + jsonl(first)
        + b"\n"  # blank: not a row
        + jsonl({**row_values(2), "zip": 62704, "tin": None, "middle_name": 1.5})
        + b"not json at all\n"
        + jsonl([1, 2, 3])
        + jsonl({**row_values(5), "city": ["a"], "state": {"x": 1}, "zip": True})
        + b'{"request_id": "r6", "first_name": "Jos\xe9"}\n'
        + b'{"request_id": "r7", "last_name": "a\\u0000b", "city": "\\ud800"}\n'
        + b'{"request_id": "r8", "zip": NaN}'  # no final newline
    )
    records = read_all(write(tmp_path, body, "r.jsonl"), chunk_rows=3)
    assert [r.row_number for r in records] == list(range(1, 9))
    assert records[0].fields == first
    assert records[0].malformed == ()
    assert records[1].fields["zip"] == "62704"
    assert records[1].fields["tin"] == ""
    assert records[1].fields["middle_name"] == "1.5"
    assert records[1].malformed == ()
    assert records[2].malformed == (ROW_FIELD,)
    assert records[3].malformed == (ROW_FIELD,)
    assert records[4].malformed == ("city", "state", "zip")
    assert records[5].malformed == ("first_name",)
    assert records[5].fields["request_id"] == "r6"
    assert records[5].fields["last_name"] == ""  # absent key
    assert records[6].malformed == ("last_name", "city")
    assert records[7].malformed == ("zip",)
    for record in records:
        assert set(record.fields) == set(REQUEST_COLUMNS)


def test_jsonl_first_record_must_carry_required_keys(tmp_path: Path) -> None:
    obj = {c: "x" for c in REQUEST_COLUMNS if c != "case_number"}
    path = write(tmp_path, jsonl(obj), "r.jsonl")
    with pytest.raises(InputFileError) as info:
        read_requests(path)
    assert info.value.field == "case_number"


# --- Parquet ----------------------------------------------------------------------------


def test_parquet_types_nulls_and_uncastable_columns(tmp_path: Path) -> None:
    n = 7
    table = pa.table(
        {
            **{c: [f"{c}-{i}" for i in range(n)] for c in REQUEST_REQUIRED_COLUMNS},
            "zip": pa.array(range(n), pa.int64()),
            "middle_name": pa.array([None] * n, pa.string()),
            "tin": pa.array([[1, 2]] * n),
            "a_number": pa.array([b"A1", b"\xff\xfe", None, b"A4", b"A5", b"A6", b"A7"]),
            "notes": pa.array([1.5] * n),
        }
    )
    path = tmp_path / "r.parquet"
    pq.write_table(table, path, row_group_size=3)
    records = read_all(path, chunk_rows=2)
    assert [r.row_number for r in records] == list(range(1, n + 1))
    assert records[3].fields["zip"] == "3"
    assert records[3].fields["middle_name"] == ""
    assert records[3].fields["unit"] == ""  # absent optional column
    assert records[0].malformed == ("tin",)
    assert records[1].malformed == ("tin", "a_number")
    assert records[1].fields["a_number"] == "\ufffd\ufffd"
    assert records[2].fields["a_number"] == ""


def test_parquet_string_column_with_invalid_utf8(tmp_path: Path) -> None:
    columns = {c: pa.array(["ok"] * 3) for c in REQUEST_COLUMNS}
    raw = pa.array([b"x\xffy", b"fine", None], pa.binary())
    columns["first_name"] = raw.cast(pa.string(), safe=False)  # unchecked bytes
    path = tmp_path / "r.parquet"
    pq.write_table(pa.table(columns), path)
    records = read_all(path)
    assert [r.malformed for r in records] == [("first_name",), (), ()]
    assert [r.fields["first_name"] for r in records] == ["x\ufffdy", "fine", ""]


def test_parquet_damaged_row_group_still_yields_its_rows(tmp_path: Path) -> None:
    n = 900
    table = pa.table({c: [f"{c}-{i:04d}" for i in range(n)] for c in REQUEST_COLUMNS})
    path = tmp_path / "r.parquet"
    pq.write_table(table, path, row_group_size=300, compression="none")
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4000] = b"\xff" * 4000
    path.write_bytes(bytes(data))
    records = read_all(path)
    assert len(records) == n
    assert [r.row_number for r in records] == list(range(1, n + 1))
    assert any(r.malformed == (ROW_FIELD,) for r in records)


def test_parquet_missing_required_column(tmp_path: Path) -> None:
    table = pa.table({c: ["x"] for c in REQUEST_COLUMNS if c != "statute"})
    path = tmp_path / "r.parquet"
    pq.write_table(table, path)
    with pytest.raises(InputFileError) as info:
        read_requests(path)
    assert info.value.field == "statute"


# --- round trips (hypothesis) -----------------------------------------------------------

# Any text a requester may legitimately send: no control characters or surrogates, but
# commas, quotes, newlines, tabs and any script are fine.
CELL = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs"), whitelist_characters="\n\r\t,\"' "),
    max_size=30,
)
ROWS = st.lists(
    st.lists(CELL, min_size=len(REQUEST_COLUMNS), max_size=len(REQUEST_COLUMNS)), max_size=12
)


def write_csv(path: Path, rows: Sequence[Sequence[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(REQUEST_COLUMNS)
        writer.writerows(rows)


def write_jsonl(path: Path, rows: Sequence[Sequence[str]]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        # A JSON Lines file with no record is "empty" (an error), unlike a header-only CSV,
        # so a first all-empty record is always written and skipped when comparing.
        handle.write(json.dumps(dict.fromkeys(REQUEST_COLUMNS, "")) + "\n")
        for row in rows:
            handle.write(
                json.dumps(dict(zip(REQUEST_COLUMNS, row, strict=True)), ensure_ascii=False) + "\n"
            )


def write_parquet(path: Path, rows: Sequence[Sequence[str]]) -> None:
    columns = {c: [row[i] for row in rows] for i, c in enumerate(REQUEST_COLUMNS)}
    pq.write_table(
        pa.table(columns, schema=pa.schema([(c, pa.string()) for c in REQUEST_COLUMNS])), path
    )


@pytest.mark.parametrize(
    ("suffix", "writer", "skip"),
    [(".csv", write_csv, 0), (".jsonl", write_jsonl, 1), (".parquet", write_parquet, 0)],
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=ROWS)
def test_round_trip(suffix: str, writer: object, skip: int, rows: list[list[str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"requests{suffix}"
        writer(path, rows)  # type: ignore[operator]
        records = read_all(path, chunk_rows=5)[skip:]
    assert len(records) == len(rows)
    for number, (record, row) in enumerate(zip(records, rows, strict=True), start=1 + skip):
        assert record.row_number == number
        assert record.malformed == ()
        assert record.fields == {c: v.strip() for c, v in zip(REQUEST_COLUMNS, row, strict=True)}


@settings(max_examples=60, deadline=None)
@given(body=st.binary(max_size=400))
def test_arbitrary_bytes_never_crash(body: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for suffix in (".csv", ".jsonl"):
            path = Path(tmp) / f"r{suffix}"
            path.write_bytes((HEADER + "\n").encode() + body)
            if suffix == ".jsonl":
                path.write_bytes(jsonl(dict.fromkeys(REQUEST_COLUMNS, "")) + body)
            records = read_all(path)
            assert [r.row_number for r in records] == list(range(1, len(records) + 1))
            for record in records:
                assert set(record.fields) == set(REQUEST_COLUMNS)
                for value in record.fields.values():
                    value.encode("utf-8")


# --- counting records (the N of #row-N; an upload's rows_total) --------------------------


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=ROWS,
    blanks=st.lists(st.sampled_from(["\n", "\r\n", " \n", ",,\n"]), max_size=4),
    body=st.binary(max_size=200),
)
def test_count_records_is_the_number_of_records_read(
    rows: list[list[str]], blanks: list[str], body: bytes
) -> None:
    """Quoted newlines, blank lines, ragged or undecodable rows: ``count_records`` counts
    exactly the records iterating yields, for every format."""
    with tempfile.TemporaryDirectory() as tmp:
        for suffix, writer in (
            (".csv", write_csv),
            (".jsonl", write_jsonl),
            (".parquet", write_parquet),
        ):
            path = Path(tmp) / f"requests{suffix}"
            writer(path, rows)
            if suffix != ".parquet":
                with path.open("ab") as handle:
                    handle.write("".join(blanks).encode() + body)
            reader = read_requests(path, chunk_rows=3)
            assert reader.count_records() == len(read_all(path, chunk_rows=3)), suffix


def test_count_records_counts_records_not_lines(tmp_path: Path) -> None:
    two = csv_line(2, relevance='"line one\nline two"')
    path = write(tmp_path, f"{HEADER}\n{csv_line(1)}\n\n{two}\n\n".encode())
    assert read_requests(path).count_records() == 2
    lines = [jsonl(row_values(1)), b"\n", b"   \n", jsonl(row_values(2))]
    path = write(tmp_path, b"".join(lines), "requests.jsonl")
    assert read_requests(path).count_records() == 2


# --- memory ---------------------------------------------------------------------------


def peak_memory(path: Path) -> int:
    tracemalloc.start()
    try:
        for _chunk in read_requests(path, chunk_rows=500):
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    peaks = []
    for rows in (2_000, 10_000):
        path = tmp_path / f"r{rows}.csv"
        path.write_text(HEADER + "\n" + "".join(csv_line(i) + "\n" for i in range(rows)))
        peaks.append(peak_memory(path))
    assert peaks[1] < peaks[0] * 1.3, peaks  # five times the rows, about the same peak
