"""Route ``POST /v1/lookups``: one record, answered synchronously through the batch path.
The pipeline decides the envelope it runs under and charges it as one row of the
agency's daily quota (``taxmatch.pipeline.lookup_intake``); this route translates."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from fastapi import APIRouter, Request

from taxmatch.api.deps import CurrentAgency, limits_for, origin_of
from taxmatch.api.schemas import LookupAnswer, LookupBody, Problem
from taxmatch.api.settings import ApiSettings
from taxmatch.pipeline.lookup import LookupService
from taxmatch.pipeline.lookup_intake import answer_lookup
from taxmatch.pipeline.stores import ServiceStore

router = APIRouter(prefix="/v1/lookups", tags=["lookups"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem} for code in (401, 403, 422, 429)
}


@router.post("", response_model=LookupAnswer, responses=_ERRORS)
def lookup(request: Request, agency: CurrentAgency, body: LookupBody) -> LookupAnswer:
    """Check one person: validation, matching, the disclosure rule and the ledger, as in a
    batch. The answer is that one-row batch's decision."""
    t0 = time.perf_counter()
    settings: ApiSettings = request.app.state.settings
    service: ServiceStore = request.app.state.service
    lookups: LookupService = request.app.state.lookups
    envelope = None if body.envelope is None else body.envelope.model_dump(mode="json")
    answer = answer_lookup(
        lookups,
        service,
        agency.agency_id,
        body.request.model_dump(),
        envelope,
        daily_row_quota=limits_for(agency, settings).daily_row_quota,
        origin=origin_of(request),
    )
    request.state.batch_id = answer.batch_id
    seconds = round(time.perf_counter() - t0, 4)
    return LookupAnswer.model_validate({**dataclasses.asdict(answer), "seconds": seconds})
