"""taxmatch.store: the state database (SQLAlchemy Core, Alembic migrations).

Batches, decisions, the ledger, reviews and releases, console accounts, agencies, tokens,
the job queue and the accounting of disclosures; the keys that protect it live outside.
"""

# The console's tables share the models' metadata; importing them here means every user
# of ``taxmatch.store.models.metadata`` (Alembic, the schema test) sees the whole schema.
from taxmatch.store import console_models as console_models
