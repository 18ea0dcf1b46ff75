"""AES-GCM sealed values: round trip, fresh nonces, bound to their row, no value in errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taxmatch.errors import StoreError
from taxmatch.store.keys import Keys, key_id
from taxmatch.store.sealed import blind_index, key_of, place, seal, unseal

KEY = bytes(range(32))
KEYS = Keys(((key_id("ledger", KEY), KEY),), ((key_id("data", KEY), KEY),))
HERE = place("disclosure_subjects", "tin", "D-1")


@given(st.text())
def test_round_trip(value: str) -> None:
    assert unseal(KEYS, seal(KEYS, value, HERE), HERE) == value


def test_fresh_nonce_per_value_and_no_plaintext() -> None:
    a, b = seal(KEYS, "123456789", HERE), seal(KEYS, "123456789", HERE)
    assert a != b
    assert "123456789" not in a
    assert key_of(a) == KEYS.current("data")[0]


def test_a_value_moved_to_another_row_or_altered_does_not_open() -> None:
    token = seal(KEYS, "123456789", HERE)
    elsewhere = place("disclosure_subjects", "tin", "D-2")
    with pytest.raises(StoreError) as info:
        unseal(KEYS, token, elsewhere)
    assert str(info.value).endswith(
        "disclosure_subjects.tin:D-2: cannot be decrypted (altered, moved or wrong key)"
    )
    assert "123456789" not in str(info.value)
    altered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    with pytest.raises(StoreError):
        unseal(KEYS, altered, HERE)
    other = bytes(range(2, 34))
    with pytest.raises(StoreError, match="not in the keyring"):
        unseal(Keys(KEYS.ledger, ((key_id("data", other), other),)), token, HERE)


def test_blind_index_is_keyed_and_stable() -> None:
    other = bytes(range(2, 34))
    other_keys = Keys(KEYS.ledger, ((key_id("data", other), other),))
    assert blind_index(KEYS, "123456789") == blind_index(KEYS, "123456789")
    assert blind_index(KEYS, "123456789") != blind_index(other_keys, "123456789")
