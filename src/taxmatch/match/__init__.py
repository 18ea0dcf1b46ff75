"""Matching adapters: find the master-file persons a validated request may be.

A matcher reads the batch workspace's ``valid`` view and the reference snapshot and writes
one ``outcomes`` row per valid record (a ``MatchSummary`` plus the candidate address). It
never decides disclosure (``taxmatch.policy.decide`` does) and never logs a value.
"""
