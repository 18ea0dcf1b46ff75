"""Request and response bodies of the HTTP API (the public contract of ``/v1``).

Response models are separate from the store's rows so that nothing private (token
hashes, file paths in the store, lease owners) can leak into a response.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from taxmatch.contracts import Envelope

BatchStatus = Literal["queued", "running", "done", "failed"]
PackageFile = Literal[
    "disclosed.csv",
    "rejected.csv",
    "unmatched.csv",
    "pending.csv",
    "summary.json",
    "manifest.json",
]
PACKAGE_FILES: tuple[str, ...] = get_args(PackageFile)

# Over-long fields reach validation (R13, policy max_field_length); this cap only bounds the body.
_Field = Field(default=None, max_length=10_000)


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    lookups: Literal["warm", "warming", "cold"] = Field(
        "cold",
        description="warm: single lookups use the kept-open matcher (about 0.15 s at 1 M persons); "
        "warming: it is being built; cold: each lookup opens the reference itself",
    )


class Accepted(BaseModel):
    batch_id: str


class Progress(BaseModel):
    stage: str = Field(
        description="queued, validating, matching, writing package, sealing, done or failed"
    )
    rows_done: int = Field(description="rows decided and recorded so far")
    rows_total: int = Field(
        description="records in the upload (CSV records, JSON Lines "
        "records, Parquet rows; not physical lines)"
    )
    stage_done: int = Field(description="units done in this stage (bytes when validating)")
    stage_total: int | None


class SupplementInfo(BaseModel):
    supplement_id: str = Field(
        description="`<batch_id>-S<n>`: download its files at /v1/batches/{supplement_id}/files/"
    )
    rows: int = Field(description="held rows this release decided (disclosed or withheld)")
    released_utc: datetime
    files: list[str]


class BatchInfo(BaseModel):
    batch_id: str
    status: BatchStatus
    progress: Progress
    counts: dict[str, int] = Field(description="records by outcome (REJECTED included)")
    error_code: str | None
    error_detail: str | None = Field(
        description="why a failed batch failed: one line naming the code, part (requests, "
        "envelope), row and field, never a value"
    )
    created_utc: datetime
    updated_utc: datetime
    files: list[str] = Field(description="package files to download once done")
    supplements: list[SupplementInfo] = Field(
        description="supplemental packages released after review of held rows, oldest first"
    )


class BatchList(BaseModel):
    batches: list[BatchInfo]


class LookupRecord(BaseModel):
    """One request record (the request file's columns, README.md), as strings."""

    model_config = ConfigDict(extra="forbid")
    request_id: str | None = _Field
    first_name: str | None = _Field
    last_name: str | None = _Field
    middle_name: str | None = _Field
    suffix: str | None = _Field
    street_address: str | None = _Field
    unit: str | None = _Field
    city: str | None = _Field
    state: str | None = _Field
    zip: str | None = _Field
    tax_periods: str | None = _Field
    statute: str | None = _Field
    removal_order_number: str | None = _Field
    removal_order_date: str | None = _Field
    case_number: str | None = _Field
    officer_id: str | None = _Field
    relevance: str | None = _Field
    date_of_birth: str | None = _Field
    tin: str | None = _Field
    a_number: str | None = _Field


class LookupBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    request: LookupRecord
    envelope: Envelope | None = Field(
        default=None,
        description="The written request's envelope; default: that of the agency's last batch",
    )


class LookupAnswer(BaseModel):
    batch_id: str
    request_id: str
    disposition: Literal["disclosed", "rejected", "unmatched", "pending"]
    outcome: str | None
    reason_codes: list[str]
    fields: list[str] = Field(description="names of offending fields (never values)")
    disclosure: dict[str, str] | None
    seconds: float = Field(description="server time to answer")


class Problem(BaseModel):
    code: str
    detail: str
