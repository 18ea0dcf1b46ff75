"""API fixtures: a per-test store holding a copy of the tiny reference, an app on the
``state_url`` backend (SQLite and PostgreSQL), agencies ICE and CBP with tokens, and
helpers to upload a batch and run the queue by hand (worker threads off by default)."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from taxmatch.api import ApiSettings, create_app
from taxmatch.pipeline.worker import Worker
from taxmatch.reference.snapshot import reference_dir
from taxmatch.store.service import ServiceStore
from tests.integration.conftest import (
    AS_OF,
    reference_store,
    request_row,
    write_envelope,
    write_requests,
)

__all__ = ["AS_OF", "reference_store", "request_row"]


@dataclass
class Api:
    client: TestClient
    settings: ApiSettings
    tokens: dict[str, str]
    tmp: Path

    def auth(self, agency: str = "ICE") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[agency]}"}

    def files(
        self, rows: list[dict[str, str]] | None = None, agency: str = "ICE", **envelope: Any
    ) -> dict[str, Any]:
        n = len(list(self.tmp.glob("req-*.csv")))
        req = write_requests(self.tmp / f"req-{n}.csv", rows or [request_row(1)])
        env = write_envelope(self.tmp / f"env-{n}.json", requesting_agency=agency, **envelope)
        return {
            "requests": ("requests.csv", req.read_bytes(), "text/csv"),
            "envelope": ("envelope.json", env.read_bytes(), "application/json"),
        }

    def submit(
        self,
        agency: str = "ICE",
        rows: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        **envelope: Any,
    ) -> Any:
        return self.client.post(
            "/v1/batches",
            files=self.files(rows, agency, **envelope),
            headers={**self.auth(agency), **(headers or {})},
        )

    def worker(self) -> Worker:
        config = replace(self.settings.worker_config(), lease_seconds=30, report_seconds=0.0)
        return Worker(config, self.client.app.state.service)  # type: ignore[attr-defined]

    def run_queue(self) -> int:
        w, n = self.worker(), 0
        while w.run_one():
            n += 1
        return n


def envelope_doc(agency: str = "ICE") -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(
        write_envelope(Path(tempfile.mkstemp()[1]), requesting_agency=agency).read_text()
    )
    return doc


@pytest.fixture
def api_store(reference_store: Path, tmp_path: Path) -> Path:
    store = tmp_path / "store"
    shutil.copytree(reference_dir(reference_store), reference_dir(store))
    return store


@pytest.fixture
def make_api(api_store: Path, state_url: str, tmp_path: Path) -> Iterator[Callable[..., Api]]:
    clients: list[TestClient] = []

    def make(**overrides: Any) -> Api:
        opts: dict[str, Any] = {
            "store": api_store,
            "database_url": state_url,
            "matcher": "exact",
            "worker_threads": 0,
            "as_of": AS_OF,
            "poll_seconds": 0.05,
        }
        opts.update(overrides)
        settings = ApiSettings(**opts)
        tokens: dict[str, str] = {}
        with ServiceStore(state_url) as service:
            for name in ("ICE", "CBP"):
                if service.get_agency(name) is None:
                    service.add_agency(name)
                tokens[name] = service.issue_token(name)
        client = TestClient(create_app(settings))
        client.__enter__()
        clients.append(client)
        return Api(client, settings, tokens, tmp_path)

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()
