"""Matching adapters: find the master-file persons a validated request may be.

A matcher reads the workspace's ``valid`` view and the reference snapshot and writes one
``outcomes`` row per valid record (``evidence.Outcome``); it never decides disclosure
(``taxmatch.policy.decide`` does) and never logs a value. A batch is scored by Splink on
DuckDB (``probabilistic``) and its best persons' evidence gathered in SQL (``collapse``),
or both on Spark from the same definitions (``spark_engine``, ``spark_decide``); a
single lookup (``warm``) takes its candidates from the ``lookup_index``, scores them in
Python (``score``) and gathers the evidence from the index's rows (``lookup_judge``).
All paths judge with the same ``rules``, and tests hold them to the same answers.
"""
