"""Out-of-distribution metrics: the false-positive rate at a fixed true-positive rate, the
detection rate at a fixed false-positive rate, and AUPR with either side as the positives.

As every deepad metric, they take ``y_true`` with 1 = anomaly / out-of-distribution sample and
0 = normal / in-distribution sample, and ``scores`` higher = more anomalous. A sample is
flagged when its score is at least the threshold; every distinct score is a threshold (ties
move together), plus one above every score (nothing flagged).

The OOD papers (Liang et al. 2018, Liu et al. 2020, Sun et al. 2022) report "FPR at 95 % TPR"
with the *in-distribution* samples as the positives: the fraction of OOD samples kept when 95 %
of the in-distribution ones are kept. That is ``fpr_at_tpr(1 - y, -scores, 0.95)``; with
``in_positive=True`` :func:`fpr_at_tpr` computes it directly.
"""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import average_precision_score, roc_curve

from deepad.metrics._validation import check_labels_and_scores, require_both_classes


def _check_rate(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        msg = f"{name} must be a number in [0, 1]; got {value!r}."
        raise ValueError(msg)
    return float(value)


def _roc(y_true: ArrayLike, scores: ArrayLike, what: str,
         in_positive: bool = False) -> tuple[np.ndarray, np.ndarray]:
    y_true, scores = check_labels_and_scores(y_true, scores)
    require_both_classes(y_true, what)
    if in_positive:
        y_true, scores = 1 - y_true, -scores
    fpr, tpr, _ = roc_curve(y_true, scores, drop_intermediate=False)
    return fpr, tpr


def fpr_at_tpr(y_true: ArrayLike, scores: ArrayLike, tpr: float = 0.95, *,
               in_positive: bool = False) -> float:
    r"""False-positive rate at the threshold that first reaches a true-positive rate.

    .. math::

        \mathrm{FPR@TPR}_\tau = \min_t \{\, \mathrm{FPR}(t) : \mathrm{TPR}(t) \ge \tau \,\},

    with :math:`\mathrm{TPR}(t)` the fraction of positives and :math:`\mathrm{FPR}(t)` the
    fraction of negatives scoring at least :math:`t`. The positives are the anomalies (y = 1,
    high scores), or with ``in_positive=True`` the normal / in-distribution samples (y = 0,
    low scores), the OOD papers' "FPR95": the fraction of OOD samples taken for
    in-distribution when 95 % of the in-distribution samples are. Lower is better.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        1 = anomaly / OOD, 0 = normal / in-distribution; both classes present.
    scores : array-like of shape (n_samples,)
        Finite scores, higher = more anomalous.
    tpr : float, default 0.95
        The true-positive rate to reach, in [0, 1].
    in_positive : bool, default False
        Count the in-distribution samples as the positives.

    Returns
    -------
    float
        In [0, 1].

    Examples
    --------
    >>> from deepad.metrics import fpr_at_tpr
    >>> fpr_at_tpr([0, 0, 0, 1, 1], [0.1, 0.5, 0.9, 0.6, 0.8], tpr=1.0)
    0.3333333333333333
    """
    tpr = _check_rate(tpr, "tpr")
    fprs, tprs = _roc(y_true, scores, "FPR at TPR", in_positive)
    return float(fprs[np.flatnonzero(tprs >= tpr - 1e-12)[0]])


def detection_rate_at_fpr(y_true: ArrayLike, scores: ArrayLike, fpr: float = 0.05) -> float:
    r"""Detection rate (true-positive rate) at a false-positive rate of at most ``fpr``.

    .. math::

        \mathrm{DR@FPR}_\alpha = \max_t \{\, \mathrm{TPR}(t) : \mathrm{FPR}(t) \le \alpha \,\},

    the fraction of anomalies / adversarial / OOD samples (y = 1) flagged by the best threshold
    that flags at most ``fpr`` of the normal samples. Higher is better.

    Examples
    --------
    >>> from deepad.metrics import detection_rate_at_fpr
    >>> detection_rate_at_fpr([0, 0, 0, 1, 1], [0.1, 0.5, 0.9, 0.6, 0.8], fpr=0.0)
    0.0
    >>> detection_rate_at_fpr([0, 0, 0, 1, 1], [0.1, 0.5, 0.9, 0.6, 0.8], fpr=0.34)
    1.0
    """
    fpr = _check_rate(fpr, "fpr")
    fprs, tprs = _roc(y_true, scores, "detection rate at FPR")
    return float(tprs[np.flatnonzero(fprs <= fpr + 1e-12)[-1]])


def aupr_out(y_true: ArrayLike, scores: ArrayLike) -> float:
    """Area under the precision-recall curve with the OOD / anomalous samples (y = 1) as the
    positives and high scores as positive: :func:`deepad.metrics.auc_pr` (average precision).

    Examples
    --------
    >>> from deepad.metrics import aupr_out
    >>> round(aupr_out([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 4)
    0.8333
    """
    y_true, scores = check_labels_and_scores(y_true, scores)
    require_both_classes(y_true, "AUPR-out")
    return float(average_precision_score(y_true, scores))


def aupr_in(y_true: ArrayLike, scores: ArrayLike) -> float:
    """Area under the precision-recall curve with the in-distribution / normal samples (y = 0)
    as the positives and low scores as positive (average precision of ``1 - y`` by
    ``-scores``), the OOD papers' "AUPR-In".

    Examples
    --------
    >>> from deepad.metrics import aupr_in
    >>> round(aupr_in([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 4)
    0.8333
    """
    y_true, scores = check_labels_and_scores(y_true, scores)
    require_both_classes(y_true, "AUPR-in")
    return float(average_precision_score(1 - y_true, -scores))
