"""A batch's disclosures, held from the moment each row is decided until the package is sealed.

Writing the package decides which rows are disclosed, chunk by chunk; the disclosures are
made only when the package is sealed (``taxmatch.store.seal``), in one transaction. Until
then they wait here: in memory, and beyond ``SPILL_ROWS`` in a table of the batch's
workspace (which already holds every row's matched TIN), so memory does not grow with the
batch. ``chunks`` gives them back in file order as the subject rows (with each
disclosure's facts) the seal writes and binds; ``discard`` drops the workspace table once
sealed or failed.

Must never: log a value, or leave the table behind in a workspace after the run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

import pyarrow as pa

from taxmatch.reference.workspace import IN_WINDOW, BatchWorkspace
from taxmatch.store.seal import DisclosureChunk
from taxmatch.store.state import SubjectRow

TABLE: Final = "pending_disclosures"
SPILL_ROWS: Final = 10_000  # held in memory before they go to the workspace
_SCHEMA = pa.schema(
    [
        ("disclosure_id", pa.string()),
        ("row_number", pa.int64()),
        ("request_id_sha256", pa.string()),
        ("person_key", pa.string()),
        ("values_hmac", pa.string()),
        ("tin", pa.string()),
        ("statute", pa.string()),
        ("relevance", pa.string()),
    ]
)
Pending = tuple[str, int, str, str, str, str, str, str]  # in the order of _SCHEMA


class DisclosureStash:
    """One batch's disclosures not yet made. ``fields``: the names disclosed (per policy)."""

    def __init__(self, ws: BatchWorkspace, batch_id: str, fields: list[str]) -> None:
        self._ws = ws
        self._batch_id = batch_id
        self._fields = fields
        self._rows: list[Pending] = []
        self._spilled = 0

    def __len__(self) -> int:
        return self._spilled + len(self._rows)

    def add(self, row: Pending) -> None:
        self._rows.append(row)
        if len(self._rows) >= SPILL_ROWS:
            self._spill()

    def chunks(self) -> Iterator[DisclosureChunk]:
        """The subject rows, ``SPILL_ROWS`` at a time, in file order."""
        if self._spilled:
            sql = f"SELECT * FROM {TABLE} {IN_WINDOW} ORDER BY row_number"
            for batch in self._ws.stream_windows(sql, TABLE, SPILL_ROWS):
                yield self._chunk(list(zip(*batch.to_pydict().values(), strict=True)))
        for start in range(0, len(self._rows), SPILL_ROWS):
            yield self._chunk(self._rows[start : start + SPILL_ROWS])

    def discard(self) -> None:
        """Forget every disclosure held (after the seal, or when the run failed)."""
        if self._spilled:
            self._ws.con.execute(f"DROP TABLE IF EXISTS {TABLE}")
        self._rows, self._spilled = [], 0

    def _spill(self) -> None:
        con = self._ws.con
        con.register("stash_chunk", pa.table(list(zip(*self._rows, strict=True)), schema=_SCHEMA))
        if self._spilled:
            con.execute(f"INSERT INTO {TABLE} SELECT * FROM stash_chunk")
        else:
            con.execute(f"CREATE OR REPLACE TABLE {TABLE} AS SELECT * FROM stash_chunk")
        con.unregister("stash_chunk")
        self._spilled += len(self._rows)
        self._rows = []

    def _chunk(self, rows: list[Pending]) -> DisclosureChunk:
        fields, batch_id = ";".join(self._fields), self._batch_id
        return [
            SubjectRow(did, batch_id, int(n), tin, statute, why, fields, rid_sha, key, hmac)
            for did, n, rid_sha, key, hmac, tin, statute, why in rows
        ]
