"""Point adjustment for time-series detection (Xu et al., WWW 2018), and its F1.

A true anomaly segment is a maximal run of consecutive 1s in ``y_true``. Point adjustment
credits a whole segment as detected as soon as one of its timestamps is predicted.

.. warning::

    Point adjustment is optimistic. One hit inflates a whole segment into true positives,
    while false alarms outside segments are never adjusted, so the score rewards a detector
    for firing anywhere inside a long anomaly. A random scorer that flags each timestamp
    with probability :math:`p` detects a segment of length :math:`L` with probability
    :math:`1 - (1 - p)^L`, which is close to 1 for long segments: Kim et al. (AAAI 2022)
    show that random scores reach a point-adjusted F1 at or above published methods on the
    common benchmarks. Report it next to point-wise F1 (:func:`deepad.metrics.best_f1`) or
    range-based metrics (:func:`deepad.metrics.range_precision_recall`), never alone.

References
----------
.. [1] H. Xu et al., "Unsupervised Anomaly Detection via Variational Auto-Encoder for
   Seasonal KPIs in Web Applications" (Donut), WWW 2018, Sec. 3.6 (the adjustment).
.. [2] S. Kim, K. Choi, H.-S. Choi, B. Lee, S. Yoon, "Towards a Rigorous Evaluation of
   Time-Series Anomaly Detection", AAAI 2022.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from deepad.metrics._segments import run_ids, runs
from deepad.metrics._validation import (
    check_labels_and_predictions,
    check_labels_and_scores,
    check_threshold,
    require_anomaly,
)
from deepad.metrics.prf import PRF


def point_adjust(y_true: ArrayLike, y_pred: ArrayLike) -> np.ndarray:
    r"""Point-adjusted predictions: a segment with one predicted timestamp is all predicted.

    For every true anomaly segment :math:`S` (a maximal run of 1s in ``y_true``),

    .. math::

        \hat y^{\mathrm{PA}}_t = \max_{u \in S} \hat y_u \quad \text{for } t \in S,

    and :math:`\hat y^{\mathrm{PA}}_t = \hat y_t` outside the segments. Vectorised: segments
    come from ``np.diff`` of ``y_true``, the hit of each from ``np.maximum.reduceat``.

    **Optimistic** (see the module note and Kim et al., AAAI 2022): one hit turns a whole
    segment into true positives, so a random scorer looks good on long segments.

    Parameters
    ----------
    y_true : array-like of shape (n_timestamps,)
        1 for an anomalous timestamp, 0 for a normal one.
    y_pred : array-like of shape (n_timestamps,)
        Predicted 0/1 labels.

    Returns
    -------
    ndarray of shape (n_timestamps,), dtype int64
        The adjusted predictions (``y_pred`` unchanged outside the true segments).

    Raises
    ------
    ValueError
        On lengths that differ or values other than 0/1.

    See Also
    --------
    point_adjusted_f1

    References
    ----------
    H. Xu et al., "Unsupervised Anomaly Detection via Variational Auto-Encoder for Seasonal
    KPIs in Web Applications", WWW 2018, Sec. 3.6.

    Examples
    --------
    >>> from deepad.metrics import point_adjust
    >>> point_adjust([0, 1, 1, 1, 0, 1, 1], [1, 0, 1, 0, 0, 0, 0])
    array([1, 1, 1, 1, 0, 0, 0])
    """
    y_true, y_pred = check_labels_and_predictions(y_true, y_pred)
    adjusted = y_pred.copy()
    starts, _ = runs(y_true)
    if len(starts) == 0:
        return adjusted
    # y_pred * y_true is 0 between segments, so each reduceat slice's max is its segment's hit.
    hit = np.maximum.reduceat(y_pred * y_true, starts)
    ids = run_ids(y_true)
    inside = ids >= 0
    adjusted[inside] = hit[ids[inside]]
    return adjusted


def point_adjusted_f1(y_true: ArrayLike, scores: ArrayLike,
                      threshold: float | None = None) -> PRF:
    r"""Point-wise precision, recall and F1 after point adjustment.

    With :math:`\hat y_t = [s_t \ge \tau]` adjusted by :func:`point_adjust`, precision and
    recall are counted per timestamp: :math:`F_1 = 2\,tp / (2\,tp + fp + fn)` (0 when
    :math:`tp = 0`; precision 0 when nothing is predicted).

    With ``threshold=None`` the best F1 over all thresholds is returned. Segment :math:`k`
    of length :math:`L_k` is detected exactly when :math:`\tau \le m_k = \max_{t \in S_k} s_t`,
    and each normal timestamp is a false positive when :math:`\tau \le s_t`, so

    .. math::

        tp(\tau) = \sum_k L_k [m_k \ge \tau], \qquad
        fp(\tau) = \sum_{t:\, y_t = 0} [s_t \ge \tau].

    Sorting the segment maxima and the normal scores together and taking cumulative sums
    gives :math:`tp` and :math:`fp` at every candidate threshold in
    :math:`O(n \log n)`. Ties in F1 go to the highest threshold.

    **Optimistic**: one hit credits a whole segment, so a random scorer reaches a high F1
    on long segments (Kim et al., AAAI 2022). Report it next to point-wise
    (:func:`deepad.metrics.best_f1`) or range-based F1, never alone.

    Parameters
    ----------
    y_true : array-like of shape (n_timestamps,)
        1 for an anomalous timestamp, 0 for a normal one; at least one anomaly.
    scores : array-like of shape (n_timestamps,)
        Finite anomaly scores, higher = more anomalous.
    threshold : float, optional
        Timestamps with ``score >= threshold`` are predicted anomalous. ``None`` (default)
        picks the threshold with the best adjusted F1, using the labels.

    Returns
    -------
    PRF
        Adjusted ``precision``, ``recall``, ``f1`` and the ``threshold`` used.

    Raises
    ------
    ValueError
        On lengths that differ, labels other than 0/1, non-finite scores, no anomaly, or a
        NaN threshold.

    See Also
    --------
    point_adjust, deepad.metrics.best_f1, deepad.metrics.range_precision_recall

    References
    ----------
    H. Xu et al., WWW 2018 (Donut), Sec. 3.6; S. Kim et al., "Towards a Rigorous Evaluation
    of Time-Series Anomaly Detection", AAAI 2022.

    Examples
    --------
    One hit at 0.9 detects the whole 3-step segment; the normal timestamp at 0.8 is the
    only false alarm left above that threshold:

    >>> from deepad.metrics import point_adjusted_f1
    >>> point_adjusted_f1([0, 1, 1, 1, 0], [0.8, 0.1, 0.9, 0.2, 0.3])
    PRF(precision=1.0, recall=1.0, f1=1.0, threshold=0.9)
    >>> point_adjusted_f1([0, 1, 1, 1, 0], [0.8, 0.1, 0.9, 0.2, 0.3], threshold=0.5).f1
    0.8571428571428571
    """
    y_true, scores = check_labels_and_scores(y_true, scores)
    require_anomaly(y_true, "point-adjusted F1")
    n_anomalies = int(y_true.sum())
    if threshold is not None:
        threshold = check_threshold(threshold)
        adjusted = point_adjust(y_true, scores >= threshold)
        tp = int(np.count_nonzero(adjusted & y_true))
        fp = int(np.count_nonzero(adjusted)) - tp
        return PRF.from_counts(tp, fp, n_anomalies - tp, threshold)

    starts, ends = runs(y_true)
    segment_max = np.maximum.reduceat(np.where(y_true == 1, scores, -np.inf), starts)
    normal_scores = scores[y_true == 0]
    # One item per segment (worth its length in tp) and per normal timestamp (worth 1 fp).
    item_scores = np.concatenate((segment_max, normal_scores))
    item_tp = np.concatenate((ends - starts, np.zeros(len(normal_scores), dtype=np.int64)))
    item_fp = np.concatenate((np.zeros(len(starts), dtype=np.int64),
                              np.ones(len(normal_scores), dtype=np.int64)))
    order = np.argsort(-item_scores, kind="stable")
    item_scores = item_scores[order]
    tp, fp = np.cumsum(item_tp[order]), np.cumsum(item_fp[order])
    # Only the last item of each group of equal scores is a threshold's full prediction set.
    last = np.flatnonzero(np.append(item_scores[1:] != item_scores[:-1], True))
    tp, fp, candidates = tp[last], fp[last], item_scores[last]
    f1 = 2 * tp / (2 * tp + fp + (n_anomalies - tp))
    best = int(np.argmax(f1))  # candidates decrease: the first maximum is the highest one
    return PRF.from_counts(int(tp[best]), int(fp[best]), n_anomalies - int(tp[best]),
                           float(candidates[best]))
