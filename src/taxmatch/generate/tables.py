"""Curated frequency tables (names, cities, streets) and weighted sampling over them.

The CSV files in ``taxmatch/generate/data`` are hand-written approximations of US
frequencies; they hold no real person. Callers pass the ``random.Random`` that makes a
run reproducible.
"""

from __future__ import annotations

import csv
import io
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import accumulate
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


@dataclass(frozen=True, slots=True)
class City:
    name: str
    state: str
    area_code: str
    zips: tuple[str, ...]


def _rows(filename: str) -> list[dict[str, str]]:
    text = resources.files("taxmatch.generate").joinpath("data", filename).read_text("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@cache
def surnames(group: str) -> Weighted[str]:
    return Weighted(
        [(r["name"], float(r["weight"])) for r in _rows("surnames.csv") if r["group"] == group]
    )


@cache
def given_names(group: str, sex: str) -> Weighted[str]:
    """Given names by name group and sex; ``middle_general`` and ``middle_vietnamese`` are
    the middle names people of those groups most often carry."""
    rows = _rows("given.csv")
    return Weighted(
        [(r["name"], float(r["weight"])) for r in rows if r["group"] == group and r["sex"] == sex]
    )


@cache
def cities() -> Weighted[City]:
    return Weighted(
        [
            (
                City(r["city"], r["state"], r["area_code"], tuple(r["zips"].split())),
                float(r["weight"]),
            )
            for r in _rows("cities.csv")
        ]
    )


@cache
def streets() -> Weighted[str]:
    return Weighted([(r["name"], float(r["weight"])) for r in _rows("streets.csv")])
