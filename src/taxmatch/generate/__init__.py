"""Seeded synthetic data with known truth: a taxpayer population and request batches.

Reproducible from a seed; nothing here reads real data or prints or logs a name, address
or TIN.
"""

from taxmatch.generate.compose import RequestMix
from taxmatch.generate.population import PopulationSummary, generate_population
from taxmatch.generate.requests import RequestsSummary, generate_requests

__all__ = [
    "PopulationSummary",
    "RequestMix",
    "RequestsSummary",
    "generate_population",
    "generate_requests",
]
