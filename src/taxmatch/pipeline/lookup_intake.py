"""Intake of a single lookup (``POST /v1/lookups``): the envelope it runs under, the
charge of one row to the agency's daily quota (``ServiceStore.charge_rows``, as a batch is
charged), then the lookup itself (``taxmatch.pipeline.lookup``).

An envelope is the requesting agency's signed attestation for its request. A lookup
carries its own. One sent without an envelope runs under the envelope of the agency's
latest batch only where the policy in force says so (``lookups.reuse_last_envelope``:
the packaged policy does; a policy that does not name the key does not); otherwise, or
when the agency has no batch whose envelope can be read, it is refused (422) before
anything is charged. The reused envelope is that batch's file, unchanged, so the
lookup's ledger entries (``batch_received``: the envelope's sha256 and request letter
id) name the very attestation it ran under; event E630 names the batch it came from.

Must never: reuse an envelope the policy does not allow, take another agency's
envelope, charge a lookup refused before it runs, or put a value into an error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from taxmatch.errors import AccessDenied, InputFileError
from taxmatch.events import Event, emit
from taxmatch.pipeline.lookup import LookupResult, LookupService
from taxmatch.pipeline.rules import policy_in_force
from taxmatch.store.jobs import JobQueue
from taxmatch.store.service import ServiceStore

NOT_REUSED = "no envelope given, and the policy in force does not reuse an earlier batch's"
NO_EARLIER = "no envelope given and no earlier batch to take it from"


def envelope_for_lookup(
    service: ServiceStore,
    agency_id: str,
    given: Mapping[str, Any] | None,
    *,
    reuse_last_envelope: bool,
) -> Mapping[str, Any]:
    """The envelope a lookup runs under: its own; without one, the envelope of
    ``agency_id``'s latest batch when ``reuse_last_envelope`` (the policy's rule), else
    ``InputFileError``."""
    if given is not None:
        return given
    if not reuse_last_envelope:
        raise InputFileError("envelope", NOT_REUSED)
    for job in JobQueue(service).list_for(agency_id, limit=1):
        try:
            doc = json.loads(Path(job.envelope_path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            break
        if isinstance(doc, dict):
            emit(Event.LOOKUP_ENVELOPE_REUSED, agency=agency_id, from_batch=job.batch_id)
            return doc
    raise InputFileError("envelope", NO_EARLIER)


def answer_lookup(
    lookups: LookupService,
    service: ServiceStore,
    agency_id: str,
    record: Mapping[str, str | None],
    envelope: Mapping[str, Any] | None,
    *,
    daily_row_quota: int,
    origin: str,
) -> LookupResult:
    """Run one lookup for ``agency_id``: its envelope (the policy's rule when none is
    given), checked to be the agency's, one row charged, then the one-row batch."""
    reuse = envelope is None and policy_in_force(lookups.cfg.policy)[0].lookups.reuse_last_envelope
    chosen = envelope_for_lookup(service, agency_id, envelope, reuse_last_envelope=reuse)
    if chosen.get("requesting_agency") != agency_id:
        raise AccessDenied("envelope requesting_agency is not the authenticated agency")
    service.charge_rows(agency_id, 1, daily_row_quota)
    return lookups.lookup(agency_id, record, chosen, origin=origin)
