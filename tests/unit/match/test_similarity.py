"""SQL's three-valued ``AND`` and ``OR`` as ``similarity`` defines them, on every
combination of up to four truth values."""

from __future__ import annotations

from itertools import product

import pytest

from taxmatch.match.similarity import sql_and, sql_or

_VALUES = (True, False, None)
_ALL = [v for n in range(5) for v in product(_VALUES, repeat=n)]


@pytest.mark.parametrize("values", _ALL)
def test_sql_and_is_false_if_any_is_false_else_unknown_if_any_is_unknown(
    values: tuple[bool | None, ...],
) -> None:
    expected = False if False in values else (None if None in values else True)
    assert sql_and(*values) is expected


@pytest.mark.parametrize("values", _ALL)
def test_sql_or_is_true_if_any_is_true_else_unknown_if_any_is_unknown(
    values: tuple[bool | None, ...],
) -> None:
    expected = True if True in values else (None if None in values else False)
    assert sql_or(*values) is expected
