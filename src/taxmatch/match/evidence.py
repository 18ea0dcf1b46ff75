"""The records the matcher's rules read and write."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import NamedTuple


class Request(NamedTuple):
    """What the decision checks read of one valid request (normalised)."""

    first_name: str | None
    last_name: str | None
    house_number: str | None
    street: str | None
    zip5: str | None
    po_box: str | None
    suffix: str | None
    date_of_birth: dt.date | None
    tax_periods: tuple[int, ...]
    unit: str | None = None
    city: str | None = None
    state: str | None = None

    @property
    def last_key(self) -> str | None:
        return None if self.last_name is None else self.last_name.replace(" ", "")


class Person(NamedTuple):
    person_id: str
    tin: str | None
    deceased: bool | None
    suffix: str | None
    date_of_birth: dt.date | None


class Name(NamedTuple):
    """One name a person filed under."""

    first_name: str | None
    last_key: str | None


Key = tuple[str | None, str | None, str | None, str | None, str | None]
"""An address as the tables key it: house number, street, unit, PO box, ZIP."""


Elsewhere = tuple[str | None, str | None, str | None, str | None, int | None, str]
"""Another filer at an address's house number and street under another ZIP: unit, ZIP,
city, state, their filings there, person id."""


class Filer(NamedTuple):
    """Another filer's address near one of the person's filings: in its ZIP, on its street
    or at its house number (``Evidence.variants``)."""

    house_number: str | None
    street: str | None
    unit: str | None
    po_box: str | None
    zip5: str | None
    city: str | None
    state: str | None
    person_id: str


class Address(NamedTuple):
    """One distinct address a person filed from (``person_addresses``)."""

    house_number: str | None
    street: str | None
    unit: str | None
    po_box: str | None
    zip5: str | None
    city: str | None
    state: str | None
    line1: str | None
    n_years: int | None
    support: int | None  # filings by anyone at this address
    n_filings: int | None  # the person's own filings at this address
    last_year: int | None

    @property
    def key(self) -> Key:
        return (self.house_number, self.street, self.unit, self.po_box, self.zip5)


# What tells one of a person's addresses (a ``person_addresses`` row) from another.
ADDRESS_FIELDS: tuple[str, ...] = Address._fields[:5]


class Filing(NamedTuple):
    """One filing of the person's, with its address as filed."""

    tax_year: int
    house_number: str | None
    street: str | None
    unit: str | None
    po_box: str | None
    city: str | None
    state: str | None
    zip5: str | None
    line1: str | None
    phone: str | None

    @property
    def key(self) -> Key:
        return (self.house_number, self.street, self.unit, self.po_box, self.zip5)

    @property
    def one_line(self) -> str:
        """The filed address as one line (``Place.mended_from``)."""
        return " ".join(p for p in (self.line1, self.unit, self.city, self.state, self.zip5) if p)


class Best(NamedTuple):
    """The best-scoring person of one request, and how alone it stands."""

    person_id: str
    probability: float
    candidates: int  # persons at or above the review threshold within the margin
    margin: float  # bits over the runner-up person (huge when there is none)
    # The same two where the request's first name sets no rival aside (``rules.rivals``):
    # what stands when the person it names is not the one the request identifies.
    candidates_all: int
    margin_all: float


class Evidence(NamedTuple):
    """Everything of the best person's the checks read. ``neighbours``: for each address
    the person filed from in a requested period with at most ``MAX_SLIP_SUPPORT`` filings,
    the other persons filing there; ``co_filed``: which of the person's own addresses each
    of those filed from; ``units_at``: (house number, street, ZIP) of the person's
    addresses where anyone files with a unit; ``elsewhere``: for each address with a
    house number the person filed from in a requested period with at most
    ``MAX_SLIP_SUPPORT`` filings, the other persons filing
    at its house number and street under another ZIP (``Elsewhere``); ``variants``: for
    each address with a house number the person filed from in a requested period in one
    year, the other filers in its ZIP on its street or at its house number (another door,
    ``Filer``)."""

    person: Person
    names: Sequence[Name]
    addresses: Sequence[Address]
    filings: Sequence[Filing]
    neighbours: Mapping[Key, frozenset[str]]
    co_filed: Mapping[str, frozenset[Key]]
    units_at: frozenset[tuple[str | None, str | None, str | None]]
    elsewhere: Mapping[Key, frozenset[Elsewhere]]
    variants: Mapping[Key, frozenset[Filer]] = {}


class Place(NamedTuple):
    """The address disclosed from the latest filing in the requested periods."""

    tax_year: int
    line1: str | None
    unit: str | None
    city: str | None
    state: str | None
    zip5: str | None
    phone: str | None
    house_number: str | None
    street: str | None
    usable: bool | None  # unknown when a part of the filed address is missing
    # What was mended ("zip", "unit", "line", "line+zip", "complete", "blank"; None: as
    # filed) and the filed address it was mended from, as one line.
    address_mended: str | None = None
    mended_from: str | None = None


class Outcome(NamedTuple):
    """One ``outcomes`` row: what the decision rule reads (every matcher writes these columns)."""

    row_number: int
    candidates: int = 0
    score: float = 0.0
    margin_log2: float = 0.0
    first_name_agrees: bool = False
    address_corroborated: bool = False
    filing_year: int | None = None
    ineligible: bool = False
    identifier_conflict: bool = False
    suffix_unconfirmed: bool = False
    address_usable: bool = True
    person_tin: str | None = None
    line1: str | None = None
    unit: str | None = None
    city: str | None = None
    state: str | None = None
    zip5: str | None = None
    phone: str | None = None
    address_mended: str | None = None
    mended_from: str | None = None
