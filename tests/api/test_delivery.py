"""What an agency gets back: every done batch's package wherever it was written, the
supplemental packages released for its batches (and never another agency's), the reason
a batch failed, and progress counted in records."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest

from taxmatch.files.inputs import load_policy
from taxmatch.pipeline.batch import BatchRequest, run_batch
from taxmatch.pipeline.review import Actor, decide_row, prepare_release
from taxmatch.policy.model import policy_sha256
from taxmatch.store.review import queue_page
from taxmatch.store.state import StateStore
from tests.api.conftest import AS_OF, Api
from tests.integration.conftest import request_row, write_envelope, write_requests

_JOHN = {"first_name": "John", "last_name": "Carter", "street_address": "410 Oak Avenue",
         "unit": "", "city": "Spokane", "zip": "99201"}  # fmt: skip  # Jr/Sr: AMBIGUOUS


def _status(api: Api, batch_id: str, agency: str = "ICE") -> dict[str, object]:
    r = api.client.get(f"/v1/batches/{batch_id}", headers=api.auth(agency))
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_a_batch_run_first_from_the_cli_elsewhere_is_served(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`batch run --out demo-out` (a relative path) first; the same upload through the API
    is that batch, done, and its files are served from where the run put them."""
    rows = [request_row(1), request_row(2, first_name="")]
    requests = write_requests(tmp_path / "cli-requests.csv", rows)
    envelope = write_envelope(tmp_path / "cli-envelope.json")
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    s = api.settings
    cli = run_batch(
        BatchRequest(
            store=s.store,
            requests=requests,
            envelope=envelope,
            out=Path("demo-out"),
            as_of=AS_OF,
            matcher="exact",
            database_url=s.database_url,
        )
    )
    monkeypatch.chdir(tmp_path)
    files = {
        "requests": ("requests.csv", requests.read_bytes(), "text/csv"),
        "envelope": ("envelope.json", envelope.read_bytes(), "application/json"),
    }
    r = api.client.post("/v1/batches", files=files, headers=api.auth())
    assert r.json()["batch_id"] == cli.batch_id
    api.run_queue()
    assert _status(api, cli.batch_id)["status"] == "done"
    for name in ("rejected.csv", "summary.json", "manifest.json"):
        f = api.client.get(f"/v1/batches/{cli.batch_id}/files/{name}", headers=api.auth())
        assert f.status_code == 200, name
        assert f.content == (workdir / "demo-out" / cli.batch_id / name).read_bytes()


def test_a_relative_out_is_recorded_absolute(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same batch run again from another directory returns its package (it used to
    fail TM500, exit 6: the package was looked for relative to the new directory)."""
    requests = write_requests(tmp_path / "r.csv", [request_row(1)])
    envelope = write_envelope(tmp_path / "e.json")
    s = api.settings

    def run() -> Path:
        return run_batch(
            BatchRequest(
                store=s.store,
                requests=requests,
                envelope=envelope,
                out=Path("out"),
                as_of=AS_OF,
                matcher="exact",
                database_url=s.database_url,
            )
        ).package

    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    monkeypatch.chdir(tmp_path / "a")
    first = run()
    monkeypatch.chdir(tmp_path / "b")
    again = run()
    assert again.is_absolute()
    assert again == (tmp_path / "a" / first).resolve()
    assert (again / "summary.json").is_file()
    assert not (tmp_path / "b" / "out").exists()


def _release_one(api: Api, batch_id: str) -> str:
    """An officer withholds the batch's held row and releases it: a supplement."""
    policy, text = load_policy(api.settings.policy)
    who = Actor("olive", "officer", "test")
    with StateStore(api.settings.database_url or "") as state:
        held = [i for i in queue_page(state, None, 50) if i.batch_id == batch_id]
        assert held, "the cast yields a held row"
        decide_row(state, batch_id, held[0].row_number, "withhold", "not the right person", who)
        release = prepare_release(
            api.settings.store, state, batch_id, who, policy, policy_sha256(text)
        )
        assert release.status == "released"
        return release.release_id


def test_supplements_are_listed_and_served_to_their_agency_only(
    make_api: object, tmp_path: Path
) -> None:
    both = tmp_path / "two-agencies.yaml"
    cbp = "  CBP:\n    authorised_titles: [Director]\n    safeguards_certified_until: 2027-09-30\n"
    cbp += "    max_records_per_officer: 50\n"
    both.write_text(load_policy(None)[1].replace("agencies:\n", "agencies:\n" + cbp, 1))
    api = make_api(policy=both)  # type: ignore[operator]
    ice = api.submit(rows=[request_row(1, **_JOHN), request_row(2)]).json()["batch_id"]
    cbp = api.submit(agency="CBP", rows=[request_row(3, **_JOHN)]).json()["batch_id"]
    api.run_queue()
    assert _status(api, ice)["supplements"] == []
    supplement = _release_one(api, ice)
    other = _release_one(api, cbp)
    assert supplement == f"{ice}-S1"

    listed = _status(api, ice)["supplements"]
    assert isinstance(listed, list)
    assert [x["supplement_id"] for x in listed] == [supplement]
    assert listed[0]["rows"] == 1
    assert "unmatched.csv" in listed[0]["files"]
    batches = api.client.get("/v1/batches", headers=api.auth()).json()["batches"]
    assert [x["supplement_id"] for b in batches for x in b["supplements"]] == [supplement]

    f = api.client.get(f"/v1/batches/{supplement}/files/unmatched.csv", headers=api.auth())
    assert f.status_code == 200, f.text
    assert [r["request_id"] for r in csv.DictReader(io.StringIO(f.text))] == ["REQ-00001"]
    summary = api.client.get(f"/v1/batches/{supplement}/files/summary.json", headers=api.auth())
    assert summary.json()["supplement_of"] == ice

    # Isolation: each agency sees its own supplement and nothing of the other's, exactly
    # as for an id that does not exist.
    for name in ("unmatched.csv", "summary.json", "manifest.json"):
        for agency, sid in (("CBP", supplement), ("ICE", other)):
            theirs = api.client.get(f"/v1/batches/{sid}/files/{name}", headers=api.auth(agency))
            assert theirs.status_code == 404
    missing = api.client.get(f"/v1/batches/{ice}-S2/files/summary.json", headers=api.auth())
    assert missing.status_code == 404
    assert theirs.json() == missing.json()
    assert [x["supplement_id"] for x in _status(api, cbp, "CBP")["supplements"]] == [other]


def test_a_failed_batch_gives_the_one_line_reason(make_api: object, tmp_path: Path) -> None:
    bad = tmp_path / "custodian-policy.yaml"
    text = load_policy(None)[1]
    bad.write_text(text + "\nsurprise: 1\n", encoding="utf-8")
    api = make_api(policy=bad)  # type: ignore[operator]
    batch_id = api.submit(rows=[request_row(1, first_name="Unique-Name-Value")]).json()["batch_id"]
    api.run_queue()
    status = _status(api, batch_id)
    assert status["status"] == "failed"
    assert status["error_code"] == "TM120"
    detail = "TM120: policy, field 'surprise': extra inputs are not permitted"
    assert status["error_detail"] == detail
    assert str(tmp_path) not in repr(status)


def test_a_failed_batch_names_the_part_row_field_never_a_path(api: Api) -> None:
    from taxmatch.store.jobs import JobQueue

    batch_id = api.submit().json()["batch_id"]
    job = JobQueue(api.client.app.state.service).find(batch_id)  # type: ignore[attr-defined]
    assert job is not None
    os.remove(job.requests_path)  # the stored upload is gone by the time a worker runs
    api.run_queue()
    status = _status(api, batch_id)
    assert status["status"] == "failed"
    detail = str(status["error_detail"])
    assert detail.startswith("TM100: requests: cannot be read"), detail
    assert "/" not in detail.split(":", 2)[1]
    assert _status(api, batch_id)["files"] == []


def test_a_request_file_missing_a_column_is_refused_at_upload_with_its_reason(api: Api) -> None:
    rows = [{k: v for k, v in request_row(1).items() if k != "relevance"}]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    files = api.files()
    files["requests"] = ("requests.csv", buf.getvalue().encode(), "text/csv")
    r = api.client.post("/v1/batches", files=files, headers=api.auth())
    assert r.status_code == 422
    assert r.json() == {
        "code": "TM100",
        "detail": "requests, field 'relevance': required column is missing",
    }
