"""``rule_keys``: the declared blocking rules as equality keys, and a saved model whose
rules are other refused (the lookup index could not serve it)."""

from __future__ import annotations

import pytest

from taxmatch.errors import ReferenceSnapshotError
from taxmatch.match.levels import RuleKey
from taxmatch.match.model import settings_dict
from taxmatch.match.warm import rule_keys

DECLARED = [
    RuleKey(("last_key", "street", "zip5"), ("last_key", "street", "zip5")),
    RuleKey(("first_name", "street", "zip5"), ("first_name", "street", "zip5")),
    RuleKey(("first_name", "last_key", "zip3"), ("first_name", "last_key", "zip3")),
    RuleKey(("first_name", "last_key", "zip3"), ("last_key", "first_name", "zip3")),  # swapped
    RuleKey(("house_number", "zip5"), ("house_number", "zip5")),
    RuleKey(("house_number", "street", "zip3"), ("house_number", "street", "zip3")),
    RuleKey(
        ("house_number", "street", "city", "state"), ("house_number", "street", "city", "state")
    ),
    RuleKey(("first_name", "date_of_birth", "zip3"), ("first_name", "date_of_birth", "zip3")),
    RuleKey(("tin",), ("tin",)),
    RuleKey(("po_box", "zip5"), ("po_box", "zip5")),
]


def test_declared_blocking_rules_as_keys() -> None:
    assert rule_keys() == DECLARED


def test_model_with_the_declared_rules_is_served() -> None:
    for link_type in ("link_only", "dedupe_only"):
        assert rule_keys(settings_dict(link_type, 1e-6)) == DECLARED  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "change",
    [
        lambda rules: rules[:-1],
        lambda rules: list(reversed(rules)),
        lambda rules: [*rules, {"blocking_rule": "levenshtein(l.a, r.a) < 2"}],
        lambda rules: [{"blocking_rule": "l.first_name = r.first_name"}, *rules[1:]],
    ],
)
def test_model_with_other_rules_is_refused(change: object) -> None:
    settings = settings_dict("link_only", 1e-6)
    rules = settings["blocking_rules_to_generate_predictions"]
    settings["blocking_rules_to_generate_predictions"] = change(rules)  # type: ignore[operator]
    with pytest.raises(ReferenceSnapshotError):
        rule_keys(settings)
