"""End-to-end anomaly score learning (ranking, prior-driven, softmax likelihood, one-class)."""
