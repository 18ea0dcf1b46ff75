"""Progress and generated ids count records, not lines: an upload's ``rows_total`` is its
number of records (a quoted newline does not start one, blank lines are none), and every
``#row-N`` in the package names the N-th record, in CSV, JSON Lines and Parquet."""

from __future__ import annotations

import csv
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taxmatch.contracts import REQUEST_COLUMNS
from tests.api.conftest import Api
from tests.integration.conftest import request_row

PACKAGE_CSVS = ("disclosed.csv", "rejected.csv", "unmatched.csv", "pending.csv")

# One record: whether it carries a request_id (without one it is reported as #row-N),
# whether its relevance spans two lines, and how many blank lines follow it.
RECORD = st.tuples(st.booleans(), st.booleans(), st.integers(0, 2))


def _rows(spec: list[tuple[bool, bool, int]], seed: int) -> list[dict[str, str]]:
    rows = []
    for n, (has_id, two_lines, _) in enumerate(spec, start=1):
        row = request_row(seed * 100 + n)
        if not has_id:
            row["request_id"] = ""
        if two_lines:
            row["relevance"] = row["relevance"].replace(" after ", "\nafter ", 1)
        rows.append(row)
    return rows


def _encode(fmt: str, rows: list[dict[str, str]], spec: list[tuple[bool, bool, int]]) -> bytes:
    if fmt == "parquet":
        sink = io.BytesIO()
        columns = {c: [r[c] for r in rows] for c in REQUEST_COLUMNS}
        pq.write_table(pa.table(columns), sink)
        return sink.getvalue()
    out = io.StringIO(newline="")
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=list(REQUEST_COLUMNS), lineterminator="\n")
        writer.writeheader()
    for row, (_, _, blanks) in zip(rows, spec, strict=True):
        if fmt == "csv":
            writer.writerow(row)
        else:
            out.write(json.dumps(row) + "\n")
        out.write("\n" * blanks)
    return out.getvalue().encode("utf-8")


def _upload(api: Api, fmt: str, body: bytes) -> str:
    files = api.files()
    files["requests"] = (f"requests.{fmt}", body, "application/octet-stream")
    r = api.client.post("/v1/batches", files=files, headers=api.auth())
    assert r.status_code == 202, r.text
    return str(r.json()["batch_id"])


def _package_ids(api: Api, batch_id: str) -> list[str]:
    ids = []
    for name in PACKAGE_CSVS:
        f = api.client.get(f"/v1/batches/{batch_id}/files/{name}", headers=api.auth())
        assert f.status_code == 200, name
        ids += [r["request_id"] for r in csv.DictReader(io.StringIO(f.text))]
    return ids


def _check(api: Api, fmt: str, spec: list[tuple[bool, bool, int]], seed: int) -> None:
    rows = _rows(spec, seed)
    batch_id = _upload(api, fmt, _encode(fmt, rows, spec))
    status = api.client.get(f"/v1/batches/{batch_id}", headers=api.auth()).json()
    assert status["progress"]["rows_total"] == len(rows)
    api.run_queue()
    ids = _package_ids(api, batch_id)
    assert len(ids) == len(rows)
    generated = {f"#row-{n}" for n, (has_id, _, _) in enumerate(spec, start=1) if not has_id}
    assert {i for i in ids if i.startswith("#row-")} == generated
    assert sorted(i for i in ids if not i.startswith("#")) == sorted(
        r["request_id"] for r in rows if r["request_id"]
    )


def test_quoted_newlines_and_blank_lines_are_not_records(api: Api) -> None:
    spec = [(True, True, 1), (False, False, 2), (True, False, 0), (False, True, 1)]
    for seed, fmt in enumerate(("csv", "jsonl", "parquet"), start=1):
        _check(api, fmt, spec, seed)


_SLOW_OK = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


@settings(max_examples=12, deadline=None, suppress_health_check=_SLOW_OK)
@given(
    fmt=st.sampled_from(["csv", "jsonl", "parquet"]),
    spec=st.lists(RECORD, min_size=1, max_size=6),
    seed=st.integers(10, 10_000),
)
def test_rows_total_and_generated_ids_follow_records(
    api: Api, fmt: str, spec: list[tuple[bool, bool, int]], seed: int
) -> None:
    _check(api, fmt, spec, seed)
