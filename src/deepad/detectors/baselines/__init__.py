"""Shallow baselines, outside the taxonomy: isolation forest, LOF, kNN and ECOD in deepad's
API, so deep detectors can be compared with them without a second library."""
