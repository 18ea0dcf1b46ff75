"""taxmatch.store: the state database (SQLAlchemy Core, Alembic migrations).

Batches, decisions, the ledger, reviews and releases, console accounts, agencies, tokens,
the job queue and the accounting of disclosures; the keys that protect it live outside.
"""
