"""Result records of the generators (counts and paths only, never a value from the data)
and the stable JSON their manifests are written in."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

POPULATION_SCHEMA = "taxmatch/population/v1"
REQUESTS_SCHEMA = "taxmatch/requests/v1"


@dataclass(frozen=True, slots=True)
class PopulationSummary:
    """What ``generate_population`` wrote."""

    people: int
    households: int
    filers: int
    master_rows: int
    seed: int
    years: tuple[int, int]
    master_path: Path
    people_path: Path
    manifest_path: Path


@dataclass(frozen=True, slots=True)
class RequestsSummary:
    """What ``generate_requests`` wrote, with the row count of each kind of request."""

    rows: int
    in_master_rows: int
    not_in_master_rows: int
    invalid_rows: int
    officers: int
    seed: int
    requests_path: Path
    envelope_path: Path
    truth_path: Path
    manifest_path: Path


def write_json(path: Path, payload: object) -> None:
    """Stable JSON (sorted keys, trailing newline) so equal inputs give equal bytes."""
    path.write_text(
        json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False) + "\n", "utf-8"
    )
