"""Turning raw anomaly scores into thresholds, labels and probabilities.

Kept apart from the algorithms (PyOD's lesson): every detector produces raw scores, higher =
more anomalous, and the base class derives ``threshold_``, ``labels_`` and
``predict_proba`` from them with these functions.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf


def contamination_threshold(train_scores: np.ndarray, contamination: float) -> float:
    """The score above which the top ``contamination`` fraction of training scores lies."""
    return float(np.percentile(train_scores, 100.0 * (1.0 - contamination)))


def linear_probability(scores: np.ndarray, train_scores: np.ndarray) -> np.ndarray:
    """Min-max scaling against the training scores, clipped to [0, 1]."""
    low, high = float(train_scores.min()), float(train_scores.max())
    if high <= low:
        return (scores > high).astype(np.float64)
    return np.clip((scores - low) / (high - low), 0.0, 1.0)


def unify_probability(scores: np.ndarray, train_scores: np.ndarray) -> np.ndarray:
    """Gaussian scaling of Kriegel, Kröger, Schubert & Zimek, "Interpreting and Unifying
    Outlier Scores", SDM 2011, Sec. 4.2: ``max(0, erf((s - mean) / (std * sqrt(2))))`` with the
    mean and standard deviation of the training scores."""
    mean, std = float(train_scores.mean()), float(train_scores.std())
    if std == 0.0:
        return (scores > mean).astype(np.float64)
    return np.clip(erf((scores - mean) / (std * np.sqrt(2.0))), 0.0, 1.0)


PROBABILITY_METHODS = {"linear": linear_probability, "unify": unify_probability}
