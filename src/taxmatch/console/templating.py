"""The console's Jinja environment, shared by its pages and by the custodian's explanation
page (``taxmatch explain``): the package's templates, autoescaped, an undefined name an
error rather than an empty string."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined

TEMPLATES = Environment(
    loader=PackageLoader("taxmatch.console", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
