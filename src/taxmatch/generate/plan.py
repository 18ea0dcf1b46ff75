"""How many requests of each kind a batch gets, and exact sampling without a full list:
``take`` spreads an exact total over a stream of known length, so the generator never
holds the population in memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from random import Random

from taxmatch.generate.invalid import DUPLICATES, KIND_NAMES


@dataclass(frozen=True, slots=True)
class RequestMix:
    """Shares of a batch. ``in_master`` and ``household_member`` are shares of the base
    rows (the rest are people not in the master file); ``invalid`` and ``boilerplate`` are
    shares of all rows. Boilerplate is always just above the policy's 5 % identical share."""

    in_master: float = 0.84
    household_member: float = 0.04
    invalid: float = 0.07
    boilerplate: float = 0.055


@dataclass(frozen=True, slots=True)
class BatchPlan:
    bases: int
    in_master: int
    household_member: int
    not_in_master: int
    boilerplate: int
    invalid_kinds: tuple[str, ...]


def plan_batch(rows: int, mix: RequestMix, filers: int, household: int, rng: Random) -> BatchPlan:
    """Exact counts of each kind; the invalid kinds cycle through every kind, so each
    reason code appears."""
    boiler = max(math.floor(0.05 * rows) + 1, round(rows * mix.boilerplate)) if rows >= 20 else 0
    wanted = round(rows * mix.invalid)
    kinds: list[str] = []
    while len(kinds) < wanted:
        cycle = list(KIND_NAMES)
        rng.shuffle(cycle)
        kinds.extend(cycle)
    kinds = kinds[:wanted]
    # A duplicate kind adds a second row; keep the total exact.
    while kinds and boiler + len(kinds) + sum(k in DUPLICATES for k in kinds) > rows:
        kinds.pop()
    bases = rows - sum(k in DUPLICATES for k in kinds)
    in_master = round(bases * mix.in_master) if filers else 0
    members = min(round(bases * mix.household_member), bases - in_master) if household else 0
    return BatchPlan(
        bases=bases,
        in_master=in_master,
        household_member=members,
        not_in_master=bases - in_master - members,
        boilerplate=boiler,
        invalid_kinds=tuple(kinds),
    )


def take(need: int, remaining: int, rng: Random) -> int:
    """How many of ``need`` to give the current item of ``remaining`` (exact in total)."""
    if need <= 0 or remaining <= 0:
        return 0
    quota = need / remaining
    k = int(quota)
    if rng.random() < quota - k:
        k += 1
    return min(k, need)
