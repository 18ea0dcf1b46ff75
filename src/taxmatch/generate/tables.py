"""Curated frequency tables (names, cities, streets) and weighted sampling over them.

The CSV files in ``taxmatch/generate/data`` are hand-written approximations of US
frequencies; they hold no real person. Callers pass the ``random.Random`` that makes a
run reproducible.
"""

from __future__ import annotations

import csv
import io
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import accumulate
from operator import itemgetter
from random import Random
from typing import Generic, TypeVar

T = TypeVar("T")

GROUPS: tuple[str, ...] = ("general", "hispanic", "vietnamese", "korean", "chinese")


class Weighted(Generic[T]):
    """Items with relative weights; ``pick`` draws one with a single ``random()`` call."""

    __slots__ = ("_cum", "_items", "_total")

    def __init__(self, pairs: Sequence[tuple[T, float]]) -> None:
        if not pairs:
            raise ValueError("a weighted table needs at least one item")
        self._items: list[T] = [item for item, _ in pairs]
        self._cum: list[float] = list(accumulate(float(weight) for _, weight in pairs))
        self._total = self._cum[-1]

    def pick(self, rng: Random) -> T:
        return self._items[bisect_right(self._cum, rng.random() * self._total)]

    @property
    def items(self) -> list[T]:
        return list(self._items)

    @property
    def weights(self) -> list[float]:
        return [b - a for a, b in zip([0.0, *self._cum], self._cum, strict=False)]


@dataclass(frozen=True, slots=True)
class City:
    name: str
    state: str
    area_code: str
    zips: tuple[str, ...]


def _table(filename: str, item: Callable[[dict[str, str]], T], **where: str) -> Weighted[T]:
    """A data file's rows whose columns hold the ``where`` values, weighted by ``weight``."""
    text = resources.files("taxmatch.generate").joinpath("data", filename).read_text("utf-8")
    rows = csv.DictReader(io.StringIO(text))
    return Weighted(
        [(item(r), float(r["weight"])) for r in rows if all(r[k] == v for k, v in where.items())]
    )


_name = itemgetter("name")


@cache
def surnames(group: str) -> Weighted[str]:
    return _table("surnames.csv", _name, group=group)


@cache
def given_names(group: str, sex: str) -> Weighted[str]:
    """Given names by name group and sex; ``middle_general`` and ``middle_vietnamese`` are
    the middle names people of those groups most often carry."""
    return _table("given.csv", _name, group=group, sex=sex)


@cache
def cities() -> Weighted[City]:
    return _table(
        "cities.csv",
        lambda r: City(r["city"], r["state"], r["area_code"], tuple(r["zips"].split())),
    )


@cache
def streets() -> Weighted[str]:
    return _table("streets.csv", _name)
