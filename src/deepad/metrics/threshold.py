"""Threshold metrics: precision, recall and F1 once scores are cut into 0/1 predictions.

A sample is predicted anomalous when ``score >= threshold``. Zero division never yields NaN:
precision is 0 when nothing is predicted, and F1 is 0 when precision + recall = 0.
``y_true`` must hold at least one anomaly (recall is undefined otherwise); it may hold no
normal sample.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import precision_recall_curve

from deepad.metrics._validation import (
    check_labels_and_scores,
    check_threshold,
    require_anomaly,
)
from deepad.metrics.prf import PRF


def f1_at_threshold(y_true: ArrayLike, scores: ArrayLike, threshold: float) -> PRF:
    r"""Precision, recall and F1 of the predictions ``scores >= threshold``.

    With :math:`tp, fp, fn` the true positives, false positives and false negatives,

    .. math::

        P = \frac{tp}{tp + fp}, \qquad R = \frac{tp}{tp + fn}, \qquad
        F_1 = \frac{2PR}{P + R} = \frac{2\,tp}{2\,tp + fp + fn}.

    :math:`P = 0` when nothing is predicted (:math:`tp + fp = 0`) and :math:`F_1 = 0` when
    :math:`P + R = 0`, as :func:`sklearn.metrics.f1_score` with ``zero_division=0``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        1 for an anomaly, 0 for a normal sample; at least one anomaly.
    scores : array-like of shape (n_samples,)
        Finite anomaly scores, higher = more anomalous.
    threshold : float
        Samples with ``score >= threshold`` are predicted anomalous.

    Returns
    -------
    PRF
        ``precision``, ``recall``, ``f1`` and the ``threshold`` used.

    Raises
    ------
    ValueError
        On lengths that differ, labels other than 0/1, non-finite scores, no anomaly in
        ``y_true``, or a NaN threshold.

    See Also
    --------
    best_f1 : the threshold that maximises F1.

    Examples
    --------
    >>> from deepad.metrics import f1_at_threshold
    >>> f1_at_threshold([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], threshold=0.4)
    PRF(precision=0.5, recall=0.5, f1=0.5, threshold=0.4)
    """
    y_true, scores = check_labels_and_scores(y_true, scores)
    require_anomaly(y_true, "F1")
    threshold = check_threshold(threshold)
    predicted = scores >= threshold
    tp = int(np.count_nonzero(predicted & (y_true == 1)))
    fp = int(np.count_nonzero(predicted)) - tp
    fn = int(y_true.sum()) - tp
    return PRF.from_counts(tp, fp, fn, threshold)


def best_f1(y_true: ArrayLike, scores: ArrayLike) -> PRF:
    r"""The highest F1 over all thresholds, with the precision and recall there.

    .. math::

        F_1^{*} = \max_{t} \frac{2 P(t) R(t)}{P(t) + R(t)},

    over every distinct score :math:`t` (any other threshold gives the same predictions as
    the next distinct score above it, or none). :math:`P(t)` and :math:`R(t)` come from one
    call to :func:`sklearn.metrics.precision_recall_curve`, so the search is a vectorised
    pass over the sorted scores; F1 is evaluated from the integer counts behind them,
    :math:`2\,tp / (2\,tp + fp + fn)`, so the result equals ``f1_at_threshold`` at the
    returned threshold exactly. When several thresholds reach the maximum, the highest one
    (fewest alarms) is returned.

    Note that the threshold is chosen with the labels: this is an upper bound on what a
    threshold picked without them would reach, convenient for comparing score functions.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        1 for an anomaly, 0 for a normal sample; at least one anomaly.
    scores : array-like of shape (n_samples,)
        Finite anomaly scores, higher = more anomalous.

    Returns
    -------
    PRF
        ``precision``, ``recall`` and ``f1`` at the best ``threshold``.

    Raises
    ------
    ValueError
        On lengths that differ, labels other than 0/1, non-finite scores or no anomaly.

    See Also
    --------
    f1_at_threshold, deepad.metrics.point_adjusted_f1

    Examples
    --------
    >>> from deepad.metrics import best_f1
    >>> best_f1([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    PRF(precision=0.6666666666666666, recall=1.0, f1=0.8, threshold=0.35)
    """
    y_true, scores = check_labels_and_scores(y_true, scores)
    require_anomaly(y_true, "F1")
    precision, recall, thresholds = precision_recall_curve(y_true, scores)
    # The curve's last point (recall 0, precision 1) has no threshold: drop it. Recover the
    # integer counts so that F1 is exact and equal F1 values compare equal.
    precision, recall = precision[:-1], recall[:-1]
    n_anomalies = int(y_true.sum())
    tp = np.rint(recall * n_anomalies)
    predicted = np.rint(np.divide(tp, precision, out=np.ones_like(tp), where=tp > 0))
    f1 = 2 * tp / (predicted + n_anomalies)  # (tp + fp) + (tp + fn)
    # Thresholds increase, so the last maximum is the highest threshold reaching it.
    best = len(f1) - 1 - int(np.argmax(f1[::-1]))
    return PRF.from_counts(int(tp[best]), int(predicted[best] - tp[best]),
                           n_anomalies - int(tp[best]), float(thresholds[best]))
