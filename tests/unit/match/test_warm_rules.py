"""``rule_keys``: the model's blocking rules read back as equality keys (or refused)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taxmatch.errors import ReferenceSnapshotError
from taxmatch.match.model import settings_dict
from taxmatch.match.warm import RuleKey, rule_keys


def _rules(*sql: str) -> dict[str, Any]:
    return {"blocking_rules_to_generate_predictions": [{"blocking_rule": s} for s in sql]}


def test_model_blocking_rules_as_keys() -> None:
    assert rule_keys(settings_dict("link_only", 1e-6)) == [
        RuleKey(("last_key", "zip5"), ("last_key", "zip5")),
        RuleKey(("first_name", "last_key"), ("first_name", "last_key")),
        RuleKey(("first_name", "last_key"), ("last_key", "first_name")),  # swapped names
        RuleKey(("house_number", "zip5"), ("house_number", "zip5")),
        RuleKey(("first_name", "date_of_birth"), ("first_name", "date_of_birth")),
        RuleKey(("tin",), ("tin",)),
        RuleKey(("po_box", "zip5"), ("po_box", "zip5")),
    ]


def test_swapped_rule_keeps_each_side_in_order() -> None:
    keys = rule_keys(_rules("l.first_name = r.last_key AND l.last_key = r.first_name"))
    assert keys == [RuleKey(("first_name", "last_key"), ("last_key", "first_name"))]


def test_rules_given_as_plain_strings() -> None:
    settings = {"blocking_rules_to_generate_predictions": ['l."tin" = r."tin"', "l.a = r.b"]}
    assert rule_keys(settings) == [RuleKey(("tin",), ("tin",)), RuleKey(("a",), ("b",))]


@pytest.mark.parametrize(
    "rule",
    [
        "levenshtein(l.a, r.a) < 2",
        "l.a = r.a AND levenshtein(l.b, r.b) < 2",
        "l.a = r.a OR l.b = r.b",
        "l.a < r.a",
        "l.a = 'X'",
        "substr(l.a, 1, 1) = substr(r.a, 1, 1)",
        "l.a = r.a AND l.b = r.b + 1",
        "1 = 1",
    ],
)
def test_rule_other_than_a_conjunction_of_equalities_is_refused(rule: str) -> None:
    with pytest.raises(ReferenceSnapshotError):
        rule_keys(_rules("l.zip5 = r.zip5", rule))


COLUMN = st.from_regex(r"[a-z_][a-z0-9_]{0,20}", fullmatch=True)
PAIRS = st.lists(st.tuples(COLUMN, COLUMN), min_size=1, max_size=5)


def _render(pairs: list[tuple[str, str]], form: str) -> str:
    if form == "quoted":  # as Splink's block_on writes them
        return " AND ".join(f'(l."{a}" = r."{b}")' for a, b in pairs)
    if form == "bare":  # as a CustomRule is written
        return " AND ".join(f"l.{a} = r.{b}" for a, b in pairs)
    return "  and\n".join(f"( l.{a}=r.{b} )" for a, b in pairs)  # loosely spaced


@given(
    rules=st.lists(PAIRS, min_size=1, max_size=4),
    form=st.sampled_from(["quoted", "bare", "loose"]),
)
@settings(max_examples=200, deadline=None)
def test_rendered_equalities_parse_back(rules: list[list[tuple[str, str]]], form: str) -> None:
    keys = rule_keys(_rules(*(_render(pairs, form) for pairs in rules)))
    assert keys == [
        RuleKey(tuple(a for a, _ in pairs), tuple(b for _, b in pairs)) for pairs in rules
    ]
