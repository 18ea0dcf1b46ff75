"""Small seeded populations and batches shared by the generator tests (never real data)."""

from __future__ import annotations

import pytest

from taxmatch.generate import (
    PopulationSummary,
    RequestsSummary,
    generate_population,
    generate_requests,
)

from .generate_support import AS_OF, PEOPLE, ROWS


@pytest.fixture(scope="session")
def population(tmp_path_factory: pytest.TempPathFactory) -> PopulationSummary:
    out = tmp_path_factory.mktemp("population")
    return generate_population(people=PEOPLE, years=(2019, 2025), seed=11, out=out)


@pytest.fixture(scope="session")
def batch(
    tmp_path_factory: pytest.TempPathFactory, population: PopulationSummary
) -> RequestsSummary:
    out = tmp_path_factory.mktemp("requests")
    return generate_requests(
        population=population.master_path.parent, rows=ROWS, seed=5, out=out, as_of=AS_OF
    )
