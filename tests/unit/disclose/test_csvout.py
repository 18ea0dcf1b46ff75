"""Safe CSV output: atomic, hashed, LF-terminated, formula-neutralised."""

from __future__ import annotations

import csv
import hashlib
import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taxmatch.contracts import REQUEST_COLUMNS
from taxmatch.disclose.csvout import SafeCsvWriter, csv_stats, neutralise
from taxmatch.files.inputs import read_requests


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=SUM(A1:A9)", "'=SUM(A1:A9)"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@cmd", "'@cmd"),
        ("\tTAB", "'\tTAB"),
        ("\rCR", "'\rCR"),
        ("   =1", "'   =1"),
        ("\n=1", "'\n=1"),
        ("'=1", "'=1"),
        ("a=1", "a=1"),
        ("12 Main St", "12 Main St"),
        ("", ""),
        ("   ", "   "),
        ("O'Brien", "O'Brien"),
        ("0.999100", "0.999100"),
    ],
)
def test_neutralise(value: str, expected: str) -> None:
    assert neutralise(value) == expected


@given(st.text())
def test_neutralise_is_idempotent_and_only_prefixes(value: str) -> None:
    once = neutralise(value)
    assert neutralise(once) == once
    assert once in (value, "'" + value)
    first = once.lstrip(" \n\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0")[:1]
    assert first not in {"=", "+", "-", "@", "\t", "\r"}


def read_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def test_writer_writes_header_rows_and_lf(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    with SafeCsvWriter(path, ["request_id", "tax_year", "p", "note"]) as writer:
        writer.write(["R-1", 2024, 0.5, None])
        writer.write(["=cmd()", -3, 1e-07, 'a,b\r\nc "q"'])
        assert not path.exists()  # only the .tmp exists until a clean close
    data = path.read_bytes()
    assert b"\r\n" not in data.replace(b"b\r\nc", b"")
    assert data.startswith(b"request_id,tax_year,p,note\n")
    assert read_rows(path) == [
        ["request_id", "tax_year", "p", "note"],
        ["R-1", "2024", "0.5", ""],
        ["'=cmd()", "-3", "1e-07", 'a,b\r\nc "q"'],
    ]
    assert writer.rows == 2
    assert csv_stats(path) == (hashlib.sha256(data).hexdigest(), 2)
    assert not (tmp_path / "out.csv.tmp").exists()


def test_lone_cr_and_single_empty_cell_survive(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    with SafeCsvWriter(path, ["request_id"]) as writer:
        writer.write(["a\rb"])
        writer.write([""])
        writer.write([None])
    assert read_rows(path) == [["request_id"], ["a\rb"], [""], [""]]
    assert csv_stats(path)[1] == 3


def test_failure_leaves_no_file_and_keeps_the_old_one(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    path.write_text("old\n")
    writer = SafeCsvWriter(path, ["a"])

    def write_then_fail() -> None:
        with writer:
            writer.write(["new"])
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_then_fail()
    assert path.read_text() == "old\n"
    assert not (tmp_path / "out.csv.tmp").exists()


def test_wrong_cell_count_and_type(tmp_path: Path) -> None:
    with SafeCsvWriter(tmp_path / "out.csv", ["a", "b"]) as writer:
        with pytest.raises(ValueError, match="1 cells"):
            writer.write(["only one"])
        with pytest.raises(TypeError, match="bytes"):
            writer.write([b"x", "y"])  # type: ignore[list-item]
    assert csv_stats(tmp_path / "out.csv")[1] == 0


def test_lone_surrogate_still_writes_valid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    with SafeCsvWriter(path, ["a"]) as writer:
        writer.write(["x\udcffy"])
    path.read_bytes().decode("utf-8")


def test_close_is_idempotent(tmp_path: Path) -> None:
    writer = SafeCsvWriter(tmp_path / "out.csv", ["a"])
    writer.close()
    writer.close()
    writer.abort()  # after a clean close: does nothing
    assert (tmp_path / "out.csv").exists()
    with pytest.raises(ValueError, match="closed"):
        writer.write(["x"])


def test_csv_stats_of_header_only_and_empty(tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_text("a,b\n")
    (tmp_path / "e.csv").write_text("")
    assert csv_stats(tmp_path / "h.csv")[1] == 0
    assert csv_stats(tmp_path / "e.csv")[1] == 0


CELL = st.one_of(
    st.none(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(st.characters(codec="utf-8")),
)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.lists(CELL, min_size=3, max_size=3), max_size=8))
def test_written_rows_read_back_exactly(rows: list[list[str | int | float | None]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "out.csv"
        with SafeCsvWriter(path, ["a", "b", "c"]) as writer:
            for row in rows:
                writer.write(row)
        back = read_rows(path)[1:]
        assert csv_stats(path) == (hashlib.sha256(path.read_bytes()).hexdigest(), len(rows))
    expected = [
        [
            ""
            if v is None
            else neutralise(v)
            if isinstance(v, str)
            else repr(v)
            if isinstance(v, float)
            else str(v)
            for v in row
        ]
        for row in rows
    ]
    assert back == expected


def test_formula_values_read_then_written_are_neutralised(tmp_path: Path) -> None:
    values = {c: c for c in REQUEST_COLUMNS} | {"first_name": '=HYPERLINK("x")', "city": "@x"}
    source = tmp_path / "in.csv"
    buffer = io.StringIO()
    csv.writer(buffer).writerows([REQUEST_COLUMNS, [values[c] for c in REQUEST_COLUMNS]])
    source.write_text(buffer.getvalue(), encoding="utf-8")
    (record,) = [r for chunk in read_requests(source) for r in chunk]
    assert record.fields["first_name"] == '=HYPERLINK("x")'  # read as data
    out = tmp_path / "out.csv"
    with SafeCsvWriter(out, REQUEST_COLUMNS) as writer:
        writer.write([record.fields[c] for c in REQUEST_COLUMNS])
    (again,) = [r for chunk in read_requests(out) for r in chunk]
    assert again.fields["first_name"] == '\'=HYPERLINK("x")'
    assert again.fields["city"] == "'@x"
    assert again.fields["request_id"] == "request_id"


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.lists(CELL | st.just("\udc80x"), min_size=2, max_size=2), max_size=8),
    cut=st.integers(0, 8),
)
def test_write_many_writes_the_bytes_write_does(
    rows: list[list[str | int | float | None]], cut: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        one, many = Path(tmp) / "one.csv", Path(tmp) / "many.csv"
        with SafeCsvWriter(one, ["a", "b"]) as writer:
            for row in rows:
                writer.write(row)
        with SafeCsvWriter(many, ["a", "b"]) as writer:
            writer.write_many(rows[:cut])
            writer.write_many([])
            writer.write_many(rows[cut:])
            assert writer.rows == len(rows)
        assert many.read_bytes() == one.read_bytes()


def test_write_many_checks_every_row_before_writing_any(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    with SafeCsvWriter(path, ["a", "b"]) as writer:
        with pytest.raises(ValueError, match="row has 1 cells"):
            writer.write_many([["x", "y"], ["z"]])
        assert writer.rows == 0
    assert read_rows(path) == [["a", "b"]]
