"""The request beside its candidates on the console's review page.

Reads one held row's request, as the batch normalised it, from the batch workspace's
``records`` table (what matching compared against the reference), so the officer can
compare it with the candidates. Its caller renders it on the audited review page only.

Must never: log or put into an error a value of the request; show a full TIN (last four
digits only, as the candidates' are).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from taxmatch.errors import StoreError
from taxmatch.match.explain import mask_tin
from taxmatch.reference.workspace import BatchWorkspace

_REQUEST_SQL = """
SELECT concat_ws(' ', nullif(first_name, ''), nullif(middle_name, ''), nullif(last_name, ''),
                 nullif(suffix, '')) AS name,
       concat_ws(', ', nullif(concat_ws(' ', nullif(house_number, ''), nullif(street, '')), ''),
                 nullif(unit, ''), CASE WHEN po_box IS NOT NULL THEN 'PO BOX ' || po_box END,
                 nullif(city, ''), nullif(state, ''), nullif(zip5, '')) AS address,
       CAST(date_of_birth AS VARCHAR) AS date_of_birth, tin,
       array_to_string(tax_periods, '; ') AS tax_periods
FROM records WHERE row_number = {row}
"""


@dataclass(frozen=True, slots=True)
class RequestShown:
    """One request's normalised values, for the officer's eyes only."""

    # personal values: never in a repr (a traceback or a logged context would show it)
    name: str = field(repr=False)
    address: str = field(repr=False)
    date_of_birth: str = field(repr=False)
    tin_masked: str = field(repr=False)  # "" when the requester gave no TIN
    tax_periods: str


def request_shown(store: Path, batch_id: str, row_number: int) -> RequestShown | None:
    """The request of ``row_number`` as the batch matched it; None when the batch
    workspace is gone (or holds no such row)."""
    path = store / "work" / batch_id / "work.duckdb"
    if not path.is_file():
        return None
    try:
        with BatchWorkspace(path, threads=1) as ws:
            rows = [
                r
                for chunk in ws.stream(_REQUEST_SQL.format(row=int(row_number)))
                for r in chunk.to_pylist()
            ]
    except duckdb.Error as exc:
        raise StoreError(f"{path}: batch {batch_id}: cannot read row {row_number}") from exc
    if not rows:
        return None
    r = rows[0]
    return RequestShown(
        name=str(r["name"] or ""),
        address=str(r["address"] or ""),
        date_of_birth=str(r["date_of_birth"] or ""),
        tin_masked=mask_tin(r["tin"]) if r["tin"] else "",
        tax_periods=str(r["tax_periods"] or ""),
    )
