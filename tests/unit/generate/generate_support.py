"""Constants and helpers shared by the generator tests (a plain module, not a test file)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from taxmatch.generate import PopulationSummary

AS_OF = date(2026, 3, 1)
PEOPLE = 4_000
ROWS = 2_000


def population_dir(summary: PopulationSummary) -> Path:
    return summary.master_path.parent
