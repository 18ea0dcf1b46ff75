"""The console's Jinja environment, shared by its pages and by the custodian's explanation
page (``taxmatch explain``): the package's templates, autoescaped, an undefined name an
error rather than an empty string; ``pct`` and ``pct_range`` show a rate as every
report does; ``outcome_columns`` are the coverage tables' outcome columns."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined

from taxmatch.policy.accuracy import percent, percent_range
from taxmatch.policy.coverage import COLUMNS

TEMPLATES = Environment(
    loader=PackageLoader("taxmatch.console", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
TEMPLATES.globals.update(pct=percent, pct_range=percent_range, outcome_columns=COLUMNS)
