"""taxmatch.generate."""
