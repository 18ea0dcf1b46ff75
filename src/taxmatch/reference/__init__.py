"""taxmatch.reference: the custodian's data in DuckDB: the immutable reference snapshot
(``snapshot``), person resolution over it (``persons``, ``person_tables``) and the batch
workspace (``workspace``: one scratch DuckDB file per batch)."""
