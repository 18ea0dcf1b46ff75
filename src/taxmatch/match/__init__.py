"""taxmatch.match."""
