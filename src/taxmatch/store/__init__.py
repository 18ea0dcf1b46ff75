"""taxmatch.store."""
