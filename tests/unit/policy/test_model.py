"""Policy parsing: the shipped default, and errors that name the key."""

from __future__ import annotations

import pytest

from taxmatch.policy.model import PolicyIssue, parse_policy, policy_sha256

from .conftest import default_policy


def test_default_policy_loads() -> None:
    p = default_policy()
    assert p.version == "2026.1"
    assert "8 U.S.C. 1253(a)(1)" in p.statutes
    assert p.agencies["ICE"].max_records_per_officer == 50
    assert p.disclosure.phone is False


def test_envelope_reuse_for_lookups_is_on_only_where_a_policy_says_so() -> None:
    assert default_policy().lookups.reuse_last_envelope is True  # the packaged policy
    unnamed = _text().split("\nlookups:")[0] + "\n"
    assert parse_policy(unnamed).lookups.reuse_last_envelope is False
    off = _text().replace("reuse_last_envelope: true", "reuse_last_envelope: false")
    assert parse_policy(off).lookups.reuse_last_envelope is False
    with pytest.raises(PolicyIssue) as info:
        parse_policy(_text().replace("reuse_last_envelope: true", "reuse_last_envelope: maybe"))
    assert info.value.key == "lookups.reuse_last_envelope"


def test_statute_spellings_normalise_on_load() -> None:
    text = _text().replace('"8 U.S.C. 1326(a)"', '"8 USC § 1326(a)"')
    assert "8 U.S.C. 1326(a)" in parse_policy(text).statutes


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (("matching:", "matching:\n  surprise: 1"), "matching.surprise"),
        (("min_words: 6", "min_words: many"), "relevance.min_words"),
        (('version: "2026.1"\n', ""), "version"),
        (("review_threshold: 0.98", "review_threshold: 0.9999"), "matching.review_threshold"),
    ],
)
def test_errors_name_the_key(edit: tuple[str, str], key: str) -> None:
    text = _text().replace(*edit, 1)
    with pytest.raises(PolicyIssue) as info:
        parse_policy(text)
    assert info.value.key == key


def test_not_yaml() -> None:
    with pytest.raises(PolicyIssue):
        parse_policy("a: [")
    with pytest.raises(PolicyIssue):
        parse_policy("- 1\n- 2\n")


def test_hash_is_content_hash() -> None:
    assert policy_sha256("a") != policy_sha256("b")
    assert len(policy_sha256("a")) == 64


def _text() -> str:
    from importlib import resources

    return resources.files("taxmatch.policy").joinpath("default_policy.yaml").read_text()
