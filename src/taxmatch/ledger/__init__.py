"""taxmatch.ledger: the pure, tamper-evident hash chain behind the audit ledger.

Builds and verifies entries; never stores them (``taxmatch.store.state`` does that).
"""

from taxmatch.ledger.chain import (
    GENESIS,
    LEDGER_SCHEMA,
    ChainVerifier,
    LedgerDraft,
    LedgerEntry,
    VerifyResult,
    canonical_bytes,
    link,
    verify_chain,
)
from taxmatch.ledger.digest import keyed_hash

__all__ = [
    "GENESIS",
    "LEDGER_SCHEMA",
    "ChainVerifier",
    "LedgerDraft",
    "LedgerEntry",
    "VerifyResult",
    "canonical_bytes",
    "keyed_hash",
    "link",
    "verify_chain",
]
