"""Outlier ensembles: registered deepad detectors combined by their normalised scores (outside
the taxonomy, listed apart like the shallow baselines)."""
