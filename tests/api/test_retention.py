"""Raw uploads are not kept forever (issue 12): once a job is finished its upload under
``STORE/api/uploads/`` is deleted; the copy kept for replay (0600) is the one copy."""

from __future__ import annotations

import stat
import threading

from taxmatch.pipeline.retain import inputs_dir
from taxmatch.store.jobs import JobQueue
from tests.api.conftest import Api
from tests.integration.conftest import request_row


def test_a_finished_jobs_upload_is_deleted_and_one_private_copy_kept(api: Api) -> None:
    batch_id = api.submit(rows=[request_row(1)]).json()["batch_id"]
    upload = api.settings.uploads / batch_id
    assert upload.is_dir()  # queued: the worker still needs it
    assert api.run_queue() == 1
    assert JobQueue(api.client.app.state.service).find(batch_id).status == "done"  # type: ignore[attr-defined, union-attr]
    assert not upload.exists()
    kept = sorted(p.name for p in inputs_dir(api.settings.store, batch_id).iterdir())
    assert kept == ["envelope.json", "policy.yaml", "requests.csv"]
    for path in inputs_dir(api.settings.store, batch_id).iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_failed_jobs_upload_is_deleted_too(api: Api) -> None:
    batch_id = api.submit(rows=[request_row(1)]).json()["batch_id"]
    api.client.app.state.service.set_agency_status("ICE", "suspended")  # type: ignore[attr-defined]
    api.run_queue()
    assert JobQueue(api.client.app.state.service).find(batch_id).status == "failed"  # type: ignore[attr-defined, union-attr]
    assert not (api.settings.uploads / batch_id).exists()


def test_a_worker_sweeps_uploads_left_by_one_killed_before_deleting(api: Api) -> None:
    batch_id = api.submit(rows=[request_row(1)]).json()["batch_id"]
    api.run_queue()
    left = api.settings.uploads / batch_id
    left.mkdir()
    (left / "requests.csv").write_text("request_id\n")
    queued = api.submit(rows=[request_row(2)]).json()["batch_id"]
    stop = threading.Event()
    stop.set()  # sweep, then stop before claiming anything
    api.worker().run_forever(stop)
    assert not left.exists()
    assert (api.settings.uploads / queued).is_dir()  # still queued: kept
