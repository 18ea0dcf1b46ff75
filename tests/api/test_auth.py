"""Authentication, the kill switch and isolation: every route with no token, a bad one, a
revoked one, a suspended agency's, and another agency's (0 cross-agency reads)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import duckdb
import pytest

from taxmatch.api.schemas import PACKAGE_FILES
from taxmatch.match.exact import match_exact
from taxmatch.pipeline import matching
from taxmatch.pipeline import worker as worker_module
from taxmatch.store.jobs import JobQueue
from taxmatch.store.service import ServiceStore
from taxmatch.store.state import StateStore
from tests.api.conftest import Api, envelope_doc
from tests.integration.conftest import accounted, request_row


def _routes(batch_id: str) -> list[tuple[str, str]]:
    return [
        ("GET", "/v1/batches"),
        ("GET", f"/v1/batches/{batch_id}"),
        ("POST", "/v1/batches"),
        ("POST", "/v1/lookups"),
        *[("GET", f"/v1/batches/{batch_id}/files/{n}") for n in PACKAGE_FILES],
    ]


def _call(api: Api, method: str, path: str, headers: dict[str, str]) -> Any:
    if path == "/v1/lookups":
        body = {"request": request_row(1), "envelope": envelope_doc("ICE")}
        return api.client.post(path, json=body, headers=headers)
    if method == "POST":
        return api.client.post(path, files=api.files(), headers=headers)
    return api.client.get(path, headers=headers)


def _done_batch(api: Api) -> str:
    batch_id: str = api.submit().json()["batch_id"]
    assert api.run_queue() == 1
    return batch_id


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer tm_not-a-token"}, {"Authorization": "Basic dXNlcjpwYXNz"},
     {"Authorization": "Bearer"}],
    ids=["none", "unknown", "basic", "empty"],
)  # fmt: skip
def test_every_route_needs_a_valid_token(api: Api, headers: dict[str, str]) -> None:
    batch_id = _done_batch(api)
    for method, path in _routes(batch_id):
        r = _call(api, method, path, headers)
        assert r.status_code == 401, (method, path)
        assert r.headers["WWW-Authenticate"] == "Bearer"


def test_revoked_token_is_401_and_new_token_works(api: Api) -> None:
    with ServiceStore(api.settings.database_url or "") as service:
        assert service.revoke_tokens("ICE") == 1
        fresh = service.issue_token("ICE")
    assert api.client.get("/v1/batches", headers=api.auth()).status_code == 401
    ok = api.client.get("/v1/batches", headers={"Authorization": f"Bearer {fresh}"})
    assert ok.status_code == 200


def test_other_agency_reads_nothing(api: Api) -> None:
    batch_id = _done_batch(api)
    cross_reads = 0
    for method, path in _routes(batch_id):
        if method == "POST":
            continue
        r = api.client.get(path, headers=api.auth("CBP"))
        if path == "/v1/batches":
            assert r.status_code == 200
            cross_reads += len(r.json()["batches"])
        else:
            assert r.status_code == 404, path
            cross_reads += int(r.status_code == 200)
            assert batch_id not in r.text
    assert cross_reads == 0
    # and the owner can read all of it
    for method, path in _routes(batch_id):
        if method == "GET":
            assert api.client.get(path, headers=api.auth()).status_code == 200, path


def test_envelope_of_another_agency_is_refused(api: Api) -> None:
    r = api.client.post("/v1/batches", files=api.files(agency="ICE"), headers=api.auth("CBP"))
    assert r.status_code == 403
    assert "ICE" not in r.json()["detail"]
    body = {"request": request_row(1), "envelope": envelope_doc("ICE")}
    assert api.client.post("/v1/lookups", json=body, headers=api.auth("CBP")).status_code == 403
    assert not list(api.settings.uploads.glob("tmp-*"))


def test_idempotency_keys_are_per_agency(api: Api) -> None:
    key = {"Idempotency-Key": "same-key"}
    ice = api.submit(headers=key).json()["batch_id"]
    cbp = api.submit(agency="CBP", headers=key)
    assert cbp.status_code == 202
    assert cbp.json()["batch_id"] != ice


def test_suspended_agency_is_403_everywhere_and_its_queue_stops(api: Api) -> None:
    batch_id = _done_batch(api)
    queued = api.submit(rows=[request_row(5)]).json()["batch_id"]
    with ServiceStore(api.settings.database_url or "") as service:
        service.set_agency_status("ICE", "suspended")
        JobQueue(service).fail_agency_jobs("ICE", "TM701")
    for method, path in _routes(batch_id):
        assert _call(api, method, path, api.auth()).status_code == 403, path
    assert api.run_queue() == 0
    with ServiceStore(api.settings.database_url or "") as service:
        job = JobQueue(service).find(queued)
        service.set_agency_status("ICE", "active")
    assert job is not None
    assert (job.status, job.error_code) == ("failed", "TM701")
    assert not (api.settings.packages / queued).exists()


@pytest.mark.parametrize("when", ["between windows", "while the writer waits"])
def test_suspension_while_running_stops_before_release(
    api: Api, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    """The kill switch thrown as the package writer starts on a matched window, or while it
    waits for the matcher (which would go on for a minute): the same failed batch, with
    no decision and no package; the matcher is stopped, not waited for."""
    batch_id = api.submit().json()["batch_id"]
    original = worker_module.JobProgress.stage
    matched: list[bool] = []

    def suspend() -> None:
        with ServiceStore(api.settings.database_url or "") as service:
            service.set_agency_status("ICE", "suspended")

    def suspend_then_stage(self: Any, name: str, total: int | None) -> None:
        if name == "writing package":
            suspend()
        original(self, name, total)

    def suspend_then_match(con: duckdb.DuckDBPyConnection, reference: Path) -> None:
        if threading.current_thread().name == "taxmatch-match":  # not the shadow probes
            suspend()
            for _ in range(10):  # a minute of matching, query after query
                con.execute("SELECT sum(range % 7) FROM range(1_000_000_000)").fetchall()
            matched.append(True)
        match_exact(con, reference)

    if when == "between windows":
        monkeypatch.setattr(worker_module.JobProgress, "stage", suspend_then_stage)
    else:
        monkeypatch.setattr(matching, "match_exact", suspend_then_match)
    assert api.run_queue() == 1
    with ServiceStore(api.settings.database_url or "") as service:
        job = JobQueue(service).find(batch_id)
        service.set_agency_status("ICE", "active")
    assert job is not None
    assert (job.status, job.error_code) == ("failed", "TM701")
    assert not (api.settings.packages / batch_id).exists()
    with StateStore(api.settings.database_url or "") as state:
        batch = state.find_batch(batch_id)
        assert batch is not None
        assert (batch.status, len(list(state.iter_decisions(batch_id)))) == ("failed", 0)
    assert matched == []
    status = api.client.get(f"/v1/batches/{batch_id}", headers=api.auth()).json()
    assert status["status"] == "failed"
    assert status["files"] == []
    r = api.client.get(f"/v1/batches/{batch_id}/files/disclosed.csv", headers=api.auth())
    assert r.status_code == 404


@pytest.mark.parametrize("when", ["after decisions", "sealing"])
def test_suspension_after_decisions_discloses_nothing(
    api: Api, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, when: str
) -> None:
    """The kill switch pulled once the batch's decisions are recorded (while the package is
    written, or just before it is sealed): the batch fails and no reader of the accounting,
    nor the ledger, shows any of its disclosures."""
    rows = [request_row(n) for n in (1, 2, 3)]  # three disclosures about one taxpayer
    batch_id = api.submit(rows=rows).json()["batch_id"]
    original = worker_module.JobProgress.advance
    original_stage = worker_module.JobProgress.stage

    def suspend() -> None:
        with ServiceStore(api.settings.database_url or "") as service:
            service.set_agency_status("ICE", "suspended")

    def advance(self: Any, n: int) -> None:
        if when == "after decisions" and self._stage == "writing package":
            suspend()
        original(self, n)

    def stage(self: Any, name: str, total: int | None) -> None:
        if name != "writing package" and self._stage == "writing package":
            suspend()  # the package's rows are all written: the next stage seals it
        original_stage(self, name, total)

    monkeypatch.setattr(worker_module.JobProgress, "advance", advance)
    if when == "sealing":
        monkeypatch.setattr(worker_module.JobProgress, "stage", stage)
    assert api.run_queue() == 1
    with ServiceStore(api.settings.database_url or "") as service:
        job = JobQueue(service).find(batch_id)
        service.set_agency_status("ICE", "active")
    assert job is not None
    assert (job.status, job.error_code) == ("failed", "TM701")
    with StateStore(api.settings.database_url or "") as state:
        batch = state.find_batch(batch_id)
        assert batch is not None
        assert (batch.status, len(list(state.iter_decisions(batch_id)))) == ("failed", 3)
        assert state.verify_ledger().ok
    assert not (api.settings.packages / batch_id).exists()
    shown = accounted(
        api.settings.store, api.settings.database_url, batch_id, ["123456789"], tmp_path
    )
    assert shown == dict.fromkeys(shown, 0)
