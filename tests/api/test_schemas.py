"""The API's bodies stay in step with the contracts they restate."""

from __future__ import annotations

from taxmatch.api.schemas import LookupRecord
from taxmatch.contracts import REQUEST_COLUMNS


def test_a_lookup_record_has_exactly_the_request_columns() -> None:
    assert set(LookupRecord.model_fields) == set(REQUEST_COLUMNS)
