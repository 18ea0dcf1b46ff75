"""``taxmatch.pipeline.lookup_intake``: the envelope a lookup runs under (its own, or,
only where the policy's ``lookups.reuse_last_envelope`` says so, the agency's latest
batch's), checked and charged before the lookup runs, never after a refusal."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, cast

import pytest

from taxmatch.errors import AccessDenied, InputFileError, LimitExceeded
from taxmatch.pipeline.lookup import LookupConfig, LookupResult, LookupService
from taxmatch.pipeline.lookup_intake import (
    NOT_REUSED,
    answer_lookup,
    envelope_for_lookup,
)
from taxmatch.store.jobs import JobQueue
from taxmatch.store.service import ServiceStore
from taxmatch.store.state import StateStore

RECORD = {"request_id": "REQ-1"}


@pytest.fixture
def service(state_url: str) -> ServiceStore:
    StateStore(state_url).close()  # migrated
    store = ServiceStore(state_url)
    store.add_agency("ICE")
    store.add_agency("CBP")
    return store


def _queue(service: ServiceStore, tmp: Path, batch_id: str, agency: str) -> dict[str, Any]:
    doc = {"requesting_agency": agency, "request_letter_id": f"L-{batch_id}"}
    path = tmp / f"{batch_id}-envelope.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    JobQueue(service).enqueue(
        batch_id, agency, requests_path=str(tmp / "r.csv"), envelope_path=str(path), rows_total=1
    )
    return doc


@pytest.mark.parametrize("reuse", [True, False])
def test_a_lookup_with_its_own_envelope_runs_under_it(
    service: ServiceStore, tmp_path: Path, reuse: bool
) -> None:
    _queue(service, tmp_path, "B1", "ICE")
    own = {"requesting_agency": "ICE", "request_letter_id": "L-own"}
    chosen = envelope_for_lookup(service, "ICE", own, reuse_last_envelope=reuse)
    assert chosen == own


def test_without_the_rule_a_lookup_without_envelope_is_refused(
    service: ServiceStore, tmp_path: Path
) -> None:
    _queue(service, tmp_path, "B1", "ICE")  # an envelope there is to take, and it is not
    with pytest.raises(InputFileError) as refused:
        envelope_for_lookup(service, "ICE", None, reuse_last_envelope=False)
    assert refused.value.path == "envelope"
    assert NOT_REUSED in str(refused.value)


def test_under_the_rule_the_agency_s_latest_batch_envelope_is_taken(
    service: ServiceStore, tmp_path: Path
) -> None:
    ice = _queue(service, tmp_path, "B1", "ICE")
    _queue(service, tmp_path, "B2", "CBP")  # never another agency's
    chosen = envelope_for_lookup(service, "ICE", None, reuse_last_envelope=True)
    assert chosen == ice  # B1's (its letter id is the batch's)


def test_under_the_rule_no_readable_earlier_envelope_is_refused(
    service: ServiceStore, tmp_path: Path
) -> None:
    with pytest.raises(InputFileError):  # no batch at all
        envelope_for_lookup(service, "ICE", None, reuse_last_envelope=True)
    _queue(service, tmp_path, "B1", "ICE")
    (tmp_path / "B1-envelope.json").unlink()
    with pytest.raises(InputFileError):  # its file is gone
        envelope_for_lookup(service, "ICE", None, reuse_last_envelope=True)


@dataclass
class _Lookups:
    """Stands in for ``LookupService``: records what it was asked to run."""

    cfg: LookupConfig
    ran: list[Mapping[str, Any]] = field(default_factory=list)

    def lookup(
        self,
        agency_id: str,
        record: Mapping[str, str | None],
        envelope: Mapping[str, Any],
        *,
        origin: str,
    ) -> LookupResult:
        self.ran.append(envelope)
        return LookupResult("B9", "REQ-1", "unmatched", "NO_MATCH")


def _lookups(tmp: Path, reuse: bool | None) -> _Lookups:
    text = resources.files("taxmatch.policy").joinpath("default_policy.yaml").read_text()
    assert "reuse_last_envelope: true" in text  # the packaged policy reuses
    if reuse is None:  # a policy that does not name the rule
        text = text.split("\nlookups:")[0] + "\n"
    else:
        text = text.replace("reuse_last_envelope: true", f"reuse_last_envelope: {reuse}".lower())
    policy = tmp / "policy.yaml"
    policy.write_text(text, encoding="utf-8")
    return _Lookups(LookupConfig(store=tmp, out=tmp, policy=policy))


def _answer(
    lookups: _Lookups, service: ServiceStore, envelope: Mapping[str, Any] | None, quota: int = 10
) -> LookupResult:
    return answer_lookup(
        cast(LookupService, lookups),
        service,
        "ICE",
        RECORD,
        envelope,
        daily_row_quota=quota,
        origin="api@test",
    )


def _used(service: ServiceStore) -> int:
    return service.charge_rows("ICE", 0, quota=10**9)  # charging nothing reads the count


@pytest.mark.parametrize("reuse", [False, None])
def test_a_policy_without_the_rule_refuses_before_charging(
    service: ServiceStore, tmp_path: Path, reuse: bool | None
) -> None:
    _queue(service, tmp_path, "B1", "ICE")
    lookups = _lookups(tmp_path, reuse)
    with pytest.raises(InputFileError):
        _answer(lookups, service, None)
    assert lookups.ran == []
    assert _used(service) == 0


def test_a_policy_with_the_rule_runs_under_the_latest_envelope_and_charges_one_row(
    service: ServiceStore, tmp_path: Path
) -> None:
    ice = _queue(service, tmp_path, "B1", "ICE")
    lookups = _lookups(tmp_path, True)
    assert _answer(lookups, service, None).batch_id == "B9"
    assert lookups.ran == [ice]
    assert _used(service) == 1


def test_another_agency_s_envelope_or_a_full_quota_is_refused_uncharged(
    service: ServiceStore, tmp_path: Path
) -> None:
    lookups = _lookups(tmp_path, False)
    with pytest.raises(AccessDenied):
        _answer(lookups, service, {"requesting_agency": "CBP"})
    assert _used(service) == 0
    own = {"requesting_agency": "ICE"}
    _answer(lookups, service, own, quota=1)
    with pytest.raises(LimitExceeded):
        _answer(lookups, service, own, quota=1)
    assert lookups.ran == [own]
    assert _used(service) == 1
