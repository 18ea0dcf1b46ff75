"""Batches end to end over HTTP, on SQLite and PostgreSQL: upload → queue → worker →
status with progress and counts → package files; idempotent resubmission."""

from __future__ import annotations

import csv
import io

from taxmatch.store.state import StateStore
from tests.api.conftest import Api
from tests.integration.conftest import request_row


def test_health(api: Api) -> None:
    r = api.client.get("/v1/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def test_upload_run_status_and_files(api: Api) -> None:
    rows = [request_row(1), request_row(2, first_name=""), request_row(3, last_name="Nobody")]
    r = api.submit(rows=rows)
    assert r.status_code == 202, r.text
    batch_id = r.json()["batch_id"]
    status = api.client.get(f"/v1/batches/{batch_id}", headers=api.auth()).json()
    assert status["status"] == "queued"
    assert status["progress"]["rows_total"] == 3
    assert status["files"] == []
    assert (
        api.client.get(
            f"/v1/batches/{batch_id}/files/disclosed.csv", headers=api.auth()
        ).status_code
        == 404
    )

    assert api.run_queue() == 1
    status = api.client.get(f"/v1/batches/{batch_id}", headers=api.auth()).json()
    assert status["status"] == "done", status
    assert status["progress"]["rows_done"] == 3
    assert sum(status["counts"].values()) == 3
    assert status["counts"].get("REJECTED") == 1
    f = api.client.get(f"/v1/batches/{batch_id}/files/rejected.csv", headers=api.auth())
    assert f.status_code == 200
    rejected = list(csv.DictReader(io.StringIO(f.text)))
    assert [x["request_id"] for x in rejected] == ["REQ-00002"]
    summary = api.client.get(f"/v1/batches/{batch_id}/files/summary.json", headers=api.auth())
    assert summary.json()["batch_id"] == batch_id
    listing = api.client.get("/v1/batches", headers=api.auth()).json()["batches"]
    assert [b["batch_id"] for b in listing] == [batch_id]


def test_resubmission_is_the_same_batch_and_not_rerun(api: Api) -> None:
    first = api.submit().json()["batch_id"]
    api.run_queue()
    again = api.submit()
    assert again.status_code == 202
    assert again.json()["batch_id"] == first
    assert api.run_queue() == 0


def test_idempotency_key_returns_the_first_batch(api: Api) -> None:
    key = {"Idempotency-Key": "upload-7"}
    first = api.submit(headers=key).json()["batch_id"]
    retried = api.submit(headers=key)  # the same upload again under the key
    assert retried.status_code == 202
    assert retried.json()["batch_id"] == first
    # Another file under a used key is refused (it was answered with the first batch
    # before schema 0010; the key now names one upload only).
    other = api.submit(rows=[request_row(9)], headers=key)
    assert other.status_code == 409, other.text
    assert other.json()["code"] == "TM750"
    assert [
        b["batch_id"] for b in api.client.get("/v1/batches", headers=api.auth()).json()["batches"]
    ] == [first]


def test_idempotency_key_is_kept_when_the_upload_matches_an_existing_batch(api: Api) -> None:
    first = api.submit().json()["batch_id"]  # no key
    key = {"Idempotency-Key": "retry-1"}
    again = api.submit(headers=key)  # the same content: the existing batch, key now bound
    assert again.json()["batch_id"] == first
    other = api.submit(rows=[request_row(9)], headers=key)
    assert other.status_code == 409, other.text
    assert api.submit(headers=key).json()["batch_id"] == first
    listing = api.client.get("/v1/batches", headers=api.auth()).json()["batches"]
    assert [b["batch_id"] for b in listing] == [first]


def test_every_call_is_an_audit_event_with_no_values(api: Api) -> None:
    batch_id = api.submit().json()["batch_id"]
    api.client.get(f"/v1/batches/{batch_id}", headers=api.auth())
    api.client.get("/v1/batches")  # no token
    with StateStore(api.settings.database_url or "") as state:
        calls = [e for e in state.iter_ledger() if e.event_type == "api_call"]
    objects = [(e.actor, e.object_id, e.success) for e in calls]
    assert ("ICE", f"POST /v1/batches {batch_id}", True) in objects
    assert ("ICE", f"GET /v1/batches/{{batch_id}} {batch_id}", True) in objects
    assert ("anonymous", "GET /v1/batches -", False) in objects
    text = repr(calls)
    assert "Maria" not in text
    assert "Main St" not in text
    assert all(e.origin.startswith("api@") for e in calls)


def test_in_process_worker_runs_the_batch(make_api: object) -> None:
    import time

    api = make_api(worker_threads=1)  # type: ignore[operator]
    batch_id = api.submit().json()["batch_id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = api.client.get(f"/v1/batches/{batch_id}", headers=api.auth()).json()
        if status["status"] in ("done", "failed"):
            break
        time.sleep(0.1)
    assert status["status"] == "done", status
