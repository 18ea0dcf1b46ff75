"""taxmatch.disclose."""
