"""Routes ``/v1/batches``: upload (streamed), list, status with progress, package files.

An agency sees only its own batches: another agency's batch id answers 404 exactly as an
unknown one does, so a caller learns nothing about batches that are not theirs.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from taxmatch.api.deps import CurrentAgency, limits_for
from taxmatch.api.schemas import (
    PACKAGE_FILES,
    Accepted,
    BatchInfo,
    BatchList,
    PackageFile,
    Problem,
    Progress,
    SupplementInfo,
)
from taxmatch.api.settings import ApiSettings
from taxmatch.api.upload import receive_upload
from taxmatch.errors import BatchNotFound
from taxmatch.pipeline.delivery import Supplement, job_of, jobs_of, package_dir, supplements
from taxmatch.pipeline.intake import submit_batch
from taxmatch.pipeline.stores import Job, ServiceStore, StateStore

router = APIRouter(prefix="/v1/batches", tags=["batches"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem} for code in (401, 403, 404, 409, 413, 422, 429)
}


def _binary(description: str) -> dict[str, str]:
    return {"type": "string", "format": "binary", "description": description}


_MULTIPART = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["requests", "envelope"],
                    "properties": {
                        "requests": _binary("request file: .csv, .jsonl or .parquet"),
                        "envelope": _binary("the envelope (JSON)"),
                    },
                }
            }
        },
    }
}
IdempotencyKey = Annotated[str | None, Header(max_length=128, pattern=r"^[\x21-\x7e]+$")]


def _info(service: ServiceStore, job: Job, released: list[Supplement]) -> BatchInfo:
    done = job.status == "done"
    return BatchInfo(
        batch_id=job.batch_id,
        status=job.status,
        progress=Progress.model_validate(job, from_attributes=True),
        counts=service.batch_counts(job.batch_id) if done else {},
        error_code=job.error_code,
        error_detail=job.error_detail if job.status == "failed" else None,
        created_utc=job.created_at,
        updated_utc=job.updated_at,
        files=list(PACKAGE_FILES) if done else [],
        supplements=[
            SupplementInfo(
                supplement_id=s.supplement_id,
                rows=s.rows,
                released_utc=s.released_at,
                files=list(PACKAGE_FILES),
            )
            for s in released
        ]
        if done
        else [],
    )


@router.post(
    "", status_code=202, response_model=Accepted, responses=_ERRORS, openapi_extra=_MULTIPART
)
async def submit(
    request: Request, agency: CurrentAgency, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Upload a batch (multipart: `requests` file and `envelope` JSON), streamed to disk.
    The same file under the same envelope is the same batch. An `Idempotency-Key` is bound
    to the batch of its first upload: the same upload under it returns that batch, another
    file or envelope under it answers 409."""
    settings: ApiSettings = request.app.state.settings
    service: ServiceStore = request.app.state.service
    limits = limits_for(agency, settings)
    upload = await receive_upload(request, settings.uploads, limits.max_upload_bytes)
    job = await run_in_threadpool(
        submit_batch,
        service,
        agency,
        upload,
        uploads=settings.uploads,
        daily_row_quota=limits.daily_row_quota,
        idempotency_key=idempotency_key,
    )
    request.state.batch_id = job.batch_id
    return JSONResponse({"batch_id": job.batch_id}, status_code=202)


@router.get("", response_model=BatchList, responses=_ERRORS)
def list_batches(request: Request, agency: CurrentAgency) -> BatchList:
    """This agency's batches, newest first (at most 1000)."""
    service: ServiceStore = request.app.state.service
    jobs = jobs_of(service, agency.agency_id)
    released = supplements(
        request.app.state.ledger, [j.batch_id for j in jobs if j.status == "done"]
    )
    return BatchList(batches=[_info(service, j, released.get(j.batch_id, [])) for j in jobs])


@router.get("/{batch_id}", response_model=BatchInfo, responses=_ERRORS)
def batch_status(request: Request, agency: CurrentAgency, batch_id: str) -> BatchInfo:
    """Status (queued, running, done, failed), progress in records, counts by outcome,
    the reason a failed batch failed, and the supplemental packages released for it."""
    request.state.batch_id = batch_id
    job = job_of(request.app.state.service, agency.agency_id, batch_id)
    if job is None:
        raise HTTPException(404, detail="no such batch")
    state: StateStore = request.app.state.ledger
    released = supplements(state, [job.batch_id]) if job.status == "done" else {}
    return _info(request.app.state.service, job, released.get(job.batch_id, []))


@router.get(
    "/{batch_id}/files/{name}",
    response_class=FileResponse,
    responses={**_ERRORS, 200: {"content": {"text/csv": {}, "application/json": {}}}},
)
def batch_file(
    request: Request, agency: CurrentAgency, batch_id: str, name: PackageFile
) -> FileResponse:
    """One file of a finished batch's response package, or of a supplemental package
    (`batch_id` = `<batch_id>-S<n>`, as listed in the batch's `supplements`), streamed."""
    request.state.batch_id = batch_id
    state = request.app.state
    try:
        path = package_dir(state.service, state.ledger, agency.agency_id, batch_id) / name
    except BatchNotFound:
        path = None
    if path is None or not path.is_file():
        raise HTTPException(404, detail="no such file (is the batch done?)")
    media = "text/csv" if name.endswith(".csv") else "application/json"
    return FileResponse(path, media_type=media, filename=f"{batch_id}-{name}")
