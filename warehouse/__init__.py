"""xstage stage package: warehouse."""
