"""Seeded synthetic data with known truth: a taxpayer population and request batches.

Reproducible from a seed; nothing here reads real data or prints or logs a name, address
or TIN.
"""

from taxmatch.generate.plan import RequestMix
from taxmatch.generate.population import generate_population
from taxmatch.generate.requests import generate_requests
from taxmatch.generate.summary import PopulationSummary, RequestsSummary

__all__ = [
    "PopulationSummary",
    "RequestMix",
    "RequestsSummary",
    "generate_population",
    "generate_requests",
]
