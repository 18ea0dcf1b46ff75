"""``LookupService``: the warm matcher's life in a serving process — built once, not
rebuilt while current, never used once closed, a failed build not retried for the same
snapshot and model."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from taxmatch.pipeline.lookup import LookupConfig, LookupService
from taxmatch.reference.snapshot import reference_dir
from taxmatch.store.state import StateStore

from .conftest import request_row, write_envelope


@pytest.fixture
def store(model_store: Path, tmp_path: Path) -> Path:
    """A copy of the cast's snapshot and trained model (lookup index included)."""
    out = tmp_path / "store"
    shutil.copytree(reference_dir(model_store), reference_dir(out))
    shutil.copytree(model_store / "models", out / "models")
    return out


@pytest.fixture
def service(store: Path, tmp_path: Path) -> Iterator[LookupService]:
    state = StateStore(f"sqlite+pysqlite:///{tmp_path / 'state.sqlite3'}")
    svc = LookupService(LookupConfig(store, tmp_path / "out"), state)
    yield svc
    svc.close()
    state.close()


def _ready(svc: LookupService, within: float = 60.0) -> str:
    deadline = time.monotonic() + within
    while svc.status == "warming" and time.monotonic() < deadline:
        time.sleep(0.05)
    return svc.status


def _envelope(tmp_path: Path, n: int) -> dict[str, object]:
    doc = json.loads(write_envelope(tmp_path / f"env-{n}.json").read_text(encoding="utf-8"))
    return {**doc, "request_letter_id": f"{doc['request_letter_id']}-{n}"}


def _lookup(svc: LookupService, tmp_path: Path, n: int) -> str:
    envelope = _envelope(tmp_path, n)
    answer = svc.lookup(str(envelope["requesting_agency"]), request_row(1), envelope, origin="test")
    return answer.disposition


def test_built_once_and_not_rebuilt_while_current(service: LookupService) -> None:
    service.start()
    assert _ready(service) == "warm"
    first = service._matcher
    service.start()  # nothing changed: no second build
    assert service._building is None
    assert service._matcher is first


def test_a_closed_matcher_is_never_used(service: LookupService, tmp_path: Path) -> None:
    """A lookup that got the matcher just before it was replaced and closed goes cold."""
    service.start()
    assert _ready(service) == "warm"
    matcher = service._matcher
    assert matcher is not None
    assert _lookup(service, tmp_path, 1) == "disclosed"
    with matcher.lock:  # as a replacing build does, while a lookup waits on the lock
        matcher.close()
    assert matcher.closed
    assert _lookup(service, tmp_path, 2) == "disclosed"  # answered cold, no error


def test_failed_build_is_retried_only_for_another_model(
    service: LookupService, store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import taxmatch.pipeline.lookup as lookup

    builds: list[int] = []

    class Failing:
        def __init__(self, *args: object, **kwargs: object) -> None:
            builds.append(1)
            raise OSError("disk full")

    monkeypatch.setattr(lookup, "WarmMatcher", Failing)
    service.start()
    assert _ready(service) == "cold"
    assert _lookup(service, tmp_path, 1) == "disclosed"  # cold, same answer
    assert _ready(service) == "cold"
    assert len(builds) == 1  # not retried for the same snapshot and model
    # a new model (another sha256) is worth another try
    model = next((store / "models").glob("*/model.json"))
    model.write_text(model.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    _lookup(service, tmp_path, 2)
    _ready(service)
    assert len(builds) == 2


def test_without_warm_lookups_nothing_is_built(store: Path, tmp_path: Path) -> None:
    state = StateStore(f"sqlite+pysqlite:///{tmp_path / 'state.sqlite3'}")
    svc = LookupService(LookupConfig(store, tmp_path / "out"), state, warm=False)
    try:
        svc.start()
        assert _lookup(svc, tmp_path, 1) == "disclosed"
        assert svc._building is None
        assert svc.status == "cold"
    finally:
        svc.close()
        state.close()


def test_a_lookup_leaves_no_row_in_the_matcher(service: LookupService, tmp_path: Path) -> None:
    """The answer returns before the matcher is cleared; the next holder of its lock (the
    next lookup, or close) finds it cleared."""
    service.start()
    assert _ready(service) == "warm"
    matcher = service._matcher
    assert matcher is not None
    assert _lookup(service, tmp_path, 1) == "disclosed"
    with matcher.lock:
        tables = {
            r[0]
            for r in matcher.con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name IN ('memory', 'temp')"
            ).fetchall()
        }
        assert not tables & {"records", "final", "outcomes", "req_features", "nick"}
    assert _lookup(service, tmp_path, 2) == "disclosed"
