"""taxmatch.store."""

# The console's tables share the models' metadata; importing them here means every user
# of ``taxmatch.store.models.metadata`` (Alembic, the schema test) sees the whole schema.
from taxmatch.store import console_models as console_models
