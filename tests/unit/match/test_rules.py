"""``rules.latest_filing``: the latest filing in the requested periods, every column
breaking ties, so the choice never depends on the order the filings come in; and
``rules.address_corroborated`` where the requester's ZIP is not the filed one."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from taxmatch.match.evidence import Address, Filing, Name, Request
from taxmatch.match.mend import text_order
from taxmatch.match.rules import address_corroborated, first_name_agrees, latest_filing
from taxmatch.match.similarity import zip_typo

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


# --- address_corroborated: the requester's door in another ZIP ---------------------------

_HOUSES = st.sampled_from(["", "12", "13", "21", "112"])
_STREETS = st.sampled_from(["", "MAIN ST", "MAIN SR", "OAK AVE"])
_ZIPS = st.none() | st.sampled_from(["", "12345", "12346", "12399", "12999", "98765"])
_CITIES = st.none() | st.sampled_from(["", "SPRINGFIELD", "SPRINGFELD", "DECATUR"])
_STATES = st.none() | st.sampled_from(["", "IL", "IN"])


@st.composite
def _filed(draw: st.DrawFn) -> Address:
    house, street = draw(_HOUSES), draw(_STREETS)
    return Address(
        house_number=house,
        street=street,
        unit="",
        po_box=None,
        zip5=draw(_ZIPS),
        city=draw(_CITIES),
        state=draw(_STATES),
        line1=f"{house} {street}".strip(),
        n_years=1,
        support=1,
        n_filings=1,
        last_year=2024,
    )


@st.composite
def _asked(draw: st.DrawFn) -> Request:
    return Request(
        first_name="JOHN",
        last_name="SMITH",
        house_number=draw(_HOUSES),
        street=draw(_STREETS),
        zip5=draw(_ZIPS),
        po_box=None,
        suffix="",
        date_of_birth=None,
        tax_periods=(2024,),
        unit="",
        city=draw(_CITIES),
        state=draw(_STATES),
    )


@given(_asked(), st.lists(_filed(), max_size=4))
def test_a_requesters_door_corroborates_in_any_zip_of_its_town_and_nowhere_else(
    request: Request, filed: list[Address]
) -> None:
    """One address at a time; and where the ZIPs are neither equal nor a typo apart, only
    exactly the same house number and street in the same town corroborate — whatever the
    ZIP on file, also none."""
    got = address_corroborated(request, filed)
    assert got == any(address_corroborated(request, [a]) for a in filed)
    for a in filed:
        same_zip = request.zip5 is not None and a.zip5 == request.zip5
        if same_zip or zip_typo(a.zip5, request.zip5):
            continue
        door = bool(request.house_number) and (a.house_number, a.street) == (
            request.house_number,
            request.street,
        )
        town = bool(request.city and request.state) and (request.city, request.state) == (
            a.city,
            a.state,
        )
        assert address_corroborated(request, [a]) == (door and town and a.street is not None)


def _named(first: str) -> Request:
    return Request(first, "SMITH", "12", "MAIN ST", "12345", None, "", None, (2024,))


def test_a_first_name_agrees_as_a_misspelling_only_of_a_filed_name_it_fixes() -> None:
    """``fixes`` (``normalise.typos.fixes``) are the names a request's first name is a
    misspelling of: one the person filed under agrees; one they did not, does not."""
    filed = [Name("JOHN", "SMITH"), Name("JOHNNY", "SMITH")]
    assert first_name_agrees(_named("JIHN"), filed, [], ["JOHN"])
    assert not first_name_agrees(_named("JIHN"), filed, [], [])
    assert not first_name_agrees(_named("JIHN"), filed, [], ["JAHN"])
    assert not first_name_agrees(_named("JIHN"), [Name(None, "SMITH")], [], ["JOHN"])
