"""Evaluation metrics for anomaly scores (numpy / scikit-learn only; higher = more anomalous).

Modules, one concept each:

- :mod:`~deepad.metrics.ranking`: :func:`auc_roc`, :func:`auc_pr`, :func:`precision_at_n`
  (threshold-free; need both classes).
- :mod:`~deepad.metrics.threshold`: :func:`f1_at_threshold`, :func:`best_f1`.
- :mod:`~deepad.metrics.point_adjust`: :func:`point_adjust`, :func:`point_adjusted_f1`
  (time series; optimistic, see the module note).
- :mod:`~deepad.metrics.range_based`: :func:`range_precision_recall`, :func:`range_f1`
  (time series; Tatbul et al., NeurIPS 2018).
- :mod:`~deepad.metrics.prf`: :class:`PRF`, the (precision, recall, f1, threshold) result.
- :mod:`~deepad.metrics.ood`: :func:`fpr_at_tpr`, :func:`detection_rate_at_fpr`,
  :func:`aupr_in`, :func:`aupr_out` (out-of-distribution and adversarial detection).

Labels are 1 = anomaly, 0 = normal. Every metric validates its input and raises a
``ValueError`` saying what was wrong (lengths that differ, labels other than 0/1, NaN or inf
scores, a missing class).
"""

from deepad.metrics.ood import aupr_in, aupr_out, detection_rate_at_fpr, fpr_at_tpr
from deepad.metrics.point_adjust import point_adjust, point_adjusted_f1
from deepad.metrics.prf import PRF
from deepad.metrics.range_based import range_f1, range_precision_recall
from deepad.metrics.ranking import auc_pr, auc_roc, precision_at_n
from deepad.metrics.threshold import best_f1, f1_at_threshold

__all__ = [
    "PRF",
    "auc_pr",
    "auc_roc",
    "aupr_in",
    "aupr_out",
    "best_f1",
    "detection_rate_at_fpr",
    "f1_at_threshold",
    "fpr_at_tpr",
    "point_adjust",
    "point_adjusted_f1",
    "precision_at_n",
    "range_f1",
    "range_precision_recall",
]
