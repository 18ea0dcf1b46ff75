"""Staging: each record's verdict and its coverage shape (``records.shape``), for valid
and rejected rows alike, through the in-process and the worker path into the workspace."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taxmatch.contracts import RawRecord, RequestReader, codes_to_mask
from taxmatch.files.readers import read_requests
from taxmatch.pipeline.staging import (
    _init_worker,
    _pack,
    _unpack,
    _validate_in_worker,
    cited_statute,
    records_to_table,
    stage_records,
)
from taxmatch.policy.coverage import names_of, raw_shape
from taxmatch.policy.validate import BatchContext, field_order, make_context, validate_record
from taxmatch.reference.workspace import RECORD_SCHEMA, BatchWorkspace
from tests.unit.policy.conftest import AS_OF, VALID_FIELDS, default_policy, envelope


@pytest.fixture
def ctx() -> BatchContext:
    return make_context(envelope(), default_policy(), AS_OF)


# (changes to the valid record, valid, its groups)
CASES: list[tuple[dict[str, str], bool, list[str]]] = [
    ({}, True, ["compound_surname", "multi_unit"]),  # "Garcia Lopez", "Apt 4"
    ({"last_name": "García-López"}, True, ["compound_surname", "multi_unit"]),
    ({"last_name": "Lee", "unit": ""}, True, []),
    ({"last_name": "Lee", "unit": "", "street_address": "P.O. Box 12"}, True, ["po_box"]),
    (
        {"street_address": "123 N Main St Apt 4", "unit": ""},
        True,
        ["compound_surname", "multi_unit"],
    ),
    ({"last_name": "Smith Jr", "unit": ""}, True, []),  # the suffix is no surname part
    # rejected: the shape of the fields as written
    (
        {"first_name": "", "middle_name": ""},
        False,
        ["compound_surname", "single_name", "multi_unit"],
    ),
    ({"first_name": ""}, False, ["compound_surname", "multi_unit"]),  # a middle name: not single
    ({"last_name": "Lee", "unit": "", "street_address": "PO Box"}, False, ["po_box"]),
    ({"statute": "26 U.S.C. 6103"}, False, ["compound_surname", "multi_unit"]),
]


def _records(cases: Sequence[tuple[dict[str, str], bool, list[str]]]) -> list[RawRecord]:
    return [
        RawRecord(n, {**VALID_FIELDS, **changes}, ())
        for n, (changes, _, _) in enumerate(cases, start=1)
    ]


def test_the_shape_is_filled_for_valid_and_rejected_rows(ctx: BatchContext) -> None:
    table = records_to_table(_records(CASES), ctx)
    assert table.schema == RECORD_SCHEMA
    cols = table.to_pydict()
    assert [m == 0 for m in cols["mask"]] == [valid for _, valid, _ in CASES]
    assert [names_of(s) for s in cols["shape"]] == [groups for _, _, groups in CASES]
    # a rejected row's normalised columns stay empty; its shape does not
    for i, (_, valid, _) in enumerate(CASES):
        assert (cols["last_name"][i] is not None) is valid


def test_a_rejected_rows_shape_is_the_raw_shape_of_its_fields(ctx: BatchContext) -> None:
    raws = _records(CASES)
    cols = records_to_table(raws, ctx).to_pydict()
    for raw, mask, shape in zip(raws, cols["mask"], cols["shape"], strict=True):
        if mask:
            assert shape == raw_shape(raw.fields)


def test_the_worker_path_carries_the_shape(ctx: BatchContext) -> None:
    chunk = _records(CASES)
    _init_worker(ctx)
    table = _unpack(_validate_in_worker(_pack(chunk)))
    assert table.column("shape").to_pylist() == records_to_table(chunk, ctx)["shape"].to_pylist()


class _Reader:
    """A request file already read, in chunks of two."""

    def __init__(self, records: list[RawRecord]) -> None:
        self._records = records

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self._records[0].fields)

    @property
    def total_bytes(self) -> int:
        return len(self._records)

    @property
    def bytes_read(self) -> int:
        return len(self._records)

    def count_records(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[list[RawRecord]]:
        for i in range(0, len(self._records), 2):
            yield self._records[i : i + 2]


def test_staged_records_hold_the_shape(ctx: BatchContext) -> None:
    con = duckdb.connect()
    try:
        ws = BatchWorkspace.borrow(con)
        ws.reset()
        assert stage_records(_Reader(_records(CASES)), ctx, ws) == len(CASES)
        rows = con.execute("SELECT shape FROM records ORDER BY row_number").fetchall()
    finally:
        con.close()
    assert [names_of(s) for (s,) in rows] == [groups for _, _, groups in CASES]


# --- a staged row is its record's verdict ---------------------------------------------

_VALUES = {
    "first_name": ["Maria", "", "Dr John", "José", "J0hn", "Smith Jr"],
    "last_name": ["Garcia Lopez", "De La Cruz", "Smith Jr", "", "O'Brien"],
    "suffix": ["", "Jr.", "III", "2nd"],
    "street_address": ["123 N Main St", "27 B NE 45th Ave", "PO Box 7", "N/A", "12 1/2 Elm"],
    "unit": ["", "Apt 4", "# 7", "N/A"],
    "tin": ["", "123-45-6789", "123456789", "12-3"],
    "date_of_birth": ["", "1980-02-29", "1981-02-29", "2099-01-01"],
    "statute": ["8 U.S.C. 1253(a)(1)", "8 USC § 1253(a)(1)", "26 U.S.C. 6103", "law"],
    "relevance": ["", "too short", VALID_FIELDS["relevance"], "Straße § café – déjà vu lá"],
}


@settings(max_examples=150, deadline=None)
@given(st.fixed_dictionaries({k: st.sampled_from(v) for k, v in _VALUES.items()}))
def test_a_staged_row_is_what_validate_record_says(changes: dict[str, str]) -> None:
    ctx = make_context(envelope(), default_policy(), AS_OF)
    raw = RawRecord(7, {**VALID_FIELDS, **changes}, ())
    row = {k: v[0] for k, v in records_to_table([raw], ctx).to_pydict().items()}
    verdict = validate_record(raw, ctx)
    assert row["request_id"] == verdict.request_id
    assert row["mask"] == codes_to_mask(verdict.reasons)
    assert row["fields"] == ";".join(field_order(verdict.fields))
    q = verdict.request
    if q is None:
        assert row["first_name"] is None
        assert row["statute"] == cited_statute(raw.fields["statute"])
        return
    assert [row[n] for n in ("first_name", "middle_name", "last_name", "suffix")] == [
        q.first_name,
        q.middle_name,
        q.last_name,
        q.suffix,
    ]
    assert {n: row[n] for n in ("house_number", "street", "unit", "po_box")} == {
        n: getattr(q.address, n) for n in ("house_number", "street", "unit", "po_box")
    }
    assert (row["city"], row["state"], row["zip5"]) == (
        q.address.city,
        q.address.state,
        q.address.zip5,
    )
    assert (row["tax_periods"], row["date_of_birth"]) == (list(q.tax_periods), q.date_of_birth)
    assert (row["tin"], row["statute"]) == (q.tin, q.statute)


def test_records_are_made_with_the_collector_paused_and_it_runs_again_after(
    ctx: BatchContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    import taxmatch.pipeline.staging as staging

    seen: list[bool] = []
    check = staging.check_record

    def spy(raw: RawRecord, c: BatchContext) -> object:
        seen.append(gc.isenabled())
        return check(raw, c)

    monkeypatch.setattr(staging, "check_record", spy)
    assert gc.isenabled()
    records_to_table(_records(CASES), ctx)
    assert seen == [False] * len(CASES)
    assert gc.isenabled()


def _staged(reader: RequestReader, ctx: BatchContext, workers: int) -> dict[str, list[object]]:
    con = duckdb.connect()
    try:
        ws = BatchWorkspace.borrow(con)
        ws.reset()
        stage_records(reader, ctx, ws, workers=workers)
        return con.sql("SELECT * FROM records ORDER BY row_number").to_arrow_table().to_pydict()
    finally:
        con.close()


def test_a_files_rows_made_records_in_the_workers_stage_as_in_process(
    ctx: BatchContext, tmp_path: Path
) -> None:
    # clean rows, a bad byte, an over-long value, a ragged row and a control character
    header = ",".join(VALID_FIELDS)
    good = ",".join(f'"{v}"' for v in VALID_FIELDS.values())
    long_case = good.replace(VALID_FIELDS["case_number"], "C" * 80)
    lines = [header, good, good.replace("Maria", "Ma\x01ria"), long_case, "a,b", good]
    path = tmp_path / "requests.csv"
    path.write_bytes("\n".join(lines).encode() + b"\n" + good.encode().replace(b"M", b"\xff", 1))
    reader = read_requests(path, max_field_length=40, chunk_rows=2)
    in_process = _staged(reader, ctx, workers=1)
    assert len(in_process["row_number"]) == 6
    assert sum(1 for m in in_process["mask"] if m) >= 4  # the malformed rows are rejected
    assert _staged(reader, ctx, workers=2) == in_process
