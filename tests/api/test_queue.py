"""The durable queue: claims never overlap, and a job left running by a dead worker (its
lease expired) is picked up and finished with no duplicate disclosure."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from taxmatch.pipeline.batch import BatchRequest, run_batch
from taxmatch.store.jobs import JobQueue
from taxmatch.store.state import StateStore
from tests.api.conftest import Api
from tests.integration.conftest import request_row


def test_two_workers_never_claim_the_same_job(api: Api) -> None:
    a = api.submit(rows=[request_row(1)]).json()["batch_id"]
    b = api.submit(rows=[request_row(2)]).json()["batch_id"]
    queue = JobQueue(api.client.app.state.service)  # type: ignore[attr-defined]
    first = queue.claim("w1", 60)
    second = queue.claim("w2", 60)
    assert first is not None
    assert second is not None
    assert {first.batch_id, second.batch_id} == {a, b}
    assert queue.claim("w3", 60) is None
    # a live lease is not taken over, an expired one is
    later = datetime.now(UTC) + timedelta(seconds=120)
    stolen = queue.claim("w3", 60, now=later)
    assert stolen is not None
    assert stolen.attempts == 2


def test_killed_mid_batch_resumes_without_duplicate_disclosure(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [
        request_row(1),
        request_row(
            2,
            first_name="John",
            last_name="Carter",
            suffix="Jr",
            street_address="410 Oak Avenue",
            unit="",
            city="Spokane",
            state="WA",
            zip="99201",
        ),
    ]
    batch_id = api.submit(rows=rows).json()["batch_id"]
    queue = JobQueue(api.client.app.state.service)  # type: ignore[attr-defined]
    dead = queue.claim("dead-worker", 0.01)
    assert dead is not None

    # The dead worker got as far as recording decisions, then was killed: simulated by an
    # exception after the package stage began, with the job left "running" under its lease.
    class Killed(BaseException):
        pass

    class DiesWhileWriting:
        def stage(self, name: str, total: int | None) -> None:
            if name == "writing package":
                raise Killed

        def advance(self, n: int) -> None:
            return None

    s = api.settings
    req = BatchRequest(
        store=s.store,
        requests=Path(dead.requests_path),
        envelope=Path(dead.envelope_path),
        out=s.packages,
        as_of=s.as_of or dead.created_at.date(),
        matcher=s.matcher,
        database_url=s.database_url,
        actor="ICE",
        origin="worker@dead",
    )
    with pytest.raises(Killed):
        run_batch(req, DiesWhileWriting())
    assert queue.find(batch_id).status == "running"  # type: ignore[union-attr]
    assert not (s.packages / batch_id).exists()

    assert api.run_queue() == 1  # the restarted server's worker takes the expired lease
    job = queue.find(batch_id)
    assert job is not None
    assert (job.status, job.attempts) == ("done", 2)
    with (s.packages / batch_id / "disclosed.csv").open(newline="") as fh:
        disclosed = [r["request_id"] for r in csv.DictReader(fh)]
    assert len(disclosed) == len(set(disclosed))
    with StateStore(s.database_url or "") as state:
        assert state.verify_ledger().ok
        delivered = [
            e
            for e in state.iter_ledger()
            if e.event_type == "package_delivered" and e.object_id == batch_id
        ]
        assert len(list(state.iter_decisions(batch_id))) == 2
    assert len(delivered) == 1
