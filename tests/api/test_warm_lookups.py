"""``POST /v1/lookups`` on a warm matcher: the server builds it in the background
(health says ``warming`` then ``warm``), and its answers are those of a server without one.
On SQLite and PostgreSQL (the warm lookup records its batch in the shared state store)."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from taxmatch.match.warm import WarmMatcher
from taxmatch.reference.snapshot import reference_dir
from tests.api.conftest import Api, envelope_doc
from tests.integration.conftest import model_store, request_row

__all__ = ["model_store"]

WARM_WITHIN = 60.0  # seconds

RECORDS = [
    request_row(1),  # Maria: disclosed
    request_row(2, first_name="John", last_name="Carter", street_address="410 Oak Ave",
                unit="", city="Spokane", zip="99201"),  # Jr/Sr: ambiguous
    request_row(3, first_name="Rosa", last_name="Parks", street_address="5 Cedar Lane",
                unit="", city="Olympia", zip="98501"),  # missing unit: pending
    request_row(4, first_name="Nobody", last_name="Known"),  # no match
    request_row(5, statute="26 U.S.C. 7201"),  # rejected
]  # fmt: skip


@pytest.fixture
def api_store(model_store: Path, tmp_path: Path) -> Path:
    """A copy of the cast's snapshot and its trained model."""
    store = tmp_path / "store"
    shutil.copytree(reference_dir(model_store), reference_dir(store))
    shutil.copytree(model_store / "models", store / "models")
    return store


def _wait_warm(api: Api) -> None:
    deadline = time.monotonic() + WARM_WITHIN
    seen = []
    while time.monotonic() < deadline:
        r = api.client.get("/v1/health")
        assert r.status_code == 200, r.text
        seen.append(r.json()["lookups"])
        if seen[-1] == "warm":
            return
        assert seen[-1] == "warming"
        time.sleep(0.05)
    pytest.fail(f"lookups not warm within {WARM_WITHIN} s (last: {seen[-1:]})")


def _lookup(api: Api, record: dict[str, str], letter: str) -> dict[str, Any]:
    body = {"request": record, "envelope": {**envelope_doc(), "request_letter_id": letter}}
    r = api.client.post("/v1/lookups", json=body, headers=api.auth())
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


def _decision(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer without what depends on the batch id or the clock."""
    out = {k: v for k, v in answer.items() if k not in ("batch_id", "seconds")}
    if out["disclosure"] is not None:
        out["disclosure"] = {k: v for k, v in out["disclosure"].items() if k != "disclosure_id"}
    return out


def _digest(doc: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def test_warm_lookups_answer_as_cold_ones(
    make_api: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    scored: list[int] = []
    match = WarmMatcher.match

    def counted(self: WarmMatcher, **kwargs: float) -> None:
        scored.append(1)
        match(self, **kwargs)

    monkeypatch.setattr(WarmMatcher, "match", counted)
    warm = make_api(matcher="probabilistic", warm_lookups=True)
    _wait_warm(warm)
    warm_answers = [_lookup(warm, r, "LTR-WARM") for r in RECORDS]
    assert len(scored) == len(RECORDS)  # every lookup scored on the warm matcher

    cold = make_api(matcher="probabilistic", warm_lookups=False)
    assert cold.client.get("/v1/health").json()["lookups"] == "cold"
    cold_answers = [_lookup(cold, r, "LTR-COLD") for r in RECORDS]
    assert len(scored) == len(RECORDS)  # the cold server has no warm matcher

    assert {a["batch_id"] for a in warm_answers}.isdisjoint(a["batch_id"] for a in cold_answers)
    # compared by digest: a failure names the lookups that differ, never their values
    differ = [
        i
        for i, (w, c) in enumerate(zip(warm_answers, cold_answers, strict=True))
        if _digest(_decision(w)) != _digest(_decision(c))
    ]
    assert differ == []
    assert [(a["disposition"], a["outcome"]) for a in warm_answers] == [
        ("disclosed", "DISCLOSED"),
        ("unmatched", "AMBIGUOUS"),
        ("pending", "REVIEW"),
        ("unmatched", "NO_MATCH"),
        ("rejected", None),
    ]
    assert _digest({"s": warm_answers[0]["disclosure"]["street_address"]}) == _digest(
        {"s": "77 PINE ST"}
    )
