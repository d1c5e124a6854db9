"""xstage stage package: training."""
