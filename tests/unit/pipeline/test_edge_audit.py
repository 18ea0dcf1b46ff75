"""The TIN an officer types for an accounting look-up: nine digits, dashes and spaces
allowed, anything else refused (the CLI's --tin and the console's form share the rule)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taxmatch.pipeline.edge_audit import typed_tin


@pytest.mark.parametrize(
    ("typed", "tin"),
    [
        ("123456789", "123456789"),
        ("123-45-6789", "123456789"),
        (" 123 45 6789 ", "123456789"),
        ("12345678", None),
        ("1234567890", None),
        ("12345678X", None),
        ("", None),
    ],
)
def test_typed_tin(typed: str, tin: str | None) -> None:
    assert typed_tin(typed) == tin


@given(st.text(alphabet="0123456789- ", max_size=20))
def test_typed_tin_is_nine_digits_or_none(typed: str) -> None:
    tin = typed_tin(typed)
    digits = typed.replace("-", "").replace(" ", "")
    assert tin == (digits if len(digits) == 9 else None)
    assert tin is None or typed_tin(tin) == tin  # idempotent
