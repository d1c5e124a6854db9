"""xstage stage package: ingest."""
