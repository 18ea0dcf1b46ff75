"""What a requesting agency may download: the response package of each of its finished
batches, and the supplemental packages (``<batch_id>-S<n>``) a disclosure officer
released for them, wherever ``--out`` (or the console's release) wrote them.

The state database records where each package is (``batches.package_dir``,
``releases.package_dir``, absolute paths); this stage resolves an id the agency asks for
to that directory, or refuses it.

Must never: hand an agency another agency's package or supplement, or tell an unknown id
from another agency's (both are ``BatchNotFound``, which the API answers 404).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from taxmatch.errors import BatchNotFound
from taxmatch.store.jobs import Job, JobQueue
from taxmatch.store.review import find_release, list_releases
from taxmatch.store.service import ServiceStore
from taxmatch.store.state import StateStore

SUPPLEMENT_ID = re.compile(r"^(B[0-9a-f]{20})-S([1-9][0-9]{0,8})$")


@dataclass(frozen=True, slots=True)
class Supplement:
    """A released supplemental package of a batch."""

    supplement_id: str
    batch_id: str
    rows: int
    released_at: datetime
    package: Path


def supplements(state: StateStore, batch_ids: Iterable[str]) -> dict[str, list[Supplement]]:
    """The released supplements of ``batch_ids``, by batch, oldest first."""
    wanted = set(batch_ids)
    found: dict[str, list[Supplement]] = {}
    if not wanted:
        return found
    for r in list_releases(state, next(iter(wanted)) if len(wanted) == 1 else None):
        if r.batch_id in wanted and r.status == "released" and r.package_dir:
            when = r.released_at or r.created_at
            supplement = Supplement(r.release_id, r.batch_id, r.rows, when, Path(r.package_dir))
            found.setdefault(r.batch_id, []).append(supplement)
    return found


def jobs_of(service: ServiceStore, agency_id: str) -> list[Job]:
    """``agency_id``'s batches in the queue, newest first (at most 1000)."""
    return JobQueue(service).list_for(agency_id)


def job_of(service: ServiceStore, agency_id: str, batch_id: str) -> Job | None:
    """Batch ``batch_id`` in the queue if it is ``agency_id``'s; None for an unknown id
    and for another agency's alike."""
    job = JobQueue(service).find(batch_id)
    return job if job is not None and job.agency_id == agency_id else None


def package_dir(service: ServiceStore, state: StateStore, agency_id: str, package_id: str) -> Path:
    """The directory of package ``package_id`` (a batch id, or a supplement id) for
    ``agency_id``: its batch must be that agency's and done, a supplement released."""
    supplement = SUPPLEMENT_ID.match(package_id)
    batch_id = supplement.group(1) if supplement else package_id
    job = job_of(service, agency_id, batch_id)
    batch = state.find_batch(batch_id) if job is not None else None
    if (
        job is None
        or job.status != "done"
        or batch is None
        or batch.agency != agency_id
        or batch.status != "done"
    ):
        raise BatchNotFound("no such package (is the batch done?)")
    if supplement is None:
        return Path(batch.package_dir)
    release = find_release(state, package_id)
    if (
        release is None
        or release.batch_id != batch_id
        or release.status != "released"
        or not release.package_dir
    ):
        raise BatchNotFound("no such package (is the batch done?)")
    return Path(release.package_dir)
