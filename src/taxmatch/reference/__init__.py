"""taxmatch.reference: the custodian's data in DuckDB.

The reference snapshot (``snapshot``: the master file loaded once, normalised and
immutable), person resolution over it (``persons``, a SQL adapter over the pure
``taxmatch.resolve``, and ``person_tables``, the tables it reads and writes), and the
batch workspace (``workspace``: one scratch DuckDB file per batch, its staged records and
outcomes).
"""
