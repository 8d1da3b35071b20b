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
    """Min-max scaling against the training scores, clipped to [0, 1].

    Computed on halved scores, so differences of scores up to the largest float64 (the value
    infinite scores are clipped to) do not overflow into ``inf / inf = NaN``.
    """
    low, high = float(train_scores.min()) / 2.0, float(train_scores.max()) / 2.0
    if high <= low:
        return (scores / 2.0 > high).astype(np.float64)
    with np.errstate(over="ignore"):  # a ratio overflowing to +-inf clips to 1 or 0, rightly
        return np.clip((scores / 2.0 - low) / (high - low), 0.0, 1.0)


def unify_probability(scores: np.ndarray, train_scores: np.ndarray) -> np.ndarray:
    """Gaussian scaling of Kriegel, Kröger, Schubert & Zimek, "Interpreting and Unifying
    Outlier Scores", SDM 2011, Sec. 4.2: ``max(0, erf((s - mean) / (std * sqrt(2))))`` with the
    mean and standard deviation of the training scores.

    Scores are divided by the largest absolute training score first (the ratio is unchanged),
    so neither the standard deviation of huge training scores nor a clipped infinite score
    overflows into NaN.
    """
    scale = max(float(np.abs(train_scores).max()), 1.0)
    train = train_scores / scale
    mean, std = float(train.mean()), float(train.std())
    if std == 0.0:
        return (scores / scale > mean).astype(np.float64)
    with np.errstate(over="ignore"):  # +-inf here means erf = +-1, which is right
        z = (scores / scale - mean) / (std * np.sqrt(2.0))
    return np.clip(erf(z), 0.0, 1.0)


PROBABILITY_METHODS = {"linear": linear_probability, "unify": unify_probability}
