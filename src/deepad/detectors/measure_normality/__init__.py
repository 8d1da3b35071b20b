"""Learning representations of normality dependent on an anomaly measure (distance, one-class, clustering)."""
