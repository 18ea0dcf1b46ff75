"""taxmatch.pipeline."""
