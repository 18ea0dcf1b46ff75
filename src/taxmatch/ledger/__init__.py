"""taxmatch.ledger: the pure, tamper-evident hash chain behind the audit ledger.

Builds and verifies entries; never stores them (``taxmatch.store.state`` does that).
"""
