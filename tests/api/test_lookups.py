"""``POST /v1/lookups``: one record through the batch path, synchronously."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path

from taxmatch.store.service import ServiceStore
from taxmatch.store.state import StateStore
from tests.api.conftest import Api, envelope_doc
from tests.integration.conftest import request_row


def test_lookup_answers_through_the_batch_path(api: Api) -> None:
    body = {"request": request_row(1), "envelope": envelope_doc()}
    r = api.client.post("/v1/lookups", json=body, headers=api.auth())
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["request_id"] == "REQ-00001"
    assert answer["disposition"] in ("disclosed", "unmatched", "pending")
    assert (answer["disclosure"] is not None) == (answer["disposition"] == "disclosed")
    again = api.client.post("/v1/lookups", json=body, headers=api.auth()).json()
    assert again["batch_id"] == answer["batch_id"]
    assert again["disposition"] == answer["disposition"]
    with StateStore(api.settings.database_url or "") as state:
        batch = state.find_batch(answer["batch_id"])
        events = {e.event_type for e in state.iter_ledger() if e.object_id == answer["batch_id"]}
    assert batch is not None
    assert batch.status == "done"
    assert {"batch_received", "rules_in_force", "decisions", "package_delivered"} <= events


def test_lookup_of_an_invalid_record_is_rejected_with_codes(api: Api) -> None:
    row = request_row(2, first_name="", street_address="UNKNOWN ADDRESS")
    r = api.client.post(
        "/v1/lookups", json={"request": row, "envelope": envelope_doc()}, headers=api.auth()
    )
    assert r.status_code == 200
    answer = r.json()
    assert answer["disposition"] == "rejected"
    assert {"R01", "R03"} <= set(answer["reason_codes"])
    assert "first_name" in answer["fields"]
    assert "UNKNOWN" not in r.text


def test_lookup_takes_the_last_batch_envelope_when_none_is_given(api: Api) -> None:
    """The packaged policy's ``lookups.reuse_last_envelope: true``."""
    body = {"request": request_row(3)}
    r = api.client.post("/v1/lookups", json=body, headers=api.auth())
    assert r.status_code == 422
    assert _used(api) == 0  # refused before the charge
    api.submit(request_letter_id="LTR-REUSED")
    r = api.client.post("/v1/lookups", json=body, headers=api.auth())
    assert r.status_code == 200, r.text
    assert _used(api) == 2  # the batch's one row, the lookup's one
    with StateStore(api.settings.database_url or "") as state:
        batch = state.find_batch(r.json()["batch_id"])
    assert batch is not None
    assert batch.request_letter_id == "LTR-REUSED"  # recorded under the reused attestation


def test_without_the_policy_rule_a_lookup_must_carry_its_own_envelope(
    make_api: Callable[..., Api], tmp_path: Path
) -> None:
    text = resources.files("taxmatch.policy").joinpath("default_policy.yaml").read_text()
    policy = tmp_path / "policy.yaml"
    policy.write_text(text.replace("reuse_last_envelope: true", "reuse_last_envelope: false"))
    api = make_api(policy=policy)
    assert api.submit().status_code == 202
    body = {"request": request_row(3)}
    r = api.client.post("/v1/lookups", json=body, headers=api.auth())
    assert r.status_code == 422
    assert r.json()["code"] == "TM100"
    assert "policy" in r.json()["detail"]
    assert _used(api) == 1  # the batch's row only: nothing charged for the refusal
    r = api.client.post(
        "/v1/lookups", json={**body, "envelope": envelope_doc()}, headers=api.auth()
    )
    assert r.status_code == 200, r.text
    assert _used(api) == 2


def _used(api: Api, agency: str = "ICE") -> int:
    with ServiceStore(api.settings.database_url or "") as service:
        return service.charge_rows(agency, 0, quota=10**9)  # charging nothing reads the count


def test_validation_errors_do_not_echo_values(api: Api) -> None:
    huge = "Zebulon Quackenbush" * 600  # over the body's cap: 422 naming the field only
    body = {"request": {**request_row(4), "first_name": huge}, "envelope": envelope_doc()}
    r = api.client.post("/v1/lookups", json=body, headers=api.auth())
    assert r.status_code == 422
    assert "Zebulon" not in r.text
    assert "first_name" in r.json()["detail"]
    long = "Zebulon Quackenbush" * 100  # over the policy's field length: rejected R13
    body = {"request": {**request_row(4), "first_name": long}, "envelope": envelope_doc()}
    r = api.client.post("/v1/lookups", json=body, headers=api.auth())
    assert r.status_code == 200
    assert "R13" in r.json()["reason_codes"]
    assert "Zebulon" not in r.text
