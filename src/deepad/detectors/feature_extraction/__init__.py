"""Deep learning for feature extraction: deep features (self-trained or pre-extracted) scored
by a shallow anomaly detector."""
