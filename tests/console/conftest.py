"""Console fixtures: a store with synthetic batches and decisions (no matching run), three
officers, and the console mounted at /console in a bare FastAPI app.

Synthetic ids only; no person's value is stored (decisions carry none)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from taxmatch.console import ConsoleSettings, console_app
from taxmatch.files.inputs import load_policy
from taxmatch.pipeline.officers import add_officer
from taxmatch.policy.model import policy_sha256
from taxmatch.store.decision_rows import cells_of
from taxmatch.store.state import BatchRow, DecisionRow, StateStore

PASSWORD = "correct horse battery"
ORIGIN = "http://testserver"
OFFICERS = {"olive": "officer", "sam": "supervisor", "sue": "supervisor", "ada": "auditor"}


def policy_text(threshold: int) -> str:
    _, text = load_policy(None)
    assert "batch_release_threshold: 1000" in text
    return text.replace("batch_release_threshold: 1000", f"batch_release_threshold: {threshold}")


def make_batch(
    state: StateStore,
    batch_id: str,
    *,
    created: datetime,
    policy_sha: str,
    out: Path,
    rows: int = 6,
    agency: str = "ICE",
) -> None:
    """Rows: 1 DISCLOSED, 2 REVIEW, 3 AMBIGUOUS, 4 rejected R01;R03, 5 NO_MATCH, 6+ REVIEW."""
    state.create_batch(
        BatchRow(
            batch_id=batch_id,
            agency=agency,
            request_letter_id="LTR-1",
            input_sha256="a" * 64,
            envelope_sha256="b" * 64,
            policy_version="2026.1",
            policy_sha256=policy_sha,
            input_rows=rows,
            status="done",
            created_at=created,
            finished_at=created,
            counts={
                "DISCLOSED": 1,
                "REVIEW": rows - 4,
                "AMBIGUOUS": 1,
                "REJECTED": 1,
                "NO_MATCH": 1,
            },
            package_dir=str(out / batch_id),
            as_of=date(2026, 11, 30),
            matcher="exact",
            reference_id="ref-1",
        )
    )
    kinds = {
        1: ("disclosed", "DISCLOSED"),
        3: ("unmatched", "AMBIGUOUS"),
        4: ("rejected", None),
        5: ("unmatched", "NO_MATCH"),
    }
    decisions = []
    for n in range(1, rows + 1):
        disposition, outcome = kinds.get(n, ("pending", "REVIEW"))
        decisions.append(
            DecisionRow(
                batch_id,
                n,
                f"REQ-{batch_id}-{n}",
                disposition,
                outcome,
                "R01;R03" if outcome is None else "",
                "first_name" if outcome is None else "",
                f"D-{batch_id}-{n}" if n == 1 else None,
                None if outcome is None else 0.99,
                None,
            )
        )
    state.record_decisions(batch_id, [cells_of(d) for d in decisions], chunk=1)


@dataclass
class Console:
    client: TestClient
    state: StateStore
    store: Path
    settings: ConsoleSettings

    def login(self, username: str, password: str = PASSWORD) -> None:
        self.client.cookies.clear()
        r = self.client.post(
            "/console/login",
            data={"username": username, "password": password},
            headers={"Origin": ORIGIN},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text

    def post(self, path: str, **data: str) -> object:
        return self.client.post(path, data=data, headers={"Origin": ORIGIN}, follow_redirects=False)


def build_console(store: Path, url: str, threshold: int, same_policy: bool = True) -> Console:
    text = policy_text(threshold)
    policy = store / "policy.yaml"
    store.mkdir(parents=True, exist_ok=True)
    policy.write_text(text, encoding="utf-8")
    state = StateStore(url)
    sha = policy_sha256(text) if same_policy else "c" * 64
    now = datetime.now(UTC)
    make_batch(state, "B-OLD", created=now - timedelta(days=2), policy_sha=sha, out=store / "out")
    make_batch(state, "B-NEW", created=now - timedelta(days=1), policy_sha=sha, out=store / "out")
    for name, role in OFFICERS.items():
        add_officer(state, name, role, PASSWORD, actor="test", origin="test")
    settings = ConsoleSettings(store=store, database_url=url, policy=policy)
    app = FastAPI()
    app.mount("/console", console_app(settings))
    client = TestClient(app, raise_server_exceptions=False)
    return Console(client, state, store, settings)


@pytest.fixture
def console(state_url: str, tmp_path: Path) -> Iterator[Console]:
    c = build_console(tmp_path / "store", state_url, threshold=1000)
    try:
        yield c
    finally:
        c.client.close()
        c.settings.close()
        c.state.close()
