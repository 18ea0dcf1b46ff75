"""What a batch ran on, kept in the store so that it can be replayed exactly
(``taxmatch batch replay``): the request file, the envelope and the policy text, under
``STORE/batches/<batch_id>/``. The custodian keeps the requests it received anyway (the
accounting of disclosures answers for them); the copy is what makes a replay possible
without the requester. Never logs; errors name paths only.
"""

from __future__ import annotations

from pathlib import Path

from taxmatch.owner_only import copy_private, make_dir, write_private_text

REQUESTS_STEM = "requests"
ENVELOPE_NAME = "envelope.json"
POLICY_NAME = "policy.yaml"


def inputs_dir(store: Path, batch_id: str) -> Path:
    return store / "batches" / batch_id


def retain_inputs(
    store: Path, batch_id: str, requests: Path, envelope: Path, policy_text: str
) -> None:
    """Keep a batch's request file, envelope and policy in the store (idempotent).

    Each file is written under a temporary name and renamed, so a crash never leaves a
    half copy under the final name.
    """
    target = inputs_dir(store, batch_id)
    make_dir(target)
    copies = [
        (requests, target / f"{REQUESTS_STEM}{requests.suffix.lower()}"),
        (envelope, target / ENVELOPE_NAME),
    ]
    for src, dst in copies:
        if not dst.exists():
            tmp = dst.with_name(dst.name + ".partial")
            copy_private(src, tmp)
            tmp.replace(dst)
    policy = target / POLICY_NAME
    if not policy.exists():
        tmp = policy.with_name(POLICY_NAME + ".partial")
        write_private_text(tmp, policy_text)
        tmp.replace(policy)
