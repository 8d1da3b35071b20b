"""Learning representations of normality dependent on an anomaly measure: distance-based,
one-class and clustering-based."""
