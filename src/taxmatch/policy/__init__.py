"""Policy: the custodian's rules and the pure statutory validation of requests.

Pure layer: no I/O, no logging of values, deterministic for a given input and as-of date.
"""

from taxmatch.policy.model import Policy, PolicyIssue, parse_policy, policy_sha256

__all__ = ["Policy", "PolicyIssue", "parse_policy", "policy_sha256"]
