"""xstage stage package: scoring."""
