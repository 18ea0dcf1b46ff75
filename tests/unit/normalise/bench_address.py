"""Throughput of ``parse_address`` on synthetic rows. Not a test: run it by hand.

    .venv/bin/python tests/unit/normalise/bench_address.py [ROWS]

Prints calls per second (CPU time, best of three passes) for the fast path alone, the
usaddress fallback alone and the mix, and the share of lines that needed usaddress. About
2 % of the rows are deliberately odd. Every row is distinct and the per-line caches are
cleared before each pass, so caching does not flatter the result.
"""

from __future__ import annotations

import random
import sys
import time

from taxmatch.normalise import address, address_line
from taxmatch.normalise.address import line_tokens, parse_address

Row = tuple[str, str, str, str, str]


def words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


NAMES = (
    *words(
        "MAIN OAK PINE MAPLE CEDAR ELM WASHINGTON LAKE HILL SUNSET LINCOLN JACKSON CHURCH MILL "
        "RIVER FOREST MEADOW HIGHLAND SPRING JEFFERSON MADISON FRANKLIN CHESTNUT WALNUT WILLOW "
        "DOGWOOD MAGNOLIA HICKORY CHERRY COLLEGE MARKET WATER UNION PROSPECT CENTRAL SCHOOL "
        "RIDGE VALLEY BIRCH ASPEN SYCAMORE WINDSOR ORCHARD 1ST 2ND 3RD 5TH 10TH 23RD 42ND"
    ),
    "OLD MILL",
    "LAKE SHORE",
    "MARTIN LUTHER KING",
    "EL CAMINO",
    "DEER CREEK",
)
TYPES = words("Street St Avenue Ave Road Rd Drive Dr Lane Ln Court Ct Boulevard Blvd Place Pl Way")
DIRS = words("N S E W NE NW SE SW North South East West")
UNITS = ("Apt 4", "Apt 12B", "# 7", "Unit 5B", "Ste 100", "Apt. 3")
CITIES = ("Springfield", "Riverside", "Fairview", "Salem", "Madison", "Georgetown", "Saint Louis")
STATES = ("IL", "CA", "TX", "Washington", "NY", "FL", "OH", "pa")


def synthetic_rows(n: int, seed: int = 20261102) -> list[Row]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        parts = [str(rng.randint(1, 99999))]
        if rng.random() < 0.2:
            parts.append(rng.choice(DIRS))
        parts += [rng.choice(NAMES).title(), rng.choice(TYPES)]
        if rng.random() < 0.05:
            parts.append(rng.choice(DIRS))
        unit = ""
        if rng.random() < 0.25:
            if rng.random() < 0.5:
                parts.append(rng.choice(UNITS))
            else:
                unit = rng.choice(UNITS)
        street = " ".join(parts) + f" {i % 7}" * (i % 50 == 0)  # ~2 % oddly shaped lines
        zip_code = f"{rng.randint(1001, 99950):05d}" + (
            f"-{rng.randint(0, 9999):04d}" * (i % 3 == 0)
        )
        rows.append((street, unit, rng.choice(CITIES), rng.choice(STATES), zip_code))
    return rows


def _calls_per_second(rows: list[Row], repeats: int = 3) -> float:
    """Best of ``repeats`` passes, with the per-line caches cleared before each pass."""
    best = float("inf")
    for _ in range(repeats):
        address._parse_line.cache_clear()
        address_line.usaddress_accepts.cache_clear()
        start = time.process_time()
        for row in rows:
            parse_address(*row)
        best = min(best, time.process_time() - start)
    return len(rows) / best


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    rows = synthetic_rows(n)
    fast_rows: list[Row] = []
    slow_rows: list[Row] = []
    for row in rows:
        house, tokens, _ = address_line.segment(line_tokens(row[0]))
        fast = bool(house and tokens and address_line.fast_accepts(house, tokens))
        (fast_rows if fast else slow_rows).append(row)
    parse_address("1 MAIN ST", "", "SALEM", "IL", "12345")  # warm the lazy imports
    valid = sum(parse_address(*row).address is not None for row in rows)
    print(f"rows={n} valid={valid} usaddress_share={len(slow_rows) / n:.1%}")
    print(f"fast path only: {_calls_per_second(fast_rows):,.0f} calls/s")
    print(f"usaddress path only: {_calls_per_second(slow_rows):,.0f} calls/s")
    print(f"mixed (all rows): {_calls_per_second(rows):,.0f} calls/s")


if __name__ == "__main__":
    main()
