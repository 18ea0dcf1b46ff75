"""The policy in force for a serving process: the custodian's policy file (or the packaged
default) and its sha256, read when asked, so an edited file takes effect on the next
request, as it does for the next batch."""

from __future__ import annotations

from pathlib import Path

from taxmatch.files.inputs import load_policy
from taxmatch.policy.model import Policy, policy_sha256


def policy_in_force(path: Path | None) -> tuple[Policy, str]:
    """(policy, its sha256) of ``path``; None: the packaged default policy."""
    policy, text = load_policy(path)
    return policy, policy_sha256(text)
