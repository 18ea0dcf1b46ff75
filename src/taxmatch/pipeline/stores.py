"""The stores as the edges (CLI, API, console) hold them: the state database's two faces
(``StateStore``: the ledger, batches, reviews and console accounts; ``ServiceStore``:
agencies, tokens, the queue and quotas), the records they hand out, and the check that a
store exists. The edges open and close these and pass them to pipeline functions; what
is read or written through them is decided here in the pipeline, not at the edge."""

from __future__ import annotations

from taxmatch.store.database import check_store
from taxmatch.store.jobs import Job
from taxmatch.store.service import Agency, ServiceStore
from taxmatch.store.state import StateStore

# ``store`` when it has been made (its state database answers), else ``StoreMissing``
# (exit 4): every command but the three that may make a store asks this first.
existing_store = check_store


__all__ = ["Agency", "Job", "ServiceStore", "StateStore", "existing_store"]
