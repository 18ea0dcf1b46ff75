"""Seeded synthetic data: a taxpayer population and request batches with known truth.

``generate_population`` writes the custodian's master file and the truth about each
person; ``generate_requests`` writes a request batch, its envelope and the expected
outcome of every row. Everything is synthetic and reproducible from a seed; nothing here
reads real data, and nothing here prints or logs a name, address or TIN.
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
