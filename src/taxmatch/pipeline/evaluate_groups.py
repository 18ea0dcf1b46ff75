"""The coverage groups of an evaluation's truth rows, with the true person as subject.

A batch's shadow probes group each probe by the person it was built from
(``taxmatch.pipeline.probes``); to set their estimate beside the truth, ``taxmatch
evaluate`` groups each truth row the same way: the request as the batch's workspace
holds it, and the person the truth names (by any of their TINs) as subject, under the
batch's own snapshot, policy (its lookback) and as-of date. Needs the store the batch
ran in, with its workspace, snapshot and retained policy; without them there are no
groups. Counts and ids only.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from taxmatch.files.duck import attach
from taxmatch.files.inputs import load_policy
from taxmatch.pipeline.retain import POLICY_NAME, inputs_dir, workspace_file
from taxmatch.policy.coverage import lookback
from taxmatch.reference.coverage import row_groups
from taxmatch.reference.snapshot import reference_dir

_SUBJECTS = """
CREATE OR REPLACE TEMP TABLE truth_subjects AS
WITH said AS (
  SELECT DISTINCT request_id,
         regexp_replace(unnest(string_split(tins, ';')), '[^0-9]', '', 'g') AS tin
  FROM truth WHERE request_id <> '' AND tins <> ''),
canon AS (SELECT unnest(tins) AS any_tin, tin FROM ref.persons WHERE tin <> '')
SELECT r.row_number, any_value(c.tin) AS person_tin
FROM ws.records r JOIN said s ON s.request_id = r.request_id JOIN canon c ON c.any_tin = s.tin
GROUP BY r.row_number
"""


def load_truth_groups(
    con: duckdb.DuckDBPyConnection, store: Path | None, summary: Mapping[str, Any]
) -> None:
    """``grp(request_id, groups)`` in ``con`` (which holds ``truth``): each truth row's
    coverage groups; empty when ``store`` lacks what they need."""
    con.execute("CREATE TABLE grp (request_id VARCHAR, groups INTEGER)")
    if store is None:
        return
    batch_id = str(summary.get("batch_id", ""))
    if not batch_id or "reference_snapshot_id" not in summary or "as_of" not in summary:
        return
    workspace = workspace_file(store, batch_id)
    snapshot = reference_dir(store) / f"{summary['reference_snapshot_id']}.duckdb"
    policy_path = inputs_dir(store, batch_id) / POLICY_NAME
    if not (workspace.is_file() and snapshot.is_file() and policy_path.is_file()):
        return
    policy, _ = load_policy(policy_path)
    years = lookback(date.fromisoformat(summary["as_of"]), policy)
    with ExitStack() as stack:
        for path, alias in ((workspace, "ws"), (snapshot, "ref")):
            attach(con, path, alias)
            stack.callback(con.execute, f"DETACH {alias}")
        con.execute("CREATE OR REPLACE TEMP VIEW records AS SELECT * FROM ws.records")
        con.execute(_SUBJECTS)
        row_groups(con, snapshot, "truth_subjects", years)
        con.execute(
            """INSERT INTO grp SELECT r.request_id, arg_min(g.groups, r.row_number)
               FROM ws.records r JOIN row_groups g USING (row_number) GROUP BY 1"""
        )
