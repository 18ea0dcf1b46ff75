"""The batch workspace's ``records`` table: one row per request row, as validation
stages it. Its own module so that validation workers, which build such rows, need not
import DuckDB."""

from __future__ import annotations

import pyarrow as pa

RECORD_SCHEMA = pa.schema(
    [
        ("row_number", pa.int64()),
        ("request_id", pa.string()),
        ("id_key", pa.string()),  # the usable requester id, null when unusable
        ("pc_key", pa.binary()),
        ("rel_key", pa.binary()),
        ("officer_id", pa.string()),
        ("mask", pa.int64()),
        ("fields", pa.string()),
        # the coverage groups the request itself shows (``policy.coverage.request_shape``),
        # for rejected rows too
        ("shape", pa.int32()),
        # normalised request, null for rejected rows
        ("first_name", pa.string()),
        ("middle_name", pa.string()),
        ("last_name", pa.string()),
        ("suffix", pa.string()),
        ("house_number", pa.string()),
        ("street", pa.string()),
        ("unit", pa.string()),
        ("po_box", pa.string()),
        ("city", pa.string()),
        ("state", pa.string()),
        ("zip5", pa.string()),
        ("tax_periods", pa.list_(pa.int32())),
        ("date_of_birth", pa.date32()),
        ("tin", pa.string()),
        # for the custodian's accounting only (never matched on, never in the package):
        # the cited statute, normalised (null when it does not parse), and, for valid
        # records, the requester's stated reason
        ("statute", pa.string()),
        ("relevance", pa.string()),
    ]
)
