"""taxmatch.ledger."""
