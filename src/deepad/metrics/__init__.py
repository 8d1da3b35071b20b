"""Evaluation metrics (numpy / scikit-learn only): higher scores = more anomalous."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score


def _check(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y_true, scores = np.asarray(y_true).ravel(), np.asarray(scores, dtype=np.float64).ravel()
    if len(y_true) != len(scores):
        msg = f"y_true has {len(y_true)} labels but scores has {len(scores)} values."
        raise ValueError(msg)
    if set(np.unique(y_true).tolist()) != {0, 1}:
        msg = "y_true must contain both classes 0 (normal) and 1 (anomaly)."
        raise ValueError(msg)
    return y_true, scores


def auc_roc(y_true, scores) -> float:
    """Area under the ROC curve."""
    return float(roc_auc_score(*_check(y_true, scores)))


def auc_pr(y_true, scores) -> float:
    """Area under the precision-recall curve (average precision)."""
    return float(average_precision_score(*_check(y_true, scores)))


def precision_at_n(y_true, scores, n: int | None = None) -> float:
    """Precision among the ``n`` highest scores; ``n`` defaults to the number of anomalies."""
    y_true, scores = _check(y_true, scores)
    n = int(y_true.sum()) if n is None else int(n)
    top = np.argsort(-scores, kind="stable")[:n]
    return float(y_true[top].mean())


__all__ = ["auc_pr", "auc_roc", "precision_at_n"]
