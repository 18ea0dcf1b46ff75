"""Route ``POST /v1/lookups``: one record, answered synchronously through the batch path
(``taxmatch.pipeline.lookup``), charged as one row of the agency's daily quota."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request

from taxmatch.api.deps import CurrentAgency, limits_for
from taxmatch.api.schemas import LookupAnswer, LookupBody, Problem
from taxmatch.api.settings import ApiSettings
from taxmatch.errors import InputFileError, LimitExceeded
from taxmatch.pipeline.intake import seconds_to_midnight
from taxmatch.pipeline.lookup import LookupService
from taxmatch.store.jobs import JobQueue
from taxmatch.store.service import Agency, ServiceStore

router = APIRouter(prefix="/v1/lookups", tags=["lookups"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem} for code in (401, 403, 422, 429)
}


def _last_envelope(service: ServiceStore, agency: Agency) -> dict[str, Any]:
    for job in JobQueue(service).list_for(agency.agency_id, limit=1):
        try:
            doc = json.loads(Path(job.envelope_path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            break
        if isinstance(doc, dict):
            return doc
    raise InputFileError("envelope", "no envelope given and no earlier batch to take it from")


@router.post("", response_model=LookupAnswer, responses=_ERRORS)
def lookup(request: Request, agency: CurrentAgency, body: LookupBody) -> LookupAnswer:
    """Check one person: validation, matching, the disclosure rule and the ledger, as in a
    batch. The answer is that one-row batch's decision."""
    t0 = time.perf_counter()
    settings: ApiSettings = request.app.state.settings
    service: ServiceStore = request.app.state.service
    envelope = (
        body.envelope.model_dump(mode="json")
        if body.envelope is not None
        else _last_envelope(service, agency)
    )
    quota = limits_for(agency, settings).daily_row_quota
    if service.charge_rows(agency.agency_id, datetime.now(UTC).date(), 1, quota) is None:
        raise LimitExceeded("daily row quota reached", seconds_to_midnight())
    lookups: LookupService = request.app.state.lookups
    origin = request.client.host if request.client else "unknown"
    answer = lookups.lookup(agency.agency_id, body.request.model_dump(), envelope,
                            origin=f"api@{origin}")  # fmt: skip
    request.state.batch_id = answer.batch_id
    return LookupAnswer(
        batch_id=answer.batch_id, request_id=answer.request_id,
        disposition=answer.disposition,
        outcome=answer.outcome, reason_codes=answer.reason_codes, fields=answer.fields,
        disclosure=answer.disclosure, seconds=round(time.perf_counter() - t0, 4),
    )  # fmt: skip
