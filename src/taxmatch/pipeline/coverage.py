"""A batch's coverage groups: which groups each row shows, and their counts recorded.

``group_rows`` writes the workspace's ``row_groups`` before the package is written (a
flagged group's rows go to REVIEW there); ``record_coverage`` stores the batch's counts by
group in the state database, bound to the ledger, and gives ``summary.json``'s
``coverage``. A one-record lookup (``BatchRequest.coverage`` false) runs no probes and
counts no groups: its rows show none, and it records no coverage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb

from taxmatch.policy.coverage import Coverage, coverage, lookback, measures
from taxmatch.reference.coverage import row_groups, window_sql
from taxmatch.store.state import StateStore

if TYPE_CHECKING:
    from taxmatch.pipeline.batch import BatchRun
    from taxmatch.pipeline.probes import Probed
    from taxmatch.pipeline.record import Written


def group_rows(
    run: BatchRun,
    con: duckdb.DuckDBPyConnection,
    rows: tuple[int | None, int | None] = (None, None),
) -> None:
    """``row_groups`` for every row of the workspace's ``records`` with a row number in
    ``rows`` ([lo, hi), None for no bound; see ``row_groups``), once its ``outcomes`` are."""
    if run.req.coverage:
        row_groups(con, run.reference.path, "outcomes", lookback(run.req.as_of, run.policy), rows)
        return
    into, where = window_sql(rows)
    con.execute(f"{into} SELECT row_number, 0 AS groups FROM records {where}")


def record_coverage(
    run: BatchRun, state: StateStore, written: Written, probed: Probed
) -> Coverage | None:
    """Store the batch's counts by group (before the seal: a run that stops after this
    replaces them when it runs again); its coverage table, None for a lookup."""
    if not run.req.coverage:
        return None
    groups = measures(written.groups, probed.groups, probed.flagged)
    state.write_group_counts(run.batch_id, groups, actor=run.req.actor, origin=run.req.origin)
    return coverage(groups, run.policy.accuracy.group_max_wrong_address)
