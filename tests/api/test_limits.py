"""Limits: request rate and daily row quota (429 with Retry-After), upload size (413,
enforced while streaming, nothing left on disk), and agency limits over serve defaults."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from taxmatch.api import upload
from taxmatch.store.service import ServiceStore
from tests.api.conftest import Api, envelope_doc
from tests.integration.conftest import request_row


def test_rate_limit_is_429_with_retry_after(make_api: Callable[..., Api]) -> None:
    api = make_api(rate_per_minute=3)
    for _ in range(3):
        assert api.client.get("/v1/batches", headers=api.auth()).status_code == 200
    r = api.client.get("/v1/batches", headers=api.auth())
    assert r.status_code == 429
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    # per agency: another agency is not slowed down
    assert api.client.get("/v1/batches", headers=api.auth("CBP")).status_code == 200


def test_agency_limit_overrides_the_serve_default(make_api: Callable[..., Api]) -> None:
    api = make_api(rate_per_minute=100)
    with ServiceStore(api.settings.database_url or "") as service:
        service.add_agency("DHS", rate_per_minute=1)
        limited = {"Authorization": f"Bearer {service.issue_token('DHS')}"}
    assert api.client.get("/v1/batches", headers=limited).status_code == 200
    assert api.client.get("/v1/batches", headers=limited).status_code == 429
    assert api.client.get("/v1/batches", headers=api.auth()).status_code == 200


def test_daily_row_quota(make_api: Callable[..., Api]) -> None:
    api = make_api(daily_row_quota=3)
    too_many = api.submit(rows=[request_row(n) for n in range(1, 5)])
    assert too_many.status_code == 429
    assert int(too_many.headers["Retry-After"]) >= 1
    assert api.submit(rows=[request_row(n) for n in range(1, 3)]).status_code == 202
    # resubmitting the same batch is not charged again
    assert api.submit(rows=[request_row(n) for n in range(1, 3)]).status_code == 202
    body = {"request": request_row(7), "envelope": envelope_doc()}
    assert api.client.post("/v1/lookups", json=body, headers=api.auth()).status_code == 200
    assert api.client.post("/v1/lookups", json=body, headers=api.auth()).status_code == 429
    assert not list(api.settings.uploads.glob("tmp-*"))


def test_upload_over_the_limit_is_413_by_declared_length(make_api: Callable[..., Api]) -> None:
    api = make_api(max_upload_bytes=4096)
    rows = [request_row(n) for n in range(1, 40)]
    r = api.submit(rows=rows)
    assert r.status_code == 413
    assert not list(api.settings.uploads.glob("tmp-*"))
    assert api.client.get("/v1/batches", headers=api.auth()).json()["batches"] == []


def test_upload_over_the_limit_is_cut_off_while_streaming(
    make_api: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No Content-Length (chunked): the limit is enforced on the bytes as they arrive, and
    the parser never stores more than the limit."""
    api = make_api(max_upload_bytes=64 * 1024)
    stored = 0
    original = upload._Sink.on_part_data

    def counting(self: upload._Sink, data: bytes, start: int, end: int) -> None:
        nonlocal stored
        stored += end - start
        original(self, data, start, end)

    monkeypatch.setattr(upload._Sink, "on_part_data", counting)

    def body() -> Iterator[bytes]:
        yield (
            b'--XyZ\r\nContent-Disposition: form-data; name="requests"; '
            b'filename="r.csv"\r\nContent-Type: text/csv\r\n\r\nrequest_id\n'
        )
        for _ in range(200):  # ~1.6 MB
            yield b"x" * 8191 + b"\n"

    headers = {**api.auth(), "Content-Type": "multipart/form-data; boundary=XyZ"}
    r = api.client.post("/v1/batches", content=body(), headers=headers)
    assert r.status_code == 413
    assert stored <= 64 * 1024  # TestClient may hand over one big chunk: then 0
    assert not list(api.settings.uploads.glob("tmp-*"))


def test_malformed_uploads_are_4xx(api: Api) -> None:
    auth = api.auth()
    assert api.client.post("/v1/batches", content=b"x", headers=auth).status_code == 422
    files = api.files()
    only_requests = {"requests": files["requests"]}
    assert api.client.post("/v1/batches", files=only_requests, headers=auth).status_code == 422
    bad_env = {**files, "envelope": ("e.json", b"{not json", "application/json")}
    r = api.client.post("/v1/batches", files=bad_env, headers=auth)
    assert r.status_code == 422
    assert "/" not in r.json()["detail"].split(":")[0]  # names the part, not a server path
    bad_type = {**files, "requests": ("r.xlsx", b"a,b\n", "application/octet-stream")}
    assert api.client.post("/v1/batches", files=bad_type, headers=auth).status_code == 422
    assert not list(api.settings.uploads.glob("tmp-*"))
