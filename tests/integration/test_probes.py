"""Shadow probes beside a batch: an estimate in the summary and the ledger, never a probe
in the package, the decisions, the disclosures or the accounting; a hold below the floor."""

from __future__ import annotations

from dataclasses import asdict
from importlib import resources
from pathlib import Path

import pytest

from taxmatch.disclose.package import read_summary
from taxmatch.files.inputs import load_policy
from taxmatch.pipeline import probes
from taxmatch.pipeline.batch import BatchRequest, BatchResult, run_batch
from taxmatch.pipeline.review import second_person_needed
from taxmatch.policy.accuracy import ProbeCounts
from taxmatch.policy.model import policy_sha256
from taxmatch.store.state import StateStore

from .conftest import (
    AS_OF,
    CARTER,
    HOPPER,
    NGUYEN,
    accounted,
    read_package,
    request_row,
    write_envelope,
    write_requests,
)

ROWS = [
    request_row(1),
    request_row(2, **NGUYEN),
    request_row(3, **HOPPER),
    request_row(4, **CARTER),
]


def policy_file(tmp: Path, accuracy: str) -> Path:
    text = resources.files("taxmatch.policy").joinpath("default_policy.yaml").read_text()
    path = tmp / "policy.yaml"
    path.write_text(f"{text}\naccuracy:\n{accuracy}\n", encoding="utf-8")
    return path


def run(store: Path, tmp: Path, accuracy: str | None, letter: str) -> BatchResult:
    return run_batch(
        BatchRequest(
            store=store,
            requests=write_requests(tmp / "requests.csv", ROWS),
            envelope=write_envelope(tmp / f"envelope-{letter}.json", request_letter_id=letter),
            out=tmp / "out",
            as_of=AS_OF,
            policy=policy_file(tmp, accuracy) if accuracy else None,
            database_url=f"sqlite:///{tmp / 'state.sqlite3'}",
        )
    )


def test_probes_are_counted_and_never_disclosed(model_store: Path, tmp_path: Path) -> None:
    plain = run(model_store, tmp_path, "  shadow_probes: 0", "LTR-PLAIN")
    probed = run(model_store, tmp_path, "  shadow_probes: 40", "LTR-PROBED")
    url = f"sqlite:///{tmp_path / 'state.sqlite3'}"

    est = read_summary(probed.package)["accuracy_estimate"]
    assert set(est) == {
        "probes",
        "wrong_person_rate",
        "wrong_address_rate",
        "recall",
        "model_expected_wrong",
    }
    assert 0 < est["probes"] <= 40
    for rate in ("wrong_person_rate", "wrong_address_rate", "recall"):
        assert set(est[rate]) == {"estimate", "low", "high"}
    assert est["recall"]["low"] <= est["recall"]["estimate"] <= est["recall"]["high"]
    assert read_summary(plain.package)["accuracy_estimate"]["probes"] == 0

    # The same rows, the same decisions and the same accounting with and without probes.
    assert plain.counts == probed.counts
    assert sum(probed.counts.values()) == len(ROWS)
    assert read_package(plain.package).keys() == read_package(probed.package).keys()
    for name, rows in read_package(probed.package).items():
        assert len(rows) == len(read_package(plain.package)[name])
        assert not any(r["request_id"].startswith("PROBE") for r in rows), name
    tins = ["123456789", "423456789", "723456789", "723456780"]
    with_probes = accounted(model_store, url, probed.batch_id, tins, tmp_path)
    alone = accounted(model_store, url, plain.batch_id, tins, tmp_path)
    assert with_probes == alone
    assert not (model_store / "work" / probed.batch_id / "probes.duckdb").exists()

    with StateStore.open(model_store, url) as state:
        entries = [e for e in state.iter_ledger() if e.object_id == probed.batch_id]
        decisions = len(list(state.iter_decisions(probed.batch_id)))
    probed_entries = [e for e in entries if e.event_type == "accuracy_probed"]
    assert len(probed_entries) == 1
    payload = probed_entries[0].payload
    assert payload["probes"] == est["probes"]
    assert payload["held"] is False
    assert all(isinstance(v, bool | int | float) for v in payload.values())  # counts only
    assert decisions == len(ROWS)


def test_a_batch_below_the_floor_is_held(
    model_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Probes that came out badly: half of their disclosures at the wrong address.
    bad = ProbeCounts(
        probes=250, findable=220, disclosed=200, wrong_person=10, wrong_address=100, found=100
    )
    monkeypatch.setattr(probes, "verdicts", lambda *a: [bad] + [ProbeCounts()] * (len(a[0]) - 1))
    plain = run(model_store, tmp_path, "  shadow_probes: 0", "LTR-FREE")
    held = run(model_store, tmp_path, "  shadow_probes: 250\n  min_precision: 0.99", "LTR-HELD")

    assert plain.counts.get("DISCLOSED", 0) > 0
    assert held.counts.get("DISCLOSED", 0) == 0
    assert held.counts["REVIEW"] == plain.counts.get("REVIEW", 0) + plain.counts["DISCLOSED"]
    assert read_package(held.package)["disclosed"] == []
    summary = read_summary(held.package)
    hold = summary["accuracy_hold"]
    assert hold["estimated_precision"] == 0.5
    assert hold["min_precision"] == 0.99
    assert "below the policy floor" in hold["reason"]
    assert summary["accuracy_estimate"]["wrong_address_rate"]["estimate"] == 0.5
    # Σ(1 − p) over the rows the rule would have disclosed, held or not.
    assert summary["accuracy_estimate"]["model_expected_wrong"] >= 0
    url = f"sqlite:///{tmp_path / 'state.sqlite3'}"
    with StateStore.open(model_store, url) as state:
        batch = state.find_batch(held.batch_id)
        entry = next(
            e
            for e in state.iter_ledger()
            if e.object_id == held.batch_id and e.event_type == "accuracy_probed"
        )
    held_payload = {
        "held": True,
        "estimated_precision": 0.5,
        "min_precision": 0.99,
        "flagged_groups": 0,  # the policy sets no group ceiling
    }
    assert entry.payload == {**asdict(bad), **held_payload}
    assert batch is not None
    # The release of its held rows needs a supervisor, whatever the batch's size.
    policy, text = load_policy(policy_file(tmp_path, "  shadow_probes: 250\n  min_precision: 0.99"))
    assert "accuracy" in second_person_needed(batch, policy, policy_sha256(text))


def test_a_flagged_groups_disclosures_go_to_review(
    model_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = run(model_store, tmp_path, "  shadow_probes: 0", "LTR-PLAIN")
    disclosed = {
        g["group"]: g["outcomes"]["DISCLOSED"]
        for g in read_summary(plain.package)["coverage"]["groups"]
    }
    # a group that holds some of the batch's disclosures, not all
    group = next(n for n, d in disclosed.items() if 0 < d < plain.counts["DISCLOSED"])
    # Its probes: 3 of 10 disclosures at the wrong address, far above a 1 % ceiling.
    bad = ProbeCounts(probes=12, findable=10, disclosed=10, wrong_address=3, found=7)
    monkeypatch.setattr(probes, "by_group", lambda *a: {group: bad})
    accuracy = "  shadow_probes: 50\n  group_max_wrong_address: 0.01"
    held = run(model_store, tmp_path, accuracy, "LTR-GROUP")

    coverage = read_summary(held.package)["coverage"]
    assert coverage["flagged"] == [group]
    assert coverage["ceiling"] == 0.01
    figures = {g["group"]: g for g in coverage["groups"]}
    assert figures[group]["outcomes"]["DISCLOSED"] == 0
    assert figures[group]["flagged"] == 1
    assert figures[group]["wrong_address_rate"]["estimate"] == 0.3
    # Only the group's would-be disclosures wait for review; the rest are disclosed.
    assert held.counts["DISCLOSED"] == plain.counts["DISCLOSED"] - disclosed[group]
    assert held.counts.get("REVIEW", 0) == plain.counts.get("REVIEW", 0) + disclosed[group]
    assert len(read_package(held.package)["disclosed"]) == held.counts["DISCLOSED"]
    # Their release needs a supervisor, whatever the batch's size.
    with StateStore.open(model_store, f"sqlite:///{tmp_path / 'state.sqlite3'}") as state:
        batch = state.find_batch(held.batch_id)
    assert batch is not None
    policy, text = load_policy(policy_file(tmp_path, accuracy))
    assert f"coverage groups flagged: {group}" in second_person_needed(
        batch, policy, policy_sha256(text)
    )


def test_a_one_record_lookup_runs_no_probes_and_counts_no_groups(
    model_store: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'state.sqlite3'}"
    result = run_batch(
        BatchRequest(
            store=model_store,
            requests=write_requests(tmp_path / "one.csv", ROWS[:1]),
            envelope=write_envelope(tmp_path / "envelope-one.json", request_letter_id="LTR-ONE"),
            out=tmp_path / "out",
            as_of=AS_OF,
            database_url=url,
            shadow_probes=False,
            coverage=False,
        )
    )
    summary = read_summary(result.package)
    assert "coverage" not in summary
    assert summary["accuracy_estimate"]["probes"] == 0
    with StateStore.open(model_store, url) as state:
        kinds = {e.event_type for e in state.iter_ledger() if e.object_id == result.batch_id}
    assert "coverage_counted" not in kinds
    assert "accuracy_probed" not in kinds
    assert "decisions_recorded" in kinds
