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


# ---------------------------------------------------------------------------- threshold rules
def iqr_threshold(train_scores: np.ndarray, factor: float = 1.5) -> float:
    """Tukey's upper fence, ``Q3 + factor · (Q3 − Q1)`` of the training scores (Tukey,
    *Exploratory Data Analysis*, 1977: 1.5 for "outside", 3 for "far out")."""
    q1, q3 = np.percentile(train_scores, [25.0, 75.0])
    return float(q3 + factor * (q3 - q1))


MAD_CONSISTENCY = 0.6745
"""Φ⁻¹(3/4): MAD / 0.6745 estimates the standard deviation of normal data."""


def mad_threshold(train_scores: np.ndarray, factor: float = 3.5) -> float:
    """The score whose modified z-score ``0.6745 (s − median) / MAD`` equals ``factor``
    (Iglewicz & Hoaglin, *How to Detect and Handle Outliers*, ASQC 1993: 3.5), i.e.
    ``median + factor · MAD / 0.6745`` of the training scores."""
    median = float(np.median(train_scores))
    mad = float(np.median(np.abs(train_scores - median)))
    return median + factor * mad / MAD_CONSISTENCY


THRESHOLD_RULES = {"contamination": None, "iqr": 1.5, "mad": 3.5}
"""The rules of :meth:`BaseDetector.set_threshold` and their default ``factor`` (none for
``"contamination"``, whose fraction is the detector's ``contamination``)."""


def rule_threshold(train_scores: np.ndarray, rule: str, contamination: float | None,
                   factor: float | None = None) -> float:
    """The threshold ``rule`` sets on the training scores (see :data:`THRESHOLD_RULES`).

    Raises ``ValueError`` for an unknown rule, a ``factor`` given to ``"contamination"`` or a
    factor that is not a positive finite number."""
    if rule not in THRESHOLD_RULES:
        msg = f"rule must be one of {list(THRESHOLD_RULES)}; got {rule!r}."
        raise ValueError(msg)
    if rule == "contamination":
        if factor is not None:
            msg = ("factor applies to the 'iqr' and 'mad' rules; 'contamination' takes the "
                   "detector's contamination (set_params(contamination=...), then fit).")
            raise ValueError(msg)
        if contamination is None:
            msg = "the 'contamination' rule needs the detector's contamination; it is None."
            raise ValueError(msg)
        return contamination_threshold(train_scores, contamination)
    factor = THRESHOLD_RULES[rule] if factor is None else factor
    if isinstance(factor, bool) or not isinstance(factor, int | float) or not (
            np.isfinite(factor) and factor > 0):
        msg = f"factor must be a positive finite number; got {factor!r}."
        raise ValueError(msg)
    return iqr_threshold(train_scores, factor) if rule == "iqr" else mad_threshold(
        train_scores, factor)


# ---------------------------------------------------------------------------- confidence
def exceed_confidence(scores: np.ndarray, train_scores: np.ndarray, threshold: float,
                      contamination: float) -> np.ndarray:
    """ExCeeD, the confidence of each prediction (Perini, Vercruyssen & Davis, "Quantifying
    the confidence of anomaly detectors in their example-wise predictions", ECML-PKDD 2020),
    as PyOD's ``predict_confidence``.

    A score's outlier probability is Bayesian, ``p = (1 + #{train ≤ s}) / (2 + n)`` (a uniform
    prior on the rank); the confidence that the example is predicted an anomaly under other
    training sets of n rows is ``P(Binomial(n, p) > n − ⌊n · contamination⌋)``, and for a
    predicted normal example (``s ≤ threshold``) one minus that. Values in [0, 1].
    """
    from scipy.stats import binom  # scipy.stats is slow to import: only when asked

    train = np.sort(np.asarray(train_scores, dtype=np.float64))
    n = len(train)
    below = np.searchsorted(train, scores, side="right")
    posterior = (1.0 + below) / (2.0 + n)
    anomalous = 1.0 - binom.cdf(n - int(n * contamination), n, posterior)
    return np.where(scores > threshold, anomalous, 1.0 - anomalous)
