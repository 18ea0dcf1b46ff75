"""``rules.latest_filing``: the latest filing in the requested periods, every column
breaking ties, so the choice never depends on the order the filings come in."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from taxmatch.match.evidence import Filing
from taxmatch.match.mend import text_order
from taxmatch.match.rules import latest_filing

_TEXT = st.none() | st.sampled_from(["", "1", "2", "A"])
_FILINGS = st.lists(
    st.builds(
        Filing,
        st.none() | st.integers(2019, 2022),
        *([_TEXT] * 9),
    ),
    max_size=6,
)
_COLUMNS = ("line1", "unit", "house_number", "street", "po_box", "city", "state", "zip5", "phone")


@settings(deadline=None)
@given(_FILINGS, st.lists(st.integers(2019, 2022), max_size=3).map(tuple))
def test_the_latest_year_then_the_least_columns(
    filings: list[Filing], periods: tuple[int, ...]
) -> None:
    found = [f for f in filings if f.tax_year is not None and f.tax_year in periods]
    got = latest_filing(filings, periods)
    if not found:
        assert got is None
        return
    assert got is not None
    assert got in found
    year = max(f.tax_year for f in found)
    assert got.tax_year == year
    order = text_order(*(getattr(got, c) for c in _COLUMNS))
    assert all(
        order <= text_order(*(getattr(f, c) for c in _COLUMNS)) for f in found if f.tax_year == year
    )


@settings(deadline=None)
@given(_FILINGS, st.lists(st.integers(2019, 2022), max_size=3).map(tuple), st.randoms())
def test_the_order_of_the_filings_does_not_choose(
    filings: list[Filing], periods: tuple[int, ...], rnd: random.Random
) -> None:
    shuffled = list(filings)
    rnd.shuffle(shuffled)
    assert latest_filing(filings, periods) == latest_filing(shuffled, periods)
